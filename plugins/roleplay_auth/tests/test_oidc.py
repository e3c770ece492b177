"""The OAuth/OIDC flow against a real OIDC provider on loopback (Authlib server components).

Test home of ``roleplay_auth.oidc``.
"""

from __future__ import annotations

import hashlib
import json
from urllib.parse import parse_qs, urlsplit

import httpx
from auth_helpers import PASSWORD, bearer, browser_sign_in, oidc_settings, register, start_provider
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from starlette.testclient import TestClient

from roleplay_core.testing import make_app

ALICE = {"sub": "alice-1", "email": "Alice@Example.com", "email_verified": True, "name": "Alice Liddell"}


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_sign_in_creates_then_finds_the_account(provider):
    provider.user = dict(ALICE)
    with TestClient(make_app(oidc_settings("acme", provider))) as client:
        listed = {p["name"]: p for p in client.get("/auth/providers").json()["items"]}
        assert listed["acme"] == {"name": "acme", "display_name": "Acme", "kind": "redirect",
                                  "login_url": "/auth/oauth/acme/login"}
        response, _ = browser_sign_in(client, "acme", provider)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["account"] == "created"
        assert body["user"]["email"] == "alice@example.com" and body["user"]["display_name"] == "Alice Liddell"
        assert body["token_type"] == "Bearer"
        assert response.headers["cache-control"] == "no-store"
        me = client.get("/users/me", headers=bearer(body)).json()
        assert [m["provider"] for m in me["auth_methods"]] == ["acme"]
        again, _ = browser_sign_in(client, "acme", provider)
        assert again.json()["account"] == "existing" and again.json()["user"]["id"] == body["user"]["id"]
        assert client.post("/auth/refresh", json={"refresh_token": again.json()["refresh_token"]}).status_code == 200
        # discovery and JWKS were fetched over HTTP, then cached
        assert provider.discovery_hits == 1 and provider.jwks_hits == 1


def test_authorization_request_uses_pkce_s256_state_and_nonce(provider):
    provider.user = dict(ALICE)
    with TestClient(make_app(oidc_settings("acme", provider))) as client:
        start = client.get("/auth/oauth/acme/login", follow_redirects=False)
        assert start.status_code == 302
        params = query(start.headers["location"])
        assert params["response_type"] == "code" and params["client_id"] == "acme-client"
        assert params["redirect_uri"] == "http://localhost/auth/oauth/acme/callback"
        assert params["code_challenge_method"] == "S256"
        assert len(params["state"]) >= 32 and len(params["nonce"]) >= 32
        assert set(params["scope"].split()) == {"openid", "email", "profile"}
        back = httpx.get(start.headers["location"], follow_redirects=False).headers["location"]
        response = client.get(back.removeprefix("http://localhost"))
        assert response.status_code == 200, response.text
        sent = provider.token_requests[-1]
        assert sent["grant_type"] == "authorization_code"
        assert create_s256_code_challenge(sent["code_verifier"]) == params["code_challenge"]


def test_pkce_is_enforced_end_to_end(provider):
    provider.user = dict(ALICE)
    app = make_app(oidc_settings("acme", provider))
    with TestClient(app) as client:
        start = client.get("/auth/oauth/acme/login", follow_redirects=False)
        state = query(start.headers["location"])["state"]
        # swap the verifier kept for this sign-in: the provider must refuse the code
        key = f"auth/oauth/pending/{hashlib.sha256(state.encode()).hexdigest()}"
        storage = app.state.kernel.storage
        pending = json.loads(client.portal.call(storage.get, key).data)
        pending["code_verifier"] = "x" * 64
        client.portal.call(lambda: storage.put(key, json.dumps(pending).encode()))
        back = httpx.get(start.headers["location"], follow_redirects=False).headers["location"]
        response = client.get(back.removeprefix("http://localhost"))
        assert response.status_code == 401, response.text
        assert "code exchange" in response.json()["detail"]
    # and the provider refuses an authorization request without a challenge at all
    plain = httpx.get(f"{provider.issuer}/authorize", params={
        "response_type": "code", "client_id": "acme-client", "scope": "openid",
        "redirect_uri": "http://localhost/auth/oauth/acme/callback", "state": "s", "nonce": "n"},
        follow_redirects=False)
    refused = plain.json()
    assert refused["error"] == "invalid_request" and "code_challenge" in refused["error_description"]


