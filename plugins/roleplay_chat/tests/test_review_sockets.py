"""Issue 13, findings 8, 9 and 11 (close reasons): open sockets end with their token or account,
frame sizes are bounded before and after authentication, and close reasons stay within 123 bytes."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import time

import pytest
from chat_support import build_app
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from test_voice_endpoint import app_client, read_until

from roleplay_core.testing import auth_headers

PASSWORD = "a sturdy passphrase 42"

#: Accounts (and so the check_principal hook) come from roleplay-auth; `nox -s isolation` runs chat alone.
needs_auth = pytest.mark.skipif(importlib.util.find_spec("roleplay_auth") is None,
                                reason="needs roleplay-auth installed: real accounts to renew, disable and delete")


def closed(ws) -> tuple[dict, int]:
    """The error frame before a close, and the close code."""
    frame = None
    with pytest.raises(WebSocketDisconnect) as info:
        while True:
            message = ws.receive()
            if message["type"] == "websocket.close":
                raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
            if message.get("text"):
                frame = json.loads(message["text"])
    return frame, info.value.code


@contextlib.contextmanager
def chat_socket(client, token: str, sid: str):
    with client.websocket_connect(f"/chat/sessions/{sid}/ws") as ws:
        ws.send_json({"type": "auth", "token": token})
        authenticated = ws.receive_json()
        assert authenticated["type"] == "authenticated", authenticated
        assert ws.receive_json()["type"] == "ready"
        yield ws, authenticated


def start(client, headers) -> str:
    response = client.post("/chat/sessions", json={"scenario_id": "test-bakery"}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_a_chat_socket_closes_when_its_token_expires():
    app = build_app()
    with TestClient(app) as client:
        headers = auth_headers(app, "alice")
        sid = start(client, headers)
        short = app.state.kernel.tokens.issue("alice", ("user",), ttl=2)
        with chat_socket(client, short, sid) as (ws, authenticated):
            assert abs(authenticated["expires_at"] - (time.time() + 2)) < 2
            ws.send_json({"type": "ping"})
            assert ws.receive_json() == {"type": "pong"}
            began = time.monotonic()
            frame, code = closed(ws)  # nothing sent: the server closes at expiry on its own
            assert code == 4401 and frame["code"] == "token_expired"
            assert time.monotonic() - began < 5


@needs_auth
def test_a_fresh_token_in_band_keeps_the_socket_open():
    app = build_app()
    kernel = app.state.kernel
    with TestClient(app) as client:
        pair = client.post("/auth/register", json={"email": "ann@example.com", "password": PASSWORD,
                                                   "display_name": "Ann"}).json()
        user_id = pair["user"]["id"]
        sid = start(client, {"Authorization": f"Bearer {pair['access_token']}"})
        with chat_socket(client, kernel.tokens.issue(user_id, ("user",), ttl=2), sid) as (ws, _):
            ws.send_json({"type": "auth", "token": kernel.tokens.issue(user_id, ("user",), ttl=60)})
            renewed = ws.receive_json()
            assert renewed["type"] == "authenticated" and renewed["expires_at"] > time.time() + 30
            time.sleep(2.5)  # past the first token's expiry
            ws.send_json({"type": "ping"})
            assert ws.receive_json() == {"type": "pong"}
            # a token for someone else is no renewal
            ws.send_json({"type": "auth", "token": kernel.tokens.issue("mallory", ("user",))})
            frame, code = closed(ws)
            assert code == 4403 and frame["code"] == "bad_auth"


@needs_auth
def test_a_chat_socket_closes_when_the_account_is_deleted_or_disabled():
    admin = {"auth.bootstrap_admin.email": "root@example.com", "auth.bootstrap_admin.password": PASSWORD}
    app = build_app({"security.websocket_recheck_seconds": 0.3, **admin})
    with TestClient(app) as client:
        root = client.post("/auth/login", json={"email": "root@example.com", "password": PASSWORD}).json()
        for n, action in enumerate(("disable", "delete")):
            pair = client.post("/auth/register", json={"email": f"u{n}@example.com", "password": PASSWORD,
                                                       "display_name": "U"}).json()
            sid = start(client, {"Authorization": f"Bearer {pair['access_token']}"})
            with chat_socket(client, pair["access_token"], sid) as (ws, _):
                ws.send_json({"type": "ping"})
                assert ws.receive_json() == {"type": "pong"}
                target = f"/users/{pair['user']['id']}"
                as_root = {"Authorization": f"Bearer {root['access_token']}"}
                if action == "disable":
                    assert client.patch(target, json={"disabled": True}, headers=as_root).status_code == 200
                else:
                    assert client.delete(target, headers=as_root).status_code == 204
                frame, code = closed(ws)  # without the client sending anything
                # a deleted account no longer authenticates (4401); a disabled one is refused (4403)
                assert (frame["code"], code) == ("account_changed", 4403 if action == "disable" else 4401), (frame, code)


def test_the_first_frame_is_limited_before_it_is_parsed():
    app = build_app({"security.websocket_auth_max_bytes": 4096})
    with TestClient(app) as client:
        sid = start(client, auth_headers(app, "alice"))
        with client.websocket_connect(f"/chat/sessions/{sid}/ws") as ws:
            ws.send_text(json.dumps({"type": "auth", "token": "x" * 16_384}))
            frame, code = closed(ws)
            assert code == 1009 and "4096 bytes" in frame["detail"] and frame["code"] == "frame_too_big"
        # a real token is far below the limit
        with chat_socket(client, auth_headers(app, "alice")["Authorization"][7:], sid):
            pass


def test_the_frame_limit_after_authentication_is_a_setting():
    app = build_app({"security.websocket_max_frame_bytes": 2048, "chat.limits.message_chars": 100_000})
    with TestClient(app) as client:
        headers = auth_headers(app, "alice")
        sid = start(client, headers)
        with chat_socket(client, headers["Authorization"][7:], sid) as (ws, _):
            ws.send_json({"type": "message", "text": "hello " * 100})  # 600 characters: fine
            while not ws.receive_json().get("final"):
                pass
            ws.send_json({"type": "message", "text": "x" * 3000})
            frame, code = closed(ws)
            assert code == 1009 and frame["code"] == "frame_too_big"


def test_close_reasons_built_from_client_text_fit_a_close_frame():
    """A real server (uvicorn + websockets), which enforces the 123-byte limit the test client does not."""
    import asyncio
    import socket
    import threading

    import uvicorn
    import websockets

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = build_app()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    token = app.state.kernel.tokens.issue("alice")

    async def send_a_long_type(sid: str) -> tuple[dict, int, str]:
        async with websockets.connect(f"ws://127.0.0.1:{port}/chat/sessions/{sid}/ws") as ws:
            await ws.send(json.dumps({"type": "auth", "token": token}))
            await ws.recv()
            await ws.recv()
            await ws.send(json.dumps({"type": "€" * 200}))
            frame = json.loads(await ws.recv())
            with contextlib.suppress(websockets.ConnectionClosed):
                await ws.recv()
            return frame, ws.close_code, ws.close_reason

    try:
        import httpx

        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10,
                          headers={"Authorization": f"Bearer {token}"}) as http:
            sid = http.post("/chat/sessions", json={"scenario_id": "test-bakery"}).json()["id"]
        frame, code, reason = asyncio.run(send_a_long_type(sid))
        assert frame["code"] == "bad_frame"
        assert code == 4400, (code, reason)
        assert reason.startswith("unknown frame type") and len(reason.encode()) <= 123
    finally:
        server.should_exit = True
        thread.join(15)


def test_a_voice_call_ends_when_its_token_expires():
    with contextlib.ExitStack() as stack:
        client = stack.enter_context(app_client())
        kernel = client.app.state.kernel
        headers = auth_headers(client.app, "u-1")
        sid = client.post("/chat/sessions", json={"scenario_id": "refund-angry-customer"}, headers=headers).json()["id"]
        ws = stack.enter_context(client.websocket_connect(f"/chat/sessions/{sid}/voice"))
        ws.send_json({"type": "auth", "token": kernel.tokens.issue("u-1", ("user",), ttl=2)})
        assert ws.receive_json()["type"] == "authenticated"
        ws.send_json({"type": "start", "sample_rate": 16000})
        read_until(ws, "started")
        began = time.monotonic()
        frame, code = closed(ws)
        assert code == 4401 and frame["code"] == "token_expired"
        assert time.monotonic() - began < 5


def test_the_voice_start_frame_has_the_frame_limit_too():
    with contextlib.ExitStack() as stack:
        client = stack.enter_context(app_client("echo", **{"security.websocket_max_frame_bytes": 2048}))
        headers = auth_headers(client.app, "u-1")
        sid = client.post("/chat/sessions", json={"scenario_id": "refund-angry-customer"}, headers=headers).json()["id"]
        ws = stack.enter_context(client.websocket_connect(f"/chat/sessions/{sid}/voice"))
        ws.send_json({"type": "auth", "token": headers["Authorization"][7:]})
        assert ws.receive_json()["type"] == "authenticated"
        ws.send_json({"type": "start", "sample_rate": 16000, "padding": "x" * 4000})
        frame, code = closed(ws)
        assert code == 1009 and frame["code"] == "frame_too_big"
