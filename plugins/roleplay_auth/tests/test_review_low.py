"""Issue 13, findings 10 and 13 (auth parts): anonymous requests cannot grow storage without bound,
emails and names refuse invisible controls, a disabled account answers like a wrong password.

Test home of ``roleplay_auth.emails``.
"""

from __future__ import annotations

import time

import pytest
from auth_helpers import PASSWORD, bearer, login, oidc_settings, register
from starlette.testclient import TestClient

from roleplay_core.testing import make_app

ADMIN = {"auth.bootstrap_admin.email": "root@example.com", "auth.bootstrap_admin.password": PASSWORD}


def test_a_failed_login_keeps_at_most_254_characters_of_the_email_in_the_audit_log():
    with TestClient(make_app(ADMIN)) as client:
        huge = "a" * 900_000 + "@example.com"
        assert client.post("/auth/login", json={"email": huge, "password": "whatever 12"}).status_code == 401
        root = login(client, "root@example.com")
        events = client.get("/users/audit", headers=bearer(root)).json()["items"]
        failed = [e for e in events if e["type"] == "login.failed"]
        assert len(failed) == 1 and len(failed[0]["data"]["email"]) <= 255
        assert failed[0]["data"]["email"].startswith("aaaa")


def test_oauth_sign_in_starts_are_limited_per_address_and_expire(provider):
    settings = oidc_settings("acme", provider, **{"auth.oauth_per_address.max": 5, "auth.oauth_state_ttl": 1,
                                                  "auth.oauth_prune_seconds": 0.5})
    app = make_app(settings)
    storage = app.state.kernel.storage
    with TestClient(app) as client:
        for _ in range(5):
            assert client.get("/auth/oauth/acme/login", follow_redirects=False).status_code == 302
        refused = client.get("/auth/oauth/acme/login", follow_redirects=False)
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
        # callbacks with made-up states count too: each failure writes an audit event
        assert client.get("/auth/oauth/acme/callback?state=x&code=y").status_code == 429
        other = TestClient(app, client=("198.51.100.1", 1))
        assert other.get("/auth/oauth/acme/login", follow_redirects=False).status_code == 302
        assert len(client.portal.call(storage.list_all, "auth/oauth/pending/")) == 6
        # the pending records expire (auth.oauth_state_ttl) and each server sweeps them away
        deadline = time.monotonic() + 10
        while client.portal.call(storage.list_all, "auth/oauth/pending/") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert client.portal.call(storage.list_all, "auth/oauth/pending/") == []


@pytest.mark.parametrize("email", ["a\u0000b@example.com", "esc\u001b[2J@example.com", "ann\u202e@example.com",
                                   "zero\u200bwidth@example.com", "bom\ufeff@example.com", "x\u0085y@example.com"])
def test_emails_with_control_or_invisible_characters_are_refused(email):
    with TestClient(make_app()) as client:
        response = client.post("/auth/register", json={"email": email, "password": PASSWORD, "display_name": "X"})
        assert response.status_code == 422, (repr(email), response.text)
        assert response.json()["errors"][0]["field"] == "email"


@pytest.mark.parametrize("name", ["evil\u202egnp.exe", "\u2066isolate\u2069", "zero\u200bwidth", "a\u200eb",
                                  "\ufeffbom", "word\u2060joiner", "arabic\u061cmark"])
def test_display_names_refuse_bidi_and_zero_width_controls(name):
    with TestClient(make_app()) as client:
        pair = register(client, "ann@example.com")
        response = client.patch("/users/me", json={"display_name": name}, headers=bearer(pair))
        assert response.status_code == 422, (repr(name), response.text)
        assert response.json()["errors"][0]["field"] == "display_name"
        refused = client.post("/auth/register", json={"email": "bob@example.com", "password": PASSWORD,
                                                      "display_name": name})
        assert refused.status_code == 422
        # emoji sequences joined by ZWJ and Persian text with ZWNJ are names, not tricks
        for fine in ("Family \U0001F468\u200d\U0001F469\u200d\U0001F467", "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"):
            assert client.patch("/users/me", json={"display_name": fine}, headers=bearer(pair)).status_code == 200


def test_a_disabled_account_answers_the_right_password_like_a_wrong_one():
    with TestClient(make_app(ADMIN)) as client:
        root = login(client, "root@example.com")
        pair = register(client, "leaver@example.com")
        assert client.patch(f"/users/{pair['user']['id']}", json={"disabled": True},
                            headers=bearer(root)).status_code == 200
        right = client.post("/auth/login", json={"email": "leaver@example.com", "password": PASSWORD})
        wrong = client.post("/auth/login", json={"email": "leaver@example.com", "password": "not it at all"})
        assert right.status_code == wrong.status_code == 401
        assert right.json()["detail"] == wrong.json()["detail"]
        assert right.headers.get("www-authenticate") == wrong.headers.get("www-authenticate")


def test_a_provider_email_with_invisible_characters_is_not_taken(provider):
    from auth_helpers import browser_sign_in

    provider.user = {"sub": "eve-1", "email": "alice\u202e@example.com", "email_verified": True, "name": "Eve"}
    with TestClient(make_app(oidc_settings("acme", provider))) as client:
        register(client, "alice@example.com")
        response, _ = browser_sign_in(client, "acme", provider)
        assert response.status_code == 200, response.text
        assert response.json()["account"] == "created" and response.json()["user"]["email"] is None
