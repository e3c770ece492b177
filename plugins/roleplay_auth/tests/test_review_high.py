"""Issue 13, finding 1: a stolen access token must not become a permanent takeover.

Test home of ``roleplay_auth.reauth``.
"""

from __future__ import annotations

import time

import jwt
from auth_helpers import PASSWORD, bearer, browser_sign_in, login, oidc_settings, register
from starlette.testclient import TestClient

from roleplay_core.testing import make_app

ALICE = {"sub": "alice-1", "email": "alice@example.com", "email_verified": True, "name": "Alice"}


def stolen(app, user_id: str, signed_in_ago: int = 3600) -> dict[str, str]:
    """What a thief holds: a valid access token whose sign-in was ``signed_in_ago`` seconds ago."""
    token = app.state.kernel.tokens.issue(user_id, ("user",), extra={"auth_time": int(time.time()) - signed_in_ago})
    return bearer(token)


def refused_for_reauth(response) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["code"] == "reauthentication_required"
    assert 'error="insufficient_user_authentication"' in response.headers["www-authenticate"]


def test_stolen_token_cannot_remove_the_password_set_a_new_one_or_delete_the_account(provider):
    provider.user = dict(ALICE)
    app = make_app(oidc_settings("acme", provider))
    with TestClient(app) as client:
        local = register(client, "alice@example.com")
        user_id = local["user"]["id"]
        assert browser_sign_in(client, "acme", provider)[0].json()["account"] == "linked"
        thief = stolen(app, user_id)

        refused_for_reauth(client.delete("/users/me/auth-methods/password", headers=thief))
        wrong = client.request("DELETE", "/users/me/auth-methods/password", headers=thief,
                               json={"current_password": "not the password at all"})
        assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "current_password"
        refused_for_reauth(client.delete("/users/me", headers=thief))
        # nothing changed: the owner still signs in with the password and the account is there
        assert login(client, "alice@example.com")["access_token"]
        methods = client.get("/users/me/auth-methods", headers=thief).json()["items"]
        assert [m["id"] for m in methods][0] == "password"

        # the owner proves it with the current password in the body
        removed = client.request("DELETE", "/users/me/auth-methods/password", headers=thief,
                                 json={"current_password": PASSWORD})
        assert removed.status_code == 204, removed.text
        # a password-less account: setting a password needs a fresh provider sign-in, not an old token
        refused_for_reauth(client.post("/users/me/password", json={"new_password": PASSWORD + " new"},
                                       headers=thief))
        fresh = browser_sign_in(client, "acme", provider)[0].json()
        added = client.post("/users/me/password", json={"new_password": PASSWORD + " new"}, headers=bearer(fresh))
        assert added.status_code == 200, added.text
        # a token whose sign-in is a minute old is still recent enough (auth.reauth_max_age = 300)
        assert client.delete("/users/me", headers=stolen(app, user_id, signed_in_ago=60)).status_code == 204


def test_refresh_keeps_the_sign_in_time_so_it_never_counts_as_re_authentication():
    app = make_app({"auth.reauth_max_age": 300})
    with TestClient(app) as client:
        pair = register(client, "bob@example.com")
        first = jwt.decode(pair["access_token"], options={"verify_signature": False})
        assert abs(first["auth_time"] - time.time()) < 5
        time.sleep(1.1)
        again = client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]}).json()
        claims = jwt.decode(again["access_token"], options={"verify_signature": False})
        assert claims["auth_time"] == first["auth_time"] and claims["iat"] > first["iat"]
        # a refreshed chain whose sign-in is old is refused; the stored family keeps that time
        old = {"auth.reauth_max_age": 1}
        with TestClient(make_app(old)) as other:
            pair = register(other, "carol@example.com")
            time.sleep(2.1)
            refreshed = other.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]}).json()
            refused_for_reauth(other.delete("/users/me", headers=bearer(refreshed)))
            assert other.request("DELETE", "/users/me", headers=bearer(refreshed),
                                 json={"current_password": PASSWORD}).status_code == 204


def test_a_provider_sso_session_is_not_a_fresh_sign_in_but_reauth_true_is(provider):
    import httpx

    provider.user = dict(ALICE)
    provider.signed_in_at = int(time.time()) - 3600  # signed in at the provider an hour ago
    app = make_app(oidc_settings("acme", provider))
    with TestClient(app) as client:
        old = browser_sign_in(client, "acme", provider)[0].json()
        assert jwt.decode(old["access_token"], options={"verify_signature": False})["auth_time"] <= time.time() - 3500
        refused_for_reauth(client.delete("/users/me", headers=bearer(old)))
        # the client sends the person through the provider again, asking for a real sign-in
        start = client.get("/auth/oauth/acme/login?reauth=true", follow_redirects=False)
        assert "prompt=login" in start.headers["location"] and "max_age=0" in start.headers["location"]
        back = httpx.get(start.headers["location"], follow_redirects=False).headers["location"]
        fresh = client.get(back.removeprefix("http://localhost"), follow_redirects=False).json()
        assert client.delete("/users/me", headers=bearer(fresh)).status_code == 204