def test_public_client_without_secret_signs_in_with_pkce_alone():
    public = start_provider("pub", client_secret="")
    try:
        public.user = dict(ALICE)
        with TestClient(make_app(oidc_settings("pub", public))) as client:
            response, _ = browser_sign_in(client, "pub", public)
            assert response.status_code == 200, response.text
            sent = public.token_requests[-1]
            assert sent["client_id"] == "pub-client" and "client_secret" not in sent and sent["code_verifier"]
    finally:
        public.stop()


def test_bad_state_and_replayed_callback_are_refused(provider):
    provider.user = dict(ALICE)
    with TestClient(make_app(oidc_settings("acme", provider))) as client:
        assert client.get("/auth/oauth/acme/callback?state=forged&code=abc").status_code == 400
        assert client.get("/auth/oauth/acme/callback?code=abc").status_code == 400
        response, back = browser_sign_in(client, "acme", provider)
        assert response.status_code == 200
        replay = client.get(back.removeprefix("http://localhost"))
        assert replay.status_code == 400
        assert replay.headers["content-type"].startswith("application/problem+json")
        assert client.get("/auth/oauth/nope/login").status_code == 404
        assert client.get("/auth/oauth/local/login").status_code == 404


def test_replayed_nonce_is_refused(provider):
    provider.user = dict(ALICE)
    with TestClient(make_app(oidc_settings("acme", provider))) as client:
        first, _ = browser_sign_in(client, "acme", provider)
        assert first.status_code == 200
        # the provider (or an attacker in the middle) answers a new sign-in with an id_token
        # minted for the earlier one: its nonce does not match this sign-in's
        provider.nonce_override = provider.authorize_requests[0]["nonce"]
        second, _ = browser_sign_in(client, "acme", provider)
        assert second.status_code == 401, second.text
        assert "nonce" in second.json()["detail"]


def test_id_token_not_signed_by_the_jwks_is_refused(provider):
    provider.user = dict(ALICE)
    with TestClient(make_app(oidc_settings("acme", provider))) as client:
        provider.sign_with_rogue_key = True
        response, _ = browser_sign_in(client, "acme", provider)
        assert response.status_code == 401, response.text
        assert "id_token" in response.json()["detail"]
        assert provider.jwks_hits == 2  # a failure refetches the JWKS once (key rotation), then refuses
        provider.sign_with_rogue_key = False
        assert browser_sign_in(client, "acme", provider)[0].status_code == 200


def test_provider_error_is_reported(provider):
    provider.user = dict(ALICE)
    with TestClient(make_app(oidc_settings("acme", provider))) as client:
        start = client.get("/auth/oauth/acme/login", follow_redirects=False)
        state = query(start.headers["location"])["state"]
        response = client.get(f"/auth/oauth/acme/callback?state={state}&error=access_denied")
        assert response.status_code == 401 and "access_denied" in response.json()["detail"]


def test_unverified_email_is_not_linked_to_an_existing_account(provider):
    with TestClient(make_app(oidc_settings("acme", provider))) as client:
        local = register(client, "alice@example.com")
        provider.user = {**ALICE, "email_verified": False}
        response, _ = browser_sign_in(client, "acme", provider)
        assert response.status_code == 409, response.text
        methods = client.get("/users/me/auth-methods", headers=bearer(local)).json()["items"]
        assert [m["id"] for m in methods] == ["password"]
        # once the provider vouches for the email, the sign-in links to the same account
        provider.user = dict(ALICE)
        linked, _ = browser_sign_in(client, "acme", provider)
        assert linked.status_code == 200 and linked.json()["account"] == "linked"
        assert linked.json()["user"]["id"] == local["user"]["id"]
        methods = client.get("/users/me/auth-methods", headers=bearer(local)).json()["items"]
        assert [m["provider"] for m in methods] == ["local", "acme"]
        # remove the password; the external method is then the last one and stays
        assert client.delete("/users/me/auth-methods/password", headers=bearer(local)).status_code == 204
        assert client.post("/auth/login", json={"email": "alice@example.com", "password": PASSWORD}
                           ).status_code == 401
        assert client.delete(f"/users/me/auth-methods/{methods[1]['id']}", headers=bearer(local)).status_code == 409


def test_unverified_email_without_an_account_creates_one_without_claiming_the_email(provider):
    provider.user = {"sub": "bob-7", "email": "bob@example.com", "email_verified": False, "name": "Bob"}
    with TestClient(make_app(oidc_settings("acme", provider))) as client:
        response, _ = browser_sign_in(client, "acme", provider)
        assert response.status_code == 200 and response.json()["user"]["email"] is None
        register(client, "bob@example.com")  # the real owner of the address can still register it


