"""WebSockets authenticate with their first message; never with a token in the URL.

Test home of ``roleplay_core.security``.
"""

import pytest
from starlette.routing import WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from roleplay_core import authenticate_websocket, create_app, hookimpl
from roleplay_core.testing import make_kernel


class Echo:
    name = "echo"

    @hookimpl
    def register_routes(self):
        async def echo(websocket):
            principal = await authenticate_websocket(websocket)
            if principal is None:
                return
            text = await websocket.receive_text()
            await websocket.send_json({"user": principal.id, "echo": text})
            await websocket.close()

        async def admin_only(websocket):
            if await authenticate_websocket(websocket, minimum_role="admin") is None:
                return
            await websocket.send_json({"ok": True})
            await websocket.close()

        return [WebSocketRoute("/echo/ws", echo), WebSocketRoute("/echo/admin", admin_only)]


@pytest.fixture
def app():
    return create_app(make_kernel({"security.websocket_auth_timeout": 0.3}, plugins=[Echo()],
                                  load_entry_points=False))


#: The one error frame shape on every socket (kernel and plugins): status, a code slug, a sentence.
ERROR_KEYS = {"type", "status", "code", "detail"}


def closed_with(ws, code):
    frame = ws.receive_json()
    assert frame["type"] == "error" and set(frame) == ERROR_KEYS and frame["detail"], frame
    assert frame["status"] == {4401: 401, 4403: 403, 1009: 413}[code] and frame["code"].replace("_", "").isalpha()
    with pytest.raises(WebSocketDisconnect) as info:
        ws.receive_text()
    assert info.value.code == code


def test_first_message_authenticates(app):
    token = app.state.kernel.tokens.issue("u7")
    with TestClient(app) as client, client.websocket_connect("/echo/ws") as ws:
        ws.send_json({"type": "auth", "token": token})
        authenticated = ws.receive_json()
        expires_at = authenticated.pop("expires_at")  # when the socket closes unless renewed in-band
        assert authenticated == {"type": "authenticated", "user": {"id": "u7", "roles": ["user"]}}
        assert expires_at == app.state.kernel.tokens.verify(token).expires_at
        ws.send_text("hi")
        assert ws.receive_json() == {"user": "u7", "echo": "hi"}


def test_no_auth_message_times_out_with_4401(app):
    with TestClient(app) as client, client.websocket_connect("/echo/ws") as ws:
        closed_with(ws, 4401)


@pytest.mark.parametrize("first", ['{"type": "auth", "token": "nope"}', '{"type": "hello"}', "not json", "[]",
                                   "[" * 1000 + "]" * 1000, '{"type": "auth", "token": "\\ud800"}'])
def test_bad_first_message_closes_with_4401(app, first):
    with TestClient(app) as client, client.websocket_connect("/echo/ws") as ws:
        ws.send_text(first)
        frame = ws.receive_json()
        assert set(frame) == ERROR_KEYS and (frame["status"], frame["code"]) == (401, "bad_auth")
        assert "recursion" not in frame["detail"] and "codec" not in frame["detail"]
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_text()
        assert info.value.code == 4401


def test_expired_token_closes_with_4401(app):
    token = app.state.kernel.tokens.issue("u7", ttl=-60)
    with TestClient(app) as client, client.websocket_connect("/echo/ws") as ws:
        ws.send_json({"type": "auth", "token": token})
        closed_with(ws, 4401)


def test_role_refusal_closes_with_4403(app):
    kernel = app.state.kernel
    with TestClient(app) as client:
        with client.websocket_connect("/echo/admin") as ws:
            ws.send_json({"type": "auth", "token": kernel.tokens.issue("u1", ["scripter"])})
            closed_with(ws, 4403)
        with client.websocket_connect("/echo/admin") as ws:
            ws.send_json({"type": "auth", "token": kernel.tokens.issue("u2", ["admin"])})
            assert ws.receive_json()["type"] == "authenticated"
            assert ws.receive_json() == {"ok": True}


def test_token_in_query_string_is_ignored(app):
    token = app.state.kernel.tokens.issue("u7")
    with TestClient(app) as client, client.websocket_connect(f"/echo/ws?token={token}") as ws:
        closed_with(ws, 4401)


def test_a_first_message_over_the_limit_is_refused_unparsed_with_1009(app):
    # Issue 13, finding 9: 100 KB of brackets (or a 16 MiB frame) is refused before json.loads.
    with TestClient(app) as client, client.websocket_connect("/echo/ws") as ws:
        ws.send_text("[" * 50_000 + "]" * 50_000)
        closed_with(ws, 1009)
