"""Realtime voice end to end: WebSocket client -> chat's /voice relay -> the openai SDK's realtime
client -> the local server's Realtime events (server VAD, transcription, audio, barge-in, reconnection).

Test home of ``roleplay_openai.live``, ``roleplay_openai.testserver``.
"""

from __future__ import annotations

import contextlib
import json
import re
from typing import Any

import pytest
from roleplay_openai.testserver import dominant_hz, tone
from starlette.testclient import TestClient

from roleplay_core.testing import auth_headers, make_app

from .conftest import needs_chat

pytestmark = needs_chat  # the /voice relay, sessions and the scenario all belong to roleplay-chat

SCENARIO = "refund-angry-customer"


@contextlib.contextmanager
def running(server, **overrides: Any):
    settings = {**server.settings(), "chat.model": "openai", "chat.voice.model": "openai",
                "chat.limits.sessions_per_day": 0, "chat.limits.messages_per_minute": 0,
                "chat.voice.tick_seconds": 0.2, "openai.realtime.silence_duration_ms": 300,
                "openai.realtime_model": "fake-realtime", **overrides}
    with TestClient(make_app(settings)) as client:
        yield client


def new_session(client: TestClient, user: str = "u-voice") -> tuple[str, dict[str, str]]:
    headers = auth_headers(client.app, user)
    response = client.post("/chat/sessions", json={"scenario_id": SCENARIO}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["id"], headers


def spoken(freq: float, rate: int, ms: int = 400, silence_ms: int = 400) -> bytes:
    return tone(freq, ms, rate) + bytes(int(rate * silence_ms / 1000) * 2)


def frames(pcm: bytes, rate: int, frame_ms: int = 20) -> list[bytes]:
    step = rate * frame_ms // 1000 * 2
    return [pcm[i:i + step] for i in range(0, len(pcm), step)]


@contextlib.contextmanager
def call(client: TestClient, session_id: str, headers: dict[str, str], start: dict[str, Any]):
    with client.websocket_connect(f"/chat/sessions/{session_id}/voice") as ws:
        ws.send_json({"type": "auth", "token": headers["Authorization"].removeprefix("Bearer ")})
        assert ws.receive_json()["type"] == "authenticated"
        ws.send_json(start)
        yield ws


class Received:
    """What the client got: audio bytes and JSON frames, read until a condition."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.audio = bytearray()
        self.frames: list[dict[str, Any]] = []

    def until(self, predicate, limit: int = 5000) -> dict[str, Any]:
        for _ in range(limit):
            message = self.ws.receive()
            if message["type"] == "websocket.close":
                raise AssertionError(f"closed: {message}; frames so far {self.frames[-5:]}")
            if message.get("bytes") is not None:
                self.audio += message["bytes"]
                if predicate(None):
                    return {}
                continue
            frame = json.loads(message["text"])
            self.frames.append(frame)
            if predicate(frame):
                return frame
        raise AssertionError("condition not met")

    def finals(self, role: str | None = None) -> list[dict[str, Any]]:
        return [f for f in self.frames if f.get("type") == "transcript" and f["final"]
                and (role is None or f["role"] == role)]


def is_type(kind: str):
    return lambda frame: frame is not None and frame.get("type") == kind


def test_spoken_turn_round_trip(server):
    fake = server.fake
    with running(server) as client:
        session_id, headers = new_session(client)
        with call(client, session_id, headers, {"type": "start", "sample_rate": 16000,
                                                 "output_sample_rate": 16000}) as ws:
            got = Received(ws)
            got.until(is_type("started"))
            for frame in frames(spoken(440, 16000), 16000):
                ws.send_bytes(frame)
            got.until(is_type("turn_complete"))
            ws.send_json({"type": "stop"})
            got.until(is_type("stopped"))
        body = client.get(f"/chat/sessions/{session_id}", headers=headers).json()
    connection = fake.realtime_connections[0]
    assert connection["query"]["model"] == "fake-realtime"
    session = connection["session"]
    detection = session["audio"]["input"]["turn_detection"]
    assert (detection["type"], detection["interrupt_response"], detection["silence_duration_ms"]) == ("server_vad", True, 300)
    assert session["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert session["audio"]["output"]["voice"] and session["audio"]["input"]["transcription"]["model"]
    assert session["instructions"].startswith("You are ") and "Keep each answer short" in session["instructions"]
    learner, character = got.finals("learner"), got.finals("character")
    heard = int(re.search(r"tone (\d+) hertz", learner[0]["text"]).group(1))
    assert abs(heard - 440) <= 10, "16 kHz speech was resampled to the 24 kHz the Realtime API takes"
    # The session's history went in as conversation items (the character's greeting), so the fake's
    # answer is numbered after it.
    history = [i for i in connection["items"] if i.get("content", [{}])[0].get("type") in ("input_text", "output_text")]
    greetings = [i for i in history if i["role"] == "assistant"]
    assert greetings and greetings[0]["content"][0]["text"] == body["messages"][0]["text"]
    assert character[0]["text"] == f"Reply {len(greetings) + 1}: you said {learner[0]['text']}."
    assert abs(len(got.audio) / 2 / 16000 - fake.reply_ms / 1000) < 0.03, "24 kHz answer resampled to 16 kHz"
    assert abs(dominant_hz(bytes(got.audio), 16000) - 660) < 5
    spoken_turns = [(m["role"], m["text"]) for m in body["messages"] if m["voice"]]
    assert spoken_turns == [("learner", learner[0]["text"]), ("character", character[0]["text"])]


def test_barge_in_cancels_and_truncates_what_was_not_heard(server):
    fake = server.fake
    fake.pace, fake.reply_ms = 0.03, 3000
    with running(server) as client:
        session_id, headers = new_session(client)
        with call(client, session_id, headers, {"type": "start", "sample_rate": 24000}) as ws:
            got = Received(ws)
            got.until(is_type("started"))
            for frame in frames(spoken(440, 24000), 24000):
                ws.send_bytes(frame)
            got.until(lambda frame: len(got.audio) > 0)
            for frame in frames(spoken(550, 24000), 24000):
                ws.send_bytes(frame)
            got.until(is_type("interrupted"))
            heard_before = len(got.audio)
            got.until(is_type("turn_complete"))
        messages = client.get(f"/chat/sessions/{session_id}", headers=headers).json()["messages"]
    assert heard_before < 24000 * 2 * 3, "the first answer was cut short"
    cut = got.finals("character")[0]
    assert cut["interrupted"] is True
    assert fake.interruptions == 1
    # The answer's audio item was truncated to what had been heard: some, not all of its 3,000 ms.
    assert len(fake.truncations) == 1
    assert 0 < fake.truncations[0]["audio_end_ms"] < 3000
    assert fake.truncations[0]["audio_end_ms"] <= heard_before / 2 / 24000 * 1000 + 1
    voice = [(m["role"], m["text"]) for m in messages if m["voice"]]
    assert voice[1] == ("character", cut["text"]) and len(voice) == 4
    assert "tone 55" in voice[2][1]


def test_typed_text_during_a_call(server):
    with running(server) as client:
        session_id, headers = new_session(client)
        with call(client, session_id, headers, {"type": "start", "sample_rate": 24000}) as ws:
            got = Received(ws)
            got.until(is_type("started"))
            ws.send_json({"type": "text", "text": "Do you have the receipt?"})
            got.until(is_type("turn_complete"))
        messages = client.get(f"/chat/sessions/{session_id}", headers=headers).json()["messages"]
    assert [m["role"] for m in messages[-2:]] == ["learner", "character"]
    assert messages[-2]["text"] == "Do you have the receipt?"
    assert re.fullmatch(r"Reply \d+: you said Do you have the receipt\?\.", messages[-1]["text"])
    assert server.fake.realtime_connections[0]["items"][-2]["content"][0] == {"type": "input_text",
                                                                           "text": "Do you have the receipt?"}


def test_dropped_connection_reconnects_with_the_conversation_re_sent(server):
    fake = server.fake
    fake.drop_after_turns = 1
    with running(server) as client:
        session_id, headers = new_session(client)
        with call(client, session_id, headers, {"type": "start", "sample_rate": 24000}) as ws:
            got = Received(ws)
            got.until(is_type("started"))
            for frame in frames(spoken(440, 24000), 24000):
                ws.send_bytes(frame)
            got.until(is_type("turn_complete"))
            got.until(is_type("resumed"))
            for frame in frames(spoken(330, 24000), 24000):
                ws.send_bytes(frame)
            got.until(lambda f: f is not None and f.get("type") == "turn_complete" and len(got.finals()) == 4)
    assert len(fake.realtime_connections) >= 2  # the second drops after its answer too (drop_after_turns)
    resent = [(i["role"], i["content"][0]["text"]) for i in fake.realtime_connections[1]["items"][:-2]]
    first_learner, first_character = got.finals("learner")[0]["text"], got.finals("character")[0]["text"]
    assert resent[-2:] == [("user", first_learner), ("assistant", first_character)]
    numbers = [int(re.match(r"Reply (\d+):", f["text"]).group(1)) for f in got.finals("character")]
    assert numbers[1] == numbers[0] + 1, "the new connection holds the whole conversation"


@pytest.mark.anyio
async def test_start_up_probe_names_a_missing_realtime_api(server):
    from roleplay_core import Kernel, PluginError

    server.fake.realtime_available = False
    settings = {"storage.backend": "memory", "security.jwt_secret": "kq3V9xZp2Lr8Tn5Wb7Yc1Md4Fg6Hj0Sa-Ue_Io",
                **server.settings(), "chat.voice.model": "openai", "openai.timeout": 5.0}
    kernel = Kernel.create(env="production", settings_files=[], overrides=settings)
    with pytest.raises(PluginError, match="no usable Realtime API.*chat.voice.model"):
        await kernel.start()


def test_realtime_over_tls_trusts_the_private_ca(tls_server):
    # wss:// to a server whose certificate comes from openai.ca_file's authority.
    with running(tls_server) as client:
        session_id, headers = new_session(client)
        with call(client, session_id, headers, {"type": "start", "sample_rate": 24000}) as ws:
            got = Received(ws)
            got.until(is_type("started"))
            ws.send_json({"type": "text", "text": "Hello over TLS"})
            got.until(is_type("turn_complete"))
    assert tls_server.fake.realtime_connections and got.finals("character")
    assert got.finals("character")[0]["text"].endswith("you said Hello over TLS.")


def test_a_late_learner_transcription_still_comes_before_the_answer(server):
    server.fake.late_transcription = True
    with running(server) as client:
        session_id, headers = new_session(client)
        with call(client, session_id, headers, {"type": "start", "sample_rate": 24000}) as ws:
            got = Received(ws)
            got.until(is_type("started"))
            for frame in frames(spoken(440, 24000), 24000):
                ws.send_bytes(frame)
            got.until(is_type("turn_complete"))
        messages = client.get(f"/chat/sessions/{session_id}", headers=headers).json()["messages"]
    finals = [(f["role"], f["text"][:4]) for f in got.finals()]
    assert finals == [("learner", "tone"), ("character", "Repl")]
    voice = [m["role"] for m in messages if m["voice"]]
    assert voice == ["learner", "character"], "stored in the order spoken, though transcribed late"
