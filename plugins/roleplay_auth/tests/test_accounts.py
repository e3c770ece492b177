"""Register, login, refresh, logout, me, providers: end to end over HTTP.

Test home of ``roleplay_auth.auth_routes``, ``roleplay_auth.bodies``, ``roleplay_auth.service``.
"""

from __future__ import annotations

import json

import pytest
from auth_helpers import PASSWORD, bearer, login, register
from roleplay_auth.passwords import make_hasher
from starlette.testclient import TestClient

from roleplay_core import SettingsError
from roleplay_core.testing import make_app, make_kernel


def problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return response.json()


def fields(body: dict) -> set[str]:
    return {e["field"] for e in body.get("errors", [])}


def test_register_returns_user_and_token_pair_and_normalises_email():
    with TestClient(make_app()) as client:
        body = register(client, "  Ann.Lee@Example.COM ", name="  Ann   Lee ", preferred_language="pt-BR")
        assert body["user"]["email"] == "ann.lee@example.com"
        assert body["user"]["display_name"] == "Ann Lee"
        assert body["user"]["preferred_language"] == "pt-BR"
        assert body["user"]["roles"] == ["user"]
        assert "password_hash" not in body["user"]
        assert body["token_type"] == "Bearer" and body["expires_in"] == 900
        assert body["refresh_token"] and body["access_token"]
        me = client.get("/auth/me", headers=bearer(body))
        assert me.status_code == 200
        assert me.json()["id"] == body["user"]["id"]
        # the other spelling of the same address is the same account
        again = client.post("/auth/register", json={"email": "ann.lee@example.com", "password": PASSWORD,
                                                    "display_name": "Other"})
        assert "email" in fields(problem(again, 409))
        assert login(client, "ANN.LEE@example.com ")["access_token"]


def test_register_validation_names_the_field():
    with TestClient(make_app()) as client:
        cases = [
            ({"email": "not-an-email", "password": PASSWORD, "display_name": "X"}, "email"),
            ({"email": "a@example.com", "password": "short", "display_name": "X"}, "password"),
            ({"email": "a@example.com", "password": "password123", "display_name": "X"}, "password"),
            ({"email": "somebody@example.com", "password": "Somebody-rocks-99", "display_name": "X"}, "password"),
            ({"email": "a@example.com", "password": PASSWORD, "display_name": "   "}, "display_name"),
            ({"email": "a@example.com", "password": PASSWORD, "display_name": "X", "preferred_language": "x y"},
             "preferred_language"),
            ({"email": "a@example.com", "password": 12345678901, "display_name": "X"}, "password"),
            ({"email": "a@example.com", "display_name": "X"}, "password"),
            ({"email": "a@example.com", "password": PASSWORD, "display_name": "a\u0000b"}, "display_name"),
            ({"email": "a@example.com", "password": PASSWORD, "display_name": "a\u001fb"}, "display_name"),
            ({"email": "a@example.com", "password": PASSWORD, "display_name": "red\u001b[31m"}, "display_name"),
            ({"email": "a@example.com", "password": PASSWORD, "display_name": "del\u007f"}, "display_name"),
            ({"email": "a@example.com", "password": PASSWORD, "display_name": "c1\u0085"}, "display_name"),
        ]
        for body, field in cases:
            assert field in fields(problem(client.post("/auth/register", json=body), 422)), body
        assert problem(client.post("/auth/register", content=b"{", headers={"content-type": "application/json"}),
                       400)
        assert problem(client.post("/auth/register", content=b"x", headers={"content-type": "text/plain"}), 415)


def test_common_password_list_is_refused_case_insensitively():
    with TestClient(make_app()) as client:
        response = client.post("/auth/register", json={"email": "b@example.com", "password": "QwertyUiop123",
                                                       "display_name": "B"})
        body = problem(response, 422)
        assert any("common" in e["message"] for e in body["errors"])


def test_registration_can_be_switched_off():
    with TestClient(make_app({"auth.registration.enabled": False})) as client:
        response = client.post("/auth/register", json={"email": "c@example.com", "password": PASSWORD,
                                                       "display_name": "C"})
        problem(response, 403)
        assert client.get("/auth/providers").json()["registration_enabled"] is False


def test_login_wrong_password_and_unknown_email_answer_the_same():
    with TestClient(make_app()) as client:
        register(client, "d@example.com")
        wrong = client.post("/auth/login", json={"email": "d@example.com", "password": "not the password!"})
        unknown = client.post("/auth/login", json={"email": "nobody@example.com", "password": "not the password!"})
        assert problem(wrong, 401)["detail"] == problem(unknown, 401)["detail"]
        assert problem(client.post("/auth/login", json={"email": "d@example.com"}), 422)