def test_two_providers_at_once_link_to_one_account():
    acme, globex = start_provider("acme"), start_provider("globex")
    try:
        settings = {**oidc_settings("acme", acme), **oidc_settings("globex", globex)}
        acme.user = dict(ALICE)
        globex.user = {"sub": "g-99", "email": "alice@example.com", "email_verified": True, "name": "A. L."}
        with TestClient(make_app(settings)) as client:
            names = [p["name"] for p in client.get("/auth/providers").json()["items"]]
            assert names == ["acme", "globex", "local"]
            first, _ = browser_sign_in(client, "acme", acme)
            second, _ = browser_sign_in(client, "globex", globex)
            assert first.json()["account"] == "created" and second.json()["account"] == "linked"
            assert first.json()["user"]["id"] == second.json()["user"]["id"]
            methods = client.get("/users/me/auth-methods", headers=bearer(second.json())).json()["items"]
            assert sorted(m["provider"] for m in methods) == ["acme", "globex"]
            # a state from one provider cannot finish at the other
            start = client.get("/auth/oauth/acme/login", follow_redirects=False)
            state = query(start.headers["location"])["state"]
            assert client.get(f"/auth/oauth/globex/callback?state={state}&code=x").status_code == 400
    finally:
        acme.stop()
        globex.stop()


def test_frontend_redirect_carries_tokens_in_the_fragment_only(provider):
    provider.user = dict(ALICE)
    settings = oidc_settings("acme", provider, **{"auth.oauth_frontend_redirect": "http://localhost:3000/signed-in"})
    with TestClient(make_app(settings)) as client:
        response, _ = browser_sign_in(client, "acme", provider)
        assert response.status_code == 302
        location = response.headers["location"]
        before, _, fragment = location.partition("#")
        assert before == "http://localhost:3000/signed-in" and "?" not in before
        tokens = {k: v[0] for k, v in parse_qs(fragment).items()}
        assert client.get("/auth/me", headers=bearer(tokens["access_token"])).status_code == 200
        assert client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).status_code == 200


def test_registration_off_blocks_new_external_accounts_but_not_existing_ones(provider):
    provider.user = dict(ALICE)
    with TestClient(make_app(oidc_settings("acme", provider, **{"auth.registration.enabled": False}))) as client:
        response, _ = browser_sign_in(client, "acme", provider)
        assert response.status_code == 403


def test_disabled_account_cannot_sign_in_externally(provider):
    provider.user = dict(ALICE)
    settings = oidc_settings("acme", provider, **{"auth.bootstrap_admin.email": "root@example.com",
                                                  "auth.bootstrap_admin.password": PASSWORD})
    with TestClient(make_app(settings)) as client:
        first, _ = browser_sign_in(client, "acme", provider)
        root = client.post("/auth/login", json={"email": "root@example.com", "password": PASSWORD}).json()
        client.patch(f"/users/{first.json()['user']['id']}", json={"disabled": True}, headers=bearer(root))
        assert browser_sign_in(client, "acme", provider)[0].status_code == 403


def test_external_only_account_can_add_a_password_without_a_current_one(provider):
    provider.user = dict(ALICE)
    with TestClient(make_app(oidc_settings("acme", provider))) as client:
        signed_in, _ = browser_sign_in(client, "acme", provider)
        pair = signed_in.json()
        weak = client.post("/users/me/password", json={"new_password": "alice@example.com"}, headers=bearer(pair))
        assert weak.status_code == 422 and weak.json()["errors"][0]["field"] == "new_password"
        added = client.post("/users/me/password", json={"new_password": PASSWORD}, headers=bearer(pair))
        assert added.status_code == 200, added.text
        methods = client.get("/users/me/auth-methods", headers=bearer(added.json())).json()["items"]
        assert [m["provider"] for m in methods] == ["local", "acme"]
        assert client.post("/auth/login", json={"email": "alice@example.com", "password": PASSWORD}
                           ).status_code == 200
        # now that a password exists, changing it needs the current one
        again = client.post("/users/me/password", json={"new_password": PASSWORD + "!"}, headers=bearer(added.json()))
        assert again.status_code == 422 and again.json()["errors"][0]["field"] == "current_password"
