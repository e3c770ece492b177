"""Logs: ``server.log_format = "json"`` lines, and no secret or token in any line, JSON or text."""

import io
import json
import logging

import pytest
from starlette.testclient import TestClient

from roleplay_core import create_app
from roleplay_core.logs import JsonFormatter, TextAccessFormatter, log_config
from roleplay_core.middleware import RequestIdFilter
from roleplay_core.settings import DEV_JWT_SECRET
from roleplay_core.testing import make_kernel

PASSWORD = "correct horse battery staple 91"


@pytest.fixture
def captured():
    """Every ``roleplay.*`` line at debug level, formatted as ``roleplay serve`` does in json."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    loggers = [logging.getLogger("roleplay"), logging.getLogger("roleplay.access")]
    saved = [(logger.level, logger.propagate) for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
    try:
        yield stream
    finally:
        for logger, (level, propagate) in zip(loggers, saved, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)
            logger.propagate = propagate


def test_json_lines_have_request_id_route_status_duration_and_no_secrets(captured):
    pytest.importorskip("roleplay_auth")
    app = create_app(make_kernel({"server.log_format": "json", "auth.registration.enabled": True}))
    with TestClient(app, raise_server_exceptions=False) as client:
        registered = client.post("/auth/register", json={"email": "log@example.org", "password": PASSWORD,
                                                         "display_name": "Log"}, headers={"X-Request-ID": "req-1"})
        assert registered.status_code == 201, registered.text
        tokens = registered.json()
        access, refresh = tokens["access_token"], tokens["refresh_token"]
        assert client.get("/auth/me", headers={"Authorization": f"Bearer {access}"}).status_code == 200
        tampered = access[:-4] + ("AAAA" if not access.endswith("AAAA") else "BBBB")
        assert client.get("/auth/me", headers={"Authorization": f"Bearer {tampered}"}).status_code == 401
        logged_in = client.post("/auth/login", json={"email": "log@example.org", "password": PASSWORD})
        assert logged_in.status_code == 200
        wrong = client.post("/auth/login", json={"email": "log@example.org", "password": PASSWORD + "x"})
        assert wrong.status_code == 401
        refreshed = client.post("/auth/refresh", json={"refresh_token": refresh})
        assert refreshed.status_code == 200
        client.get("/auth/oauth/nobody/callback?code=oauth-code-s3cr3t&state=state-s3cr3t")
        client.get("/no/such/path?token=query-s3cr3t")
    lines = [line for line in captured.getvalue().splitlines() if line]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    access_lines = [r for r in records if r["logger"] == "roleplay.access"]
    first = access_lines[0]
    assert first["request_id"] == "req-1" and first["route"] == "/auth/register" and first["status"] == 201
    assert first["method"] == "POST" and first["duration_ms"] > 0
    routes = {(r["route"], r["status"]) for r in access_lines}
    assert {("/auth/me", 200), ("/auth/me", 401), ("/auth/login", 401), ("/auth/refresh", 200),
            ("<unmatched>", 404)} <= routes
    assert all(r["request_id"] for r in access_lines)
    secrets = [PASSWORD, access, access.rsplit(".", 1)[1], tampered, refresh, refreshed.json()["access_token"],
               refreshed.json()["refresh_token"], logged_in.json()["access_token"], "oauth-code-s3cr3t",
               "state-s3cr3t", "query-s3cr3t", DEV_JWT_SECRET, "Bearer "]
    for line in lines:
        for secret in secrets:
            assert secret not in line, f"{secret[:12]}... logged: {line}"


def test_text_access_lines_leave_the_query_out():
    formatter = TextAccessFormatter(fmt='%(client_addr)s "%(request_line)s" %(status_code)s', use_colors=False)
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5", "GET", "/auth/oauth/x/callback?code=abc123&state=s", "1.1", 302), None)
    line = formatter.format(record)
    assert line == '127.0.0.1:5 "GET /auth/oauth/x/callback HTTP/1.1" 302 Found'


def test_log_config_text_is_default_and_json_swaps_the_access_line():
    text = log_config("info")
    assert text["loggers"]["uvicorn.access"]["level"] == "INFO"
    assert text["loggers"]["roleplay.access"]["level"] == "CRITICAL"
    assert "format" in text["formatters"]["default"]
    lines = log_config("info", "json")
    assert lines["formatters"]["default"]["()"].endswith("JsonFormatter")
    assert lines["loggers"]["uvicorn.access"]["level"] == "CRITICAL"
    assert lines["loggers"]["roleplay.access"]["level"] == "INFO"
    with pytest.raises(ValueError, match="log_format"):
        log_config("info", "xml")


def test_an_unknown_log_format_is_a_settings_problem():
    from roleplay_core.kernel import SettingsError

    with pytest.raises(SettingsError, match="server.log_format"):
        make_kernel({"server.log_format": "xml"}, env="beta", load_entry_points=False)
