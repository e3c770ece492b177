"""The WebSocket: reconnect with missed messages, a client gone mid-reply, bad frames and close codes.

Test home of ``roleplay_chat.ws``.
"""

import contextlib
import time

import pytest
from chat_support import FlakyPlugin, User, build_app
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from roleplay_core.testing import send_until_accepted


@contextlib.contextmanager
def connect(client, user, sid):
    """An authenticated socket on session ``sid`` and its "ready" frame."""
    with client.websocket_connect(f"/chat/sessions/{sid}/ws") as ws:
        ws.send_json({"type": "auth", "token": user.token})
        assert ws.receive_json()["type"] == "authenticated"
        ready = ws.receive_json()
        assert ready["type"] == "ready"
        yield ws, ready


def test_reconnect_receives_missed_messages(client, alice):
    sid = alice.start()["id"]
    with connect(client, alice, sid) as (ws, _):
        ws.send_json({"type": "message", "text": "hello"})
        seen = []
        while not (frame := ws.receive_json()).get("final"):
            if frame["type"] == "message":
                seen.append(frame["message"]["seq"])
        seen.append(frame["message"]["seq"])
    assert seen == [2, 3]
    # While the client is away, the conversation goes on (another tab, over HTTP).
    alice.say(sid, "I would like some bread")
    with connect(client, alice, sid) as (ws, ready):
        assert ready["session"]["last_seq"] == 5
        ws.send_json({"type": "resume", "after_seq": 3})
        missed = []
        while (frame := ws.receive_json())["type"] == "message":
            missed.append(frame["message"])
        assert frame == {"type": "resumed", "last_seq": 5, "session": frame["session"]}
        assert [(m["seq"], m["role"]) for m in missed] == [(4, "learner"), (5, "character")]
        assert missed[0]["text"] == "I would like some bread"
        ws.send_json({"type": "resume", "after_seq": 5})
        assert ws.receive_json()["type"] == "resumed"  # nothing missed


def test_a_reply_finishes_and_is_kept_when_the_client_leaves_mid_reply():
    plugin = FlakyPlugin()
    plugin.provider.mode = "delayed"
    with TestClient(build_app({"chat.model": "flaky"}, plugins=[plugin])) as client:
        user = User(client, "u")
        sid = user.start("test-quiet")["id"]
        with connect(client, user, sid) as (ws, _):
            ws.send_json({"type": "message", "text": "are you there"})
            assert ws.receive_json()["message"]["seq"] == 1
            assert ws.receive_json() == {"type": "delta", "text": "Well, "}
        # Gone before the reply is complete.
        deadline = time.monotonic() + 5
        while len(messages := user.session(sid)["messages"]) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [m["seq"] for m in messages] == [1, 2]
        with connect(client, user, sid) as (ws, _):
            ws.send_json({"type": "resume", "after_seq": 1})
            frame = ws.receive_json()
            assert frame["message"]["seq"] == 2
            assert frame["message"]["text"] == "Well, you said 'are you there' (turn 1)"


@pytest.mark.parametrize("frame", [
    "not json",
    "[1, 2]",
    '{"no": "type"}',
    '{"type": "dance"}',
    '{"type": "message"}',
    '{"type": "message", "text": 5}',
    '{"type": "resume", "after_seq": "ten"}',
    '{"type": "resume", "after_seq": -1}',
    "[" * 5000 + "]" * 5000,  # nested too deeply for the parser (RecursionError)
    '{"type": "message", "text": ' + "[" * 5000 + "]" * 5000 + "}",
    '{"type": "message", "text": "\\ud800"}',  # a lone surrogate: valid JSON, not text
    '{"type": "ping", "x": "a\\udfffb"}',
])
def test_bad_frames_get_an_error_and_close_4400(client, alice, frame):
    sid = alice.start()["id"]
    with connect(client, alice, sid) as (ws, _):
        ws.send_text(frame)
        error = ws.receive_json()
        assert error["type"] == "error" and error["status"] == 400 and error["code"] == "bad_frame" and error["detail"]
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 4400
        assert alice.session(sid)["last_seq"] == 1  # nothing stored


@pytest.mark.parametrize("text", ["a\u0000b", "\u0001", "bread\u001b[31m", "x\u007f"])
def test_control_characters_in_a_message_are_refused_and_the_socket_stays_open(client, alice, text):
    sid = alice.start()["id"]
    with connect(client, alice, sid) as (ws, _):
        ws.send_json({"type": "message", "text": text})
        error = ws.receive_json()
        assert error["type"] == "error" and error["status"] == 422
        assert [e["field"] for e in error["errors"]] == ["text"]
        ws.send_json({"type": "message", "text": "some bread\twith a tab\nand a newline"})  # these are fine
        frame = ws.receive_json()
        assert frame["type"] == "message" and frame["message"]["text"] == "some bread\twith a tab\nand a newline"
        while not ws.receive_json().get("final"):
            pass
    texts = [m["text"] for m in alice.session(sid)["messages"]]
    assert not any(text in stored for stored in texts)


def test_binary_frame_closes_4400(client, alice):
    sid = alice.start()["id"]
    with connect(client, alice, sid) as (ws, _):
        ws.send_bytes(b"\x00\x01")
        assert ws.receive_json()["code"] == "bad_frame"
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 4400


