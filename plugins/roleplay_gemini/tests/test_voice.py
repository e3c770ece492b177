"""The voice endpoint end to end: WebSocket client -> chat's /voice relay -> google-genai -> local Live server (TLS)."""

from __future__ import annotations

import contextlib
import json
import re
import time
from typing import Any

import numpy as np
import pytest
from roleplay_gemini.testserver import dominant_hz, tone
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from roleplay_core.testing import auth_headers, make_app

from .conftest import needs_chat

pytestmark = needs_chat  # the /voice relay, sessions and the scenario all belong to roleplay-chat

SCENARIO = "refund-angry-customer"


def build_app(gemini, **overrides: Any):
    settings = {**gemini.settings(), "chat.model": "gemini", "chat.limits.sessions_per_day": 0,
                "chat.limits.messages_per_minute": 0, "chat.voice.tick_seconds": 0.2}
    settings.update(overrides)
    return make_app(settings)


@contextlib.contextmanager
def running(gemini, **overrides: Any):
    with TestClient(build_app(gemini, **overrides)) as client:
        yield client


def new_session(client: TestClient, user: str = "u-voice") -> tuple[str, dict[str, str]]:
    headers = auth_headers(client.app, user)
    response = client.post("/chat/sessions", json={"scenario_id": SCENARIO}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["id"], headers


def stereo(pcm: bytes) -> bytes:
    mono = np.frombuffer(pcm, dtype="<i2")
    return np.repeat(mono, 2).astype("<i2").tobytes()


def spoken(freq: float, rate: int, ms: int = 400, silence_ms: int = 400) -> bytes:
    return tone(freq, ms, rate) + bytes(int(rate * silence_ms / 1000) * 2)


def frames(pcm: bytes, rate: int, channels: int = 1, frame_ms: int = 20) -> list[bytes]:
    step = rate * frame_ms // 1000 * 2 * channels
    return [pcm[i:i + step] for i in range(0, len(pcm), step)]


@contextlib.contextmanager
def call(client: TestClient, session_id: str, headers: dict[str, str], start: dict[str, Any] | None = None):
    token = headers["Authorization"].removeprefix("Bearer ")
    with client.websocket_connect(f"/chat/sessions/{session_id}/voice") as ws:
        ws.send_json({"type": "auth", "token": token})
        assert ws.receive_json()["type"] == "authenticated"
        if start is not None:
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


def test_spoken_turn_round_trip_is_stored_as_voice_messages(gemini):
    with running(gemini) as client:
        session_id, headers = new_session(client)
        with call(client, session_id, headers, {"type": "start", "sample_rate": 48000, "channels": 2,
                                                 "output_sample_rate": 44100}) as ws:
            got = Received(ws)
            started = got.until(is_type("started"))
            assert (started["input_sample_rate"], started["output_sample_rate"], started["channels"]) == (48000, 44100, 2)
            for frame in frames(stereo(spoken(440, 48000)), 48000, channels=2):
                ws.send_bytes(frame)
            got.until(is_type("turn_complete"))
            heard_by_turn_end = len(got.audio)
            ws.send_json({"type": "stop"})
            got.until(is_type("stopped"))
        learner, character = got.finals("learner"), got.finals("character")
        heard = int(re.search(r"tone (\d+) hertz", learner[0]["text"]).group(1))
        assert abs(heard - 440) <= 10, "resampled 48 kHz stereo arrives as a 440 Hz tone at 16 kHz"
        assert character[0]["text"].startswith("Reply 1: you said tone")
        assert any(f["type"] == "transcript" and not f["final"] and f["role"] == "character" for f in got.frames)
        # The character's 600 ms at 24 kHz come back at 44.1 kHz, still a 660 Hz tone.
        assert abs(len(got.audio) / 2 / 44100 - gemini.fake.reply_ms / 1000) < 0.03
        assert heard_by_turn_end == len(got.audio), "all of the answer is sent before turn_complete"
        assert abs(dominant_hz(bytes(got.audio), 44100) - 660) < 5
        body = client.get(f"/chat/sessions/{session_id}", headers=headers).json()
        spoken_turns = [m for m in body["messages"] if m["voice"]]
        assert [(m["role"], m["text"]) for m in spoken_turns] == [("learner", learner[0]["text"]),
                                                                  ("character", character[0]["text"])]
        assert [m["seq"] for m in spoken_turns] == [learner[0]["seq"], character[0]["seq"]]
        assert spoken_turns[0]["duration_ms"] >= 700 and 550 <= spoken_turns[1]["duration_ms"] <= 650
        assert body["counts"]["voice"] == 2
        export = client.get(f"/chat/sessions/{session_id}/export?format=jsonl", headers=headers)
        assert export.status_code == 200 and "Reply 1: you said tone" in export.text


def test_typed_text_during_a_call(gemini):
    with running(gemini) as client:
        session_id, headers = new_session(client)
        with call(client, session_id, headers, {"type": "start", "sample_rate": 16000}) as ws:
            got = Received(ws)
            got.until(is_type("started"))
            ws.send_json({"type": "text", "text": "Do you have the receipt?"})
            got.until(is_type("turn_complete"))
        messages = client.get(f"/chat/sessions/{session_id}", headers=headers).json()["messages"]
        assert [(m["role"], m["text"], m["voice"]) for m in messages[-2:]] == [
            ("learner", "Do you have the receipt?", False),
            ("character", "Reply 1: you said Do you have the receipt?.", True)]


def test_barge_in_flushes_playback_and_marks_the_cut_turn(gemini):
    gemini.fake.pace, gemini.fake.reply_ms = 0.03, 3000
    with running(gemini) as client:
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
        assert heard_before < 24000 * 2 * 3, "the first answer was cut short"
        cut = got.finals("character")[0]
        assert cut["interrupted"] is True
        messages = client.get(f"/chat/sessions/{session_id}", headers=headers).json()["messages"]
        voice = [(m["role"], m["text"]) for m in messages if m["voice"]]
        assert voice[1] == ("character", cut["text"]) and len(voice) == 4
        assert "tone 55" in voice[2][1]


def test_go_away_is_resumed_transparently(gemini):
    gemini.fake.go_away_after_turns = 1
    with running(gemini) as client:
        session_id, headers = new_session(client)
        with call(client, session_id, headers, {"type": "start", "sample_rate": 16000}) as ws:
            got = Received(ws)
            got.until(is_type("started"))
            for frame in frames(spoken(440, 16000), 16000):
                ws.send_bytes(frame)
            got.until(is_type("turn_complete"))
            got.until(is_type("resumed"))
            for frame in frames(spoken(330, 16000), 16000):
                ws.send_bytes(frame)
            got.until(lambda f: f is not None and f.get("type") == "turn_complete" and len(got.finals()) == 4)
        assert any(f["type"] == "reconnecting" for f in got.frames)
        assert len(gemini.fake.resumed) >= 1
        assert got.finals("character")[1]["text"].startswith("Reply 2:"), "the model kept the conversation"


def test_garbage_frames_get_error_frames_not_a_crash(gemini):
    with running(gemini) as client:
        session_id, headers = new_session(client)
        # Binary before the start frame.
        with call(client, session_id, headers) as ws:
            ws.send_bytes(b"\x00\x01garbage")
            error = ws.receive_json()
            assert error["type"] == "error" and error["code"] == "bad_frame"
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
            assert closed.value.code == 4400
        # A start frame with a bad rate names the field.
        with call(client, session_id, headers, {"type": "start", "sample_rate": 8000}) as ws:
            error = ws.receive_json()
            assert (error["code"], error["field"]) == ("bad_frame", "sample_rate")
        # Mid-call: a torn PCM frame is dropped with an error and the call goes on; junk JSON ends it.
        with call(client, session_id, headers, {"type": "start", "sample_rate": 16000}) as ws:
            got = Received(ws)
            got.until(is_type("started"))
            ws.send_bytes(b"\x01\x02\x03")
            assert got.until(is_type("error"))["code"] == "bad_audio"
            for frame in frames(spoken(440, 16000), 16000):
                ws.send_bytes(frame)
            got.until(is_type("turn_complete"))
            ws.send_text("{not json")
            assert got.until(is_type("error"))["code"] == "bad_frame"
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
            assert closed.value.code == 4400
        assert client.get("/healthz").status_code == 200


def test_scripted_provider_has_no_voice(gemini):
    with running(gemini, **{"chat.model": "scripted"}) as client:
        session_id, headers = new_session(client)
        with call(client, session_id, headers) as ws:
            error = ws.receive_json()
            assert error["code"] == "no_live_capability" and "'scripted'" in error["detail"]
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
            assert closed.value.code == 4503


def test_someone_elses_session_is_not_found(gemini):
    with running(gemini) as client:
        session_id, _ = new_session(client, "u-owner")
        with call(client, session_id, auth_headers(client.app, "u-other")) as ws:
            assert ws.receive_json()["code"] == "session_not_found"
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
            assert closed.value.code == 4404


def test_concurrent_calls_per_user_are_limited(gemini):
    with running(gemini, **{"chat.voice.max_concurrent_per_user": 1}) as client:
        session_id, headers = new_session(client)
        with call(client, session_id, headers, {"type": "start", "sample_rate": 16000}) as first:
            Received(first).until(is_type("started"))
            with call(client, session_id, headers, {"type": "start", "sample_rate": 16000}) as second:
                error = second.receive_json()
                assert error["code"] == "voice_concurrency"
                with pytest.raises(WebSocketDisconnect) as closed:
                    second.receive_json()
                assert closed.value.code == 4429
            first.send_json({"type": "stop"})
            Received(first).until(is_type("stopped"))
        # The lease went with the first call: a new call may start.
        with call(client, session_id, headers, {"type": "start", "sample_rate": 16000}) as again:
            Received(again).until(is_type("started"))


def test_minutes_per_day_end_the_call(gemini):
    # 0.01 minutes = 0.6 s of voice a day, counted every 0.2 s.
    with running(gemini, **{"chat.voice.max_minutes_per_day": 0.01}) as client:
        session_id, headers = new_session(client)
        started = time.monotonic()
        with call(client, session_id, headers, {"type": "start", "sample_rate": 16000}) as ws:
            got = Received(ws)
            got.until(is_type("started"))
            error = got.until(is_type("error"))
            assert error["code"] == "voice_minutes_per_day"
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
            assert closed.value.code == 4429
        assert time.monotonic() - started < 20  # ended by the limit, not by a test timeout
        with call(client, session_id, headers, {"type": "start", "sample_rate": 16000}) as ws:
            assert ws.receive_json()["code"] == "voice_minutes_per_day"


def test_minutes_per_session_end_the_call(gemini):
    with running(gemini, **{"chat.voice.max_minutes_per_session": 0.01}) as client:
        session_id, headers = new_session(client)
        with call(client, session_id, headers, {"type": "start", "sample_rate": 16000}) as ws:
            got = Received(ws)
            got.until(is_type("started"))
            assert got.until(is_type("error"))["code"] == "voice_minutes_per_session"
        other, _ = new_session(client)
        with call(client, other, headers, {"type": "start", "sample_rate": 16000}) as ws:
            Received(ws).until(is_type("started"))


def test_learner_audio_is_kept_only_when_enabled(gemini):
    for keep in (False, True):
        with running(gemini, **{"chat.voice.keep_audio": keep}) as client:
            session_id, headers = new_session(client)
            with call(client, session_id, headers, {"type": "start", "sample_rate": 16000}) as ws:
                got = Received(ws)
                got.until(is_type("started"))
                for frame in frames(spoken(440, 16000), 16000):
                    ws.send_bytes(frame)
                got.until(is_type("turn_complete"))
            storage = client.app.state.kernel.storage
            keys = client.portal.call(storage.list_all, f"chat/sessions/{session_id}/voice-audio/")
            if not keep:
                assert keys == []
                continue
            seq = got.finals("learner")[0]["seq"]
            assert keys == [f"chat/sessions/{session_id}/voice-audio/{seq:012d}.wav"]
            wav = client.portal.call(storage.get, keys[0]).data
            assert wav[:4] == b"RIFF" and len(wav) > 16000 * 2 * 0.4


def one_turn(client, session_id, headers, freq: float = 440) -> tuple[dict[str, Any], Received]:
    with call(client, session_id, headers, {"type": "start", "sample_rate": 16000}) as ws:
        got = Received(ws)
        started = got.until(is_type("started"))
        for frame in frames(spoken(freq, 16000), 16000):
            ws.send_bytes(frame)
        got.until(is_type("turn_complete"))
        ws.send_json({"type": "stop"})
        got.until(is_type("stopped"))
    return started, got


def test_a_later_call_resumes_the_models_conversation_unless_text_came_between(gemini):
    with running(gemini) as client:
        session_id, headers = new_session(client)
        started, got = one_turn(client, session_id, headers)
        assert started["resumed"] is False
        assert got.finals("character")[0]["text"].startswith("Reply 1:")
        started, got = one_turn(client, session_id, headers, 330)
        assert started["resumed"] is True and len(gemini.fake.resumed) == 1
        assert got.finals("character")[0]["text"].startswith("Reply 2:"), "the model remembered the first call"
        typed = client.post(f"/chat/sessions/{session_id}/messages", json={"text": "Let me check."}, headers=headers)
        assert typed.status_code == 201, typed.text
        started, got = one_turn(client, session_id, headers, 550)
        assert started["resumed"] is False, "the model never heard the typed turn: start afresh with the history"
        assert got.finals("character")[0]["text"].startswith("Reply 1:")
        instruction = gemini.fake.setups[-1]["systemInstruction"]["parts"][0]["text"]
        assert "learner: Let me check." in instruction
