"""Settings rules per environment, the bootstrap admin, and the Google preset.

Test home of ``roleplay_auth.plugin``.
"""

from __future__ import annotations

import pytest
from auth_helpers import PASSWORD, bearer, login
from roleplay_auth import config
from starlette.testclient import TestClient

from roleplay_core import SettingsError
from roleplay_core.testing import make_app, make_kernel

# Random, not a run of characters: the strength check estimates entropy (issue 13, finding 13).
STRONG = {"security.jwt_secret": "Vq7Zr2Lw9Xk4Tn8Bm1Hc6Jd3Fp0Sy5Ge-Ua_Ko"}
GOOGLE_ON = {"auth.oidc.google.client_id": "123.apps.googleusercontent.com", "auth.oidc.google.client_secret": "s"}


def test_production_starts_with_https_settings():
    kernel = make_kernel({**STRONG, **GOOGLE_ON, "auth.oauth_redirect_base": "https://roleplay.example.org",
                          "auth.oauth_frontend_redirect": "https://app.example.org/signed-in"}, env="production")
    assert config.problems(kernel.settings) == []
    assert "google" in config.enabled_oidc(kernel.settings)


@pytest.mark.parametrize("overrides, key", [
    ({**GOOGLE_ON}, "auth.oauth_redirect_base must be set"),
    ({**GOOGLE_ON, "auth.oauth_redirect_base": "http://localhost:8000"}, "auth.oauth_redirect_base"),
    ({"auth.oauth_frontend_redirect": "http://localhost:3000/cb"}, "auth.oauth_frontend_redirect"),
    ({"auth.oidc.corp.client_id": "c", "auth.oidc.corp.discovery_url": "http://idp.example.org/.well-known/x",
      "auth.oauth_redirect_base": "https://r.example.org"}, "auth.oidc.corp.discovery_url"),
    ({"auth.oidc.corp.client_id": "c", "auth.oauth_redirect_base": "https://r.example.org"},
     "auth.oidc.corp.discovery_url must be set"),
    ({"auth.bootstrap_admin.email": "root@example.com", "auth.bootstrap_admin.password": PASSWORD},
     "auth.bootstrap_admin"),
    ({"auth.password.argon2.memory_cost": 4096}, "auth.password.argon2.memory_cost"),
    ({"auth.password.min_length": 4}, "auth.password.min_length"),
])
def test_production_refuses(overrides, key):
    with pytest.raises(SettingsError) as raised:
        make_kernel({**STRONG, **overrides}, env="production")
    assert key in str(raised.value)


def test_beta_refuses_the_bootstrap_admin_and_http_too():
    with pytest.raises(SettingsError, match="auth.bootstrap_admin"):
        make_kernel({**STRONG, "auth.bootstrap_admin.email": "a@example.com"}, env="beta")
    with pytest.raises(SettingsError, match="auth.oauth_redirect_base"):
        make_kernel({**STRONG, **GOOGLE_ON, "auth.oauth_redirect_base": "http://127.0.0.1:8000"}, env="beta")


def test_development_allows_localhost_only():
    ok = make_kernel({**GOOGLE_ON, "auth.oauth_redirect_base": "http://localhost:8000"})
    assert config.problems(ok.settings) == []
    assert ok.settings.get("auth.oauth_redirect_base") == "http://localhost:8000"  # the development default
    other = make_kernel({**GOOGLE_ON, "auth.oauth_redirect_base": "http://dev.example.org"})
    assert any("auth.oauth_redirect_base" in p for p in config.problems(other.settings))


def test_google_preset_defaults():
    kernel = make_kernel()
    google = kernel.settings.get("auth.oidc.google")
    assert google["discovery_url"] == "https://accounts.google.com/.well-known/openid-configuration"
    assert google["scopes"] == ["openid", "email", "profile"] and google["client_id"] == ""
    assert config.enabled_oidc(kernel.settings) == {}
    assert config.scopes_of("email profile") == ["openid", "email", "profile"]
    assert config.scopes_of("openid,email") == ["openid", "email"]


def test_bootstrap_admin_in_development_is_created_once(tmp_path):
    settings = {"storage.backend": "file", "storage.file.root": str(tmp_path), "storage.file.fsync": False,
                "auth.bootstrap_admin.email": "Root@Example.com", "auth.bootstrap_admin.password": PASSWORD}
    with TestClient(make_app(settings)) as client:
        root = login(client, "root@example.com")
        me = client.get("/users/me", headers=bearer(root)).json()
        assert me["roles"] == ["admin"]
    with TestClient(make_app(settings)) as client:  # a restart does not duplicate or reset it
        again = login(client, "root@example.com")
        assert client.get("/users/me", headers=bearer(again)).json()["id"] == me["id"]
        assert len(client.get("/users", headers=bearer(again)).json()["items"]) == 1


def test_no_default_admin_without_settings():
    with TestClient(make_app()) as client:
        response = client.post("/auth/login", json={"email": "root@example.com", "password": PASSWORD})
        assert response.status_code == 401