def test_refresh_rotates_and_logout_ends_the_family():
    with TestClient(make_app()) as client:
        first = register(client, "e@example.com")
        second = client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert second.status_code == 200, second.text
        second = second.json()
        assert second["refresh_token"] != first["refresh_token"]
        assert client.get("/auth/me", headers=bearer(second)).status_code == 200
        third = client.post("/auth/refresh", json={"refresh_token": second["refresh_token"]}).json()
        assert client.post("/auth/logout", json={"refresh_token": third["refresh_token"]}).status_code == 204
        problem(client.post("/auth/refresh", json={"refresh_token": third["refresh_token"]}), 401)
        # logout of an unknown token is quietly accepted (nothing to reveal), a bad body is not
        assert client.post("/auth/logout", json={"refresh_token": "nope"}).status_code == 204
        assert "refresh_token" in fields(problem(client.post("/auth/logout", json={}), 422))
        problem(client.post("/auth/refresh", json={"refresh_token": "made-up"}), 401)


def test_refresh_token_is_stored_hashed():
    app = make_app()
    with TestClient(app) as client:
        pair = register(client, "f@example.com")
        storage = app.state.kernel.storage
        keys = client.portal.call(storage.list_all, "auth/")
        blobs = [client.portal.call(storage.get, key).data for key in keys]
        assert not any(pair["refresh_token"].encode() in blob for blob in blobs)
        assert not any(pair["refresh_token"] in key for key in keys)
        assert not any(PASSWORD.encode() in blob for blob in blobs)
        users = [json.loads(b) for k, b in zip(keys, blobs, strict=True) if k.startswith("auth/users/")]
        assert users[0]["password_hash"].startswith("$argon2id$v=19$m=19456,t=2,p=1$")


def test_providers_lists_local_only_by_default_and_google_once_configured():
    with TestClient(make_app()) as client:
        listed = client.get("/auth/providers").json()["items"]
        assert [p["name"] for p in listed] == ["local"]
    app = make_app({"auth.oidc.google.client_id": "123.apps.googleusercontent.com"})
    assert app.state.kernel.settings.get("auth.oidc.google.discovery_url") == \
        "https://accounts.google.com/.well-known/openid-configuration"
    with TestClient(app) as client:
        listed = {p["name"]: p for p in client.get("/auth/providers").json()["items"]}
        assert listed["google"] == {"name": "google", "display_name": "Google", "kind": "redirect",
                                    "login_url": "/auth/oauth/google/login"}


def test_me_needs_a_token():
    with TestClient(make_app()) as client:
        response = client.get("/auth/me")
        problem(response, 401)
        assert response.headers["www-authenticate"].startswith("Bearer")
        problem(client.get("/auth/me", headers={"Authorization": "Basic abc"}), 401)


def test_rehash_on_login_when_parameters_change(tmp_path):
    settings = {"storage.backend": "file", "storage.file.root": str(tmp_path), "storage.file.fsync": False}
    app = make_app(settings)
    with TestClient(app) as client:
        user = register(client, "g@example.com")["user"]
    stronger = make_app({**settings, "auth.password.argon2.time_cost": 3})
    with TestClient(stronger) as client:
        login(client, "g@example.com")
        stored = client.portal.call(stronger.state.kernel.storage.get, f"auth/users/{user['id']}")
        assert "$m=19456,t=3,p=1$" in json.loads(stored.data)["password_hash"]
        login(client, "g@example.com")  # the new hash verifies


def test_parameters_below_owasp_are_refused_and_raised_to_the_floor():
    # Settings below the floor are a problem even in development, where the plugin stops reading them
    # (typed settings, issue 14); the hasher raises whatever reaches it to the floor besides.
    kernel = make_kernel({"auth.password.argon2.time_cost": 1, "auth.password.argon2.memory_cost": 1024})
    with pytest.raises(SettingsError, match=r"auth\.password\.argon2\.memory_cost: must be >= 19456"):
        kernel.typed_settings("auth")
    hasher = make_hasher({"time_cost": 1, "memory_cost": 1024})
    assert (hasher.memory_cost, hasher.time_cost, hasher.parallelism) == (19456, 2, 1)
    app = make_app()
    with TestClient(app) as client:
        user = register(client, "h@example.com")["user"]
        stored = client.portal.call(app.state.kernel.storage.get, f"auth/users/{user['id']}")
        assert "$m=19456,t=2,p=1$" in json.loads(stored.data)["password_hash"]


def test_prefix_from_settings_moves_every_route():
    with TestClient(make_app({"plugins.auth.prefix": "/api"})) as client:
        assert client.post("/auth/register", json={}).status_code == 404
        body = register_at(client, "/api/auth/register", "i@example.com")
        assert client.get("/api/users/me", headers=bearer(body)).status_code == 200


def register_at(client, path: str, email: str) -> dict:
    response = client.post(path, json={"email": email, "password": PASSWORD, "display_name": "I"})
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"/api/users/{response.json()['user']['id']}"
    return response.json()
