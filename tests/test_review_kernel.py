"""Issue 13, findings 11, 12 and 13 (kernel parts): JSON that used to crash, the development secret on
a network, readiness details, nosniff, private data folders and the secret-strength check.

Test home of ``roleplay_core.serialization``.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import logging
import stat

import attrs
import pytest
import uvicorn
from starlette.routing import Route
from starlette.testclient import TestClient

from roleplay_core import JSON, hookimpl, parse_body
from roleplay_core.cli import main
from roleplay_core.kernel import SettingsError
from roleplay_core.testing import auth_headers, make_app, make_kernel

STRICT = {"storage.file.allow_in_production": True, "storage.backend": "memory"}


@attrs.frozen
class Body:
    name: str
    count: int = 0


class Echo:
    """A plugin with one JSON route, so these tests need no other plugin installed."""

    name = "echo"

    @hookimpl
    def register_routes(self):
        async def echo(request):
            return JSON(await parse_body(request, Body))

        return [Route("/echo", echo, methods=["POST"])]


def kernel_app(overrides=None):
    return make_app(overrides, plugins=[Echo()], load_entry_points=False)


@pytest.mark.parametrize("body", ['{"name": "x", "count": ' + "9" * 5000 + "}", '{"name": "x", "count": NaN}',
                                  '{"name": "x", "count": 1e999}', '{"name": -Infinity}'])
def test_json_numbers_python_cannot_take_are_400_not_500(body):
    with TestClient(kernel_app(), raise_server_exceptions=False) as client:
        assert client.post("/echo", json={"name": "x", "count": 9 ** 99}).status_code == 200  # big, but fine
        response = client.post("/echo", content=body, headers={"content-type": "application/json"})
        assert response.status_code == 400, response.text
        assert response.headers["content-type"].startswith("application/problem+json")


def test_serve_refuses_a_network_address_with_the_development_secret(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no settings.toml: the embedded development defaults
    monkeypatch.delenv("ROLEPLAY_ENV", raising=False)
    monkeypatch.delenv("ROLEPLAY_SECURITY__JWT_SECRET", raising=False)
    started = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: started.append(kwargs))  # never a real server here
    assert main(["serve", "--host", "0.0.0.0"]) == 2
    assert started == []
    err = capsys.readouterr().err
    assert "security.jwt_secret" in err and "ROLEPLAY_SECURITY__JWT_SECRET" in err and "0.0.0.0" in err
    # loopback is fine, and the start says which environment and which secret are in use
    assert main(["serve", "--host", "127.0.0.1"]) == 0
    assert started and started[0]["host"] == "127.0.0.1"
    assert started[0]["ws_max_size"] == 1_048_576
    err = capsys.readouterr().err
    assert "environment development (ROLEPLAY_ENV is not set)" in err and "built-in development secret" in err


def test_start_up_logs_the_environment_and_the_secret_source(caplog):
    with caplog.at_level(logging.INFO, logger="roleplay"), TestClient(kernel_app()):
        pass
    line = next(r for r in caplog.records if "tokens signed with" in r.getMessage())
    assert "environment development" in line.getMessage() and "development secret" in line.getMessage()
    assert line.levelno == logging.WARNING


def test_readiness_details_are_for_admins_only(tmp_path):
    root = tmp_path / "secret-place"
    app = make_app({"storage.backend": "file", "storage.file.root": str(root)}, load_entry_points=False)
    with TestClient(app) as client:
        anonymous = client.get("/readyz")
        assert anonymous.status_code == 200 and anonymous.json() == {"status": "ready"}
        assert "secret-place" not in anonymous.text
        user = client.get("/readyz", headers=auth_headers(app, "u1", ("user",)))
        assert user.json() == {"status": "ready"}
        admin = client.get("/readyz", headers=auth_headers(app, "root", ("admin",)))
        assert admin.status_code == 200 and str(root) in admin.json()["checks"]["storage"]["backend"]


def test_every_api_response_says_nosniff():
    with TestClient(kernel_app({"server.max_body_bytes": 100})) as client:
        for response in (client.get("/healthz"), client.get("/no/such/route"), client.get("/plugins"),
                         client.post("/echo", json={"name": "x"}), client.post("/echo", json=[]),
                         client.post("/echo", content=b"x" * 200, headers={"content-type": "application/json"})):
            assert response.headers["x-content-type-options"] == "nosniff", response.status_code
            assert response.headers.get_list("x-content-type-options") == ["nosniff"]


def test_data_folders_are_created_private(tmp_path):
    root = tmp_path / "data" / "roleplay"
    app = kernel_app({"storage.backend": "file", "storage.file.root": str(root)})
    with TestClient(app) as client:
        client.portal.call(app.state.kernel.storage.put, "auth/users/u1", b"{}")  # what a plugin writes
        assert client.get("/readyz").status_code == 200
    folders = [root, root / ".tmp", root / ".locks", root / "auth", root / "auth" / "users", tmp_path / "data"]
    for folder in folders:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


@pytest.mark.parametrize("secret", ["abcdefghijabcdefghijabcdefghij12", "abcdefghijklmnopqrstuvwxyz012345",
                                    "passwordpasswordpasswordpassword", "0123456789" * 4])
def test_the_secret_strength_check_estimates_entropy(secret):
    with pytest.raises(SettingsError, match="real randomness"):
        make_kernel({"security.jwt_secret": secret, **STRICT}, env="production", load_entry_points=False)


def test_random_secrets_pass_the_strength_check():
    import secrets

    for secret in (secrets.token_hex(16), secrets.token_urlsafe(32)):
        make_kernel({"security.jwt_secret": secret, **STRICT}, env="production", load_entry_points=False)


class Mood(enum.StrEnum):
    CALM = "calm"


@attrs.frozen
class Turn:
    at: dt.datetime
    mood: Mood
    tags: frozenset[str] = frozenset()


class Unknowable:
    def __str__(self) -> str:
        return "unknowable"


def test_json_responses_give_attrs_values_and_datetimes_their_converter_form_anywhere_in_the_body():
    """The encoder calls the converter only for values JSON has no form for, wherever they sit."""
    from roleplay_core.serialization import JSON, converter

    at = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)
    body = {"turn": Turn(at, Mood.CALM, frozenset({"x"})), "turns": [Turn(at, Mood.CALM)], "at": at,
            "n": 1.5, "flag": True, "none": None, "tuple": (1, "é"), "other": Unknowable()}
    rendered = json.loads(JSON(body).body)
    expected = converter.unstructure(Turn(at, Mood.CALM, frozenset({"x"})))
    assert rendered["turn"] == {**json.loads(json.dumps(expected, default=str)), "tags": ["x"]}
    assert rendered["turns"][0]["at"] == rendered["at"] == converter.unstructure(at)
    assert rendered["turn"]["mood"] == "calm", "a str enum is its value"
    assert json.loads(JSON({"s": {"b", "a", "c"}}).body) == {"s": ["a", "b", "c"]}, "a set is an array, sorted"
    assert rendered["tuple"] == [1, "é"] and rendered["none"] is None and rendered["n"] == 1.5
    assert rendered["other"] == "unknowable", "a type nobody knows is written as its text"
