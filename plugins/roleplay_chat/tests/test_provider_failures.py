"""A failing or slow provider: a clear 502/504, the learner's message stays stored, retry regenerates the reply.

Test home of ``roleplay_chat.turns``.
"""

import json

import pytest
from chat_support import FlakyPlugin, User, build_app
from starlette.testclient import TestClient

from roleplay_core.testing import auth_headers


@pytest.fixture
def flaky():
    plugin = FlakyPlugin()
    app = build_app({"chat.model": "flaky", "chat.reply_timeout": 0.3}, plugins=[plugin])
    with TestClient(app) as client:
        yield client, plugin.provider


def test_timeout_is_504_message_kept_and_retry_answers(flaky):
    client, provider = flaky
    user = User(client, "u")
    sid = user.start("test-quiet")["id"]
    provider.mode = "slow"
    response = user.post(f"/chat/sessions/{sid}/messages", json={"text": "Are you there?"})
    assert response.status_code == 504
    problem = response.json()
    assert problem["code"] == "reply_timeout" and "0.3 seconds" in problem["detail"]
    assert problem["message"]["seq"] == 1 and problem["message"]["text"] == "Are you there?"
    assert problem["retry"] == f"/chat/sessions/{sid}/retry"
    session = user.session(sid)
    assert [m["text"] for m in session["messages"]] == ["Are you there?"] and session["awaiting_reply"] == 1
    blocked = user.post(f"/chat/sessions/{sid}/messages", json={"text": "Hello??"})
    assert blocked.status_code == 409 and blocked.json()["code"] == "reply_pending"
    provider.mode = "ok"
    retried = user.post(f"/chat/sessions/{sid}/retry")
    assert retried.status_code == 201
    body = retried.json()
    assert body["message"]["seq"] == 1 and body["reply"]["seq"] == 2
    assert body["reply"]["text"] == "Well, you said 'Are you there?' (turn 1)"
    assert body["session"]["awaiting_reply"] is None
    again = user.post(f"/chat/sessions/{sid}/retry")
    assert again.status_code == 409 and again.json()["code"] == "nothing_to_retry"
    # The provider state carried over from the retried reply.
    assert user.say(sid, "next")["reply"]["text"] == "Well, you said 'next' (turn 2)"


def test_provider_error_is_502_and_retry_works(flaky):
    client, provider = flaky
    user = User(client, "u")
    sid = user.start("test-quiet")["id"]
    provider.mode = "fail"
    response = user.post(f"/chat/sessions/{sid}/messages", json={"text": "Hi"})
    assert response.status_code == 502 and "quota is exhausted" in response.json()["detail"]
    assert user.post(f"/chat/sessions/{sid}/retry").status_code == 502  # still failing, still kept
    assert [m["seq"] for m in user.session(sid)["messages"]] == [1]
    provider.mode = "ok"
    assert user.post(f"/chat/sessions/{sid}/retry").json()["reply"]["seq"] == 2


def _events(raw: str) -> list[tuple[str, dict]]:
    events = []
    for block in raw.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((fields["event"], json.loads(fields["data"])))
    return events


def test_server_sent_events_stream_the_reply_and_report_a_timeout(flaky):
    client, provider = flaky
    user = User(client, "u")
    sid = user.start("test-quiet")["id"]
    stream = {"Accept": "text/event-stream"}
    with client.stream("POST", f"/chat/sessions/{sid}/messages", json={"text": "one"},
                       headers={**user.headers, **stream}) as response:
        assert response.status_code == 201 and response.headers["content-type"].startswith("text/event-stream")
        events = _events(response.read().decode())
    assert [kind for kind, _ in events] == ["message", "delta", "reply"]
    assert events[0][1]["seq"] == 1 and events[1][1]["text"] == events[2][1]["reply"]["text"]
    assert events[2][1]["reply"]["seq"] == 2
    provider.mode = "slow"
    with client.stream("POST", f"/chat/sessions/{sid}/messages", json={"text": "two"},
                       headers={**user.headers, **stream}) as response:
        events = _events(response.read().decode())
    assert [kind for kind, _ in events] == ["message", "delta", "error"]
    assert events[2][1]["status"] == 504 and events[2][1]["message"]["seq"] == 3
    provider.mode = "ok"
    with client.stream("POST", f"/chat/sessions/{sid}/retry", headers={**user.headers, **stream}) as response:
        events = _events(response.read().decode())
    assert events[-1][0] == "reply" and events[-1][1]["reply"]["seq"] == 4
    assert [m["seq"] for m in user.session(sid)["messages"]] == [1, 2, 3, 4]


def test_websocket_error_frame_then_retry(flaky):
    client, provider = flaky
    user = User(client, "u")
    sid = user.start("test-quiet")["id"]
    provider.mode = "fail"
    with client.websocket_connect(f"/chat/sessions/{sid}/ws") as socket:
        socket.send_json({"type": "auth", "token": user.token})
        socket.receive_json(), socket.receive_json()
        socket.send_json({"type": "message", "text": "hi"})
        assert socket.receive_json()["message"]["seq"] == 1
        error = socket.receive_json()
        assert error["type"] == "error" and error["status"] == 502 and error["code"] == "provider_error"
        socket.send_json({"type": "message", "text": "hello?"})
        assert socket.receive_json()["code"] == "reply_pending"
        provider.mode = "ok"
        socket.send_json({"type": "retry"})
        frames = []
        while not (frame := socket.receive_json()).get("final"):
            frames.append(frame)
        assert frame["message"]["seq"] == 2 and frame["message"]["text"].startswith("Well, you said 'hi'")
        assert [f["type"] for f in frames] == ["delta"]


def test_chat_model_must_name_an_installed_provider():
    app = build_app({"chat.model": "nobody"})
    with TestClient(app) as client:
        # In development the kernel skips a plugin that fails to start (production refuses to start).
        admin = auth_headers(client.app, "root", ("admin",))  # the checks are for admins
        plugins = client.get("/readyz", headers=admin).json()["checks"]["plugins"]
        assert plugins["failed"] == ["chat"] and plugins["skipped"] == ["chat"]
        assert client.get("/chat/scenarios").status_code == 503
        status = client.app.state.kernel.plugin_info("chat").status
        assert "no model provider named 'nobody'" in status
