"""Issue 13, finding 2: an OAuth sign-in finishes only in the browser that started it (login CSRF)."""

from __future__ import annotations

import httpx
from auth_helpers import oidc_settings
from starlette.testclient import TestClient

from roleplay_core.testing import make_app

MALLORY = {"sub": "mallory-1", "email": "mallory@example.com", "email_verified": True, "name": "Mallory"}


def test_a_callback_opened_in_another_browser_is_refused(provider):
    provider.user = dict(MALLORY)
    app = make_app(oidc_settings("acme", provider))
    with TestClient(app) as attacker, TestClient(app) as victim:
        # the attacker starts a sign-in and signs in at the provider as themself...
        start = attacker.get("/auth/oauth/acme/login", follow_redirects=False)
        assert start.status_code == 302
        cookie = start.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "path=/auth/oauth/acme/callback" in cookie
        back = httpx.get(start.headers["location"], follow_redirects=False).headers["location"]
        path = back.removeprefix("http://localhost")
        # ...then makes the victim's browser open the callback: refused, nothing signed in
        forced = victim.get(path, follow_redirects=False)
        assert forced.status_code == 400, forced.text
        assert forced.headers["content-type"].startswith("application/problem+json")
        assert forced.json()["code"] == "oauth_browser_mismatch"
        assert "access_token" not in forced.text
        # a cookie from another sign-in of the victim's own does not match the attacker's state either
        victim.get("/auth/oauth/acme/login", follow_redirects=False)
        assert victim.get(path, follow_redirects=False).status_code == 400
        # the browser that started the flow finishes it (the state was not spent by the refusals)
        own = attacker.get(path, follow_redirects=False)
        assert own.status_code == 200, own.text
        assert own.json()["user"]["email"] == "mallory@example.com"
        assert 'roleplay_oauth_state=""' in own.headers["set-cookie"] or "max-age=0" in own.headers["set-cookie"].lower()