def test_refusals_keep_the_socket_open_and_ended_scene_closes_it(client, alice):
    sid = alice.start()["id"]
    with connect(client, alice, sid) as (ws, _):
        ws.send_json({"type": "message", "text": "   "})
        assert ws.receive_json()["status"] == 422
        ws.send_json({"type": "retry"})
        assert ws.receive_json()["code"] == "nothing_to_retry"
        ws.send_json({"type": "message", "text": "some bread"})
        while not ws.receive_json().get("final"):
            pass
        ws.send_json({"type": "message", "text": "I pay cash"})
        frames = []
        while (frame := ws.receive_json())["type"] != "ended":
            frames.append(frame)
        assert frames[-1]["message"]["text"] == "Four euros. Thanks. Good night."
        assert frame["session"]["status"] == "ended" and frame["session"]["end_reason"] == "The learner bought the bread."
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 1000
    with connect(client, alice, sid) as (ws, ready):
        assert ready["session"]["status"] == "ended"
        ws.send_json({"type": "message", "text": "hello?"})
        assert ws.receive_json()["code"] == "session_ended"


def test_a_client_that_hangs_up_right_after_sending_still_gets_its_reply_stored():
    """Regression: the reply used to start only after the echo, so hanging up in between left the
    learner's message unanswered and the session busy until its turn lease expired."""
    import asyncio
    import json
    import socket
    import threading

    import httpx
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
    token = app.state.kernel.tokens.issue("hang-up")
    headers = {"Authorization": f"Bearer {token}"}
    base = f"http://127.0.0.1:{port}"

    async def hang_up_after_sending(session_id: str) -> None:
        async with websockets.connect(f"ws://127.0.0.1:{port}/chat/sessions/{session_id}/ws") as ws:
            await ws.send(json.dumps({"type": "auth", "token": token}))
            await ws.recv()
            await ws.recv()
            await ws.send(json.dumps({"type": "message", "text": "hello"}))
        # closed without reading the echo

    try:
        with httpx.Client(base_url=base, headers=headers, timeout=10) as http:
            for _ in range(5):
                sid = http.post("/chat/sessions", json={"scenario_id": "test-bakery"}).json()["id"]
                asyncio.run(hang_up_after_sending(sid))
                deadline = time.monotonic() + 5
                while time.monotonic() < deadline:
                    session = http.get(f"/chat/sessions/{sid}").json()
                    roles = [m["role"] for m in session["messages"]]
                    # (the opening line is a character message too: wait for the learner's and its reply)
                    if session["awaiting_reply"] is None and roles[-2:] == ["learner", "character"]:
                        break
                    time.sleep(0.05)
                assert [m["role"] for m in session["messages"]][-2:] == ["learner", "character"]
                # The turn's lease is released just after the reply is stored: a client that follows
                # Retry-After gets through well before the lease (6 s) would have run out.
                started = time.monotonic()
                send_until_accepted(base, headers, sid, "bread please", seconds=5)
                assert time.monotonic() - started < 5
    finally:
        server.should_exit = True
        thread.join(15)


def test_a_draining_server_finishes_the_turn_then_says_reconnect_and_closes_1012():
    plugin = FlakyPlugin()
    plugin.provider.mode, plugin.provider.delay = "delayed", 0.6
    app = build_app({"chat.model": "flaky"}, plugins=[plugin])
    with TestClient(app) as client:
        user = User(client, "drainer")
        sid = user.start("test-quiet")["id"]
        with connect(client, user, sid) as (ws, _):
            ws.send_json({"type": "message", "text": "just in time"})
            assert ws.receive_json()["type"] == "message"  # stored; the reply is under way
            client.portal.call(app.state.kernel.begin_drain)
            frames = []
            while not frames or frames[-1]["type"] != "reconnect":
                frames.append(ws.receive_json())
            kinds = [f["type"] for f in frames]
            assert kinds[-2:] == ["message", "reconnect"] and frames[-2]["final"] is True
            assert "just in time" in frames[-2]["message"]["text"]
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
            assert closed.value.code == 1012


def test_the_kernel_and_chat_send_one_error_frame_shape_on_one_socket(client, alice):
    """Issue 14, item 7: an authentication failure (the kernel) and a bad frame (chat) look alike."""
    sid = alice.start()["id"]
    with client.websocket_connect(f"/chat/sessions/{sid}/ws") as ws:
        ws.send_json({"type": "auth", "token": "not a token"})
        kernel_error = ws.receive_json()
    with connect(client, alice, sid) as (ws, _):
        ws.send_text("not json")
        chat_error = ws.receive_json()
    for frame in (kernel_error, chat_error):
        assert frame["type"] == "error" and isinstance(frame["status"], int) and frame["detail"], frame
        assert isinstance(frame["code"], str) and frame["code"].replace("_", "").isalpha(), frame
    assert set(kernel_error) == set(chat_error) == {"type", "status", "code", "detail"}
    assert (kernel_error["status"], kernel_error["code"]) == (401, "bad_auth")
    assert (chat_error["status"], chat_error["code"]) == (400, "bad_frame")
