"""Limits from settings: 413 message size, 409 turns per session, 429 with Retry-After for rates.

Test home of ``roleplay_chat.config``, ``roleplay_chat.limits``.
"""

import pytest
from chat_support import User, build_app
from starlette.testclient import TestClient


@pytest.fixture
def limited():
    app = build_app({"chat.limits.message_chars": 40, "chat.limits.turns_per_session": 3,
                     "chat.limits.messages_per_minute": 5, "chat.limits.sessions_per_day": 3})
    with TestClient(app) as client:
        yield client


def test_message_chars_is_413_and_stores_nothing(limited):
    user = User(limited, "u")
    session = user.start("test-quiet")
    response = user.post(f"/chat/sessions/{session['id']}/messages", json={"text": "x" * 41})
    assert response.status_code == 413 and response.json()["errors"][0]["field"] == "text"
    assert "40" in response.json()["detail"]
    assert user.say(session["id"], "y" * 40)["message"]["text"] == "y" * 40
    assert user.session(session["id"])["last_seq"] == 2
    with limited.websocket_connect(f"/chat/sessions/{session['id']}/ws") as socket:
        socket.send_json({"type": "auth", "token": user.token})
        socket.receive_json(), socket.receive_json()
        socket.send_json({"type": "message", "text": "z" * 41})
        error = socket.receive_json()
        assert error["type"] == "error" and error["status"] == 413
        socket.send_json({"type": "ping"})
        assert socket.receive_json() == {"type": "pong"}  # still open


def test_turns_per_session_is_409(limited):
    user = User(limited, "u")
    session = user.start("test-quiet")
    for _ in range(3):
        user.say(session["id"], "hello")
    response = user.post(f"/chat/sessions/{session['id']}/messages", json={"text": "hello"})
    assert response.status_code == 409 and response.json()["code"] == "turns_per_session"
    assert user.session(session["id"])["counts"]["learner"] == 3


def test_messages_per_minute_is_429_with_retry_after(limited):
    user = User(limited, "u")
    first, second = user.start("test-quiet"), user.start("test-quiet")
    for n in range(5):  # the limit is per user, across sessions
        user.say((first if n % 2 else second)["id"], "hello")
    response = user.post(f"/chat/sessions/{first['id']}/messages", json={"text": "hello"})
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert response.json()["code"] == "messages_per_minute"
    other = User(limited, "someone-else")
    assert other.say(other.start("test-quiet")["id"], "hello")["reply"]["text"] == "Hello."


def test_sessions_per_day_is_429_with_retry_after(limited):
    user = User(limited, "u")
    made = [user.start("test-quiet")["id"] for _ in range(3)]
    user.delete(f"/chat/sessions/{made[0]}")  # deleting does not give a session back
    response = user.post("/chat/sessions", json={"scenario_id": "test-quiet"})
    assert response.status_code == 429 and response.json()["code"] == "sessions_per_day"
    assert 1 <= int(response.headers["Retry-After"]) <= 86400


def test_settings_are_validated():
    from roleplay_core import SettingsError
    from roleplay_core.testing import make_kernel

    with pytest.raises(SettingsError) as error:
        make_kernel({"chat.limits.message_chars": 0, "chat.reply_timeout": "soon", "security.jwt_secret": "x" * 40,
                     "storage.backend": "memory"}, env="production")
    assert "chat.limits.message_chars" in str(error.value) and "chat.reply_timeout" in str(error.value)
