"""The voice endpoint's own failure handling, with a stand-in live provider (the Gemini end-to-end
tests live in plugins/roleplay_gemini/tests/test_voice.py).

Test home of ``roleplay_chat.voice`` and of the parts of a call it runs: ``roleplay_chat.quota``
(limits in storage), ``roleplay_chat.resume`` (resumption handles) and ``roleplay_chat.relay``
(the audio relay).
"""

from __future__ import annotations

import asyncio
import contextlib
import json

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from roleplay_core import (
    AudioChunk,
    Interrupted,
    LiveSession,
    ModelProvider,
    ProviderError,
    TranscriptFinal,
    TurnComplete,
    hookimpl,
)
from roleplay_core.testing import auth_headers, make_app


class EchoLive(LiveSession):
    """Answers every 10 frames of audio with a stored turn; fails on demand."""

    input_sample_rate = 16_000
    output_sample_rate = 24_000
    frame_ms = 20

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.events: asyncio.Queue = asyncio.Queue()
        self.frames: list[bytes] = []
        self.closed = False

    async def send_audio(self, pcm: bytes) -> None:
        if self.mode == "stuck":  # a provider that stops taking audio
            await asyncio.Event().wait()
        self.frames.append(pcm)
        if len(self.frames) % 10 == 0:
            if self.mode == "fail":
                await self.events.put(ProviderError("the model fell over"))
                return
            if self.mode == "barge":  # a second of speech, then the learner talks over it at once
                await self.events.put(AudioChunk(b"\x00\x10" * 24_000, 24_000))
                await self.events.put(Interrupted())
                await self.events.put(TurnComplete())
                return
            await self.events.put(TranscriptFinal(role="learner", text=f"heard {len(self.frames)} frames"))
            await self.events.put(AudioChunk(b"\x00\x10" * 2400, 24_000))
            await self.events.put(TranscriptFinal(role="character", text="fine", duration_ms=100))
            await self.events.put(TurnComplete())

    async def send_text(self, text: str) -> None:
        pass

    async def end_of_turn(self) -> None:
        pass

    async def receive(self):
        while True:
            item = await self.events.get()
            if isinstance(item, Exception):
                raise item
            yield item

    async def close(self) -> None:
        self.closed = True


class EchoProvider(ModelProvider):
    name = "echo-live"
    capabilities = frozenset({"live"})
    mode = "echo"
    sessions: list[EchoLive] = []

    def __init__(self, kernel) -> None:
        pass

    async def connect_live(self, request):
        if self.mode == "refuse":
            raise ProviderError("no capacity")
        session = EchoLive(self.mode)
        EchoProvider.sessions.append(session)
        return session


class EchoPlugin:
    @hookimpl
    def register_model_providers(self):
        return {"echo-live": EchoProvider}


@contextlib.contextmanager
def app_client(mode: str = "echo", **settings):
    EchoProvider.mode = mode
    EchoProvider.sessions = []
    app = make_app({"chat.voice.model": "echo-live", "chat.limits.sessions_per_day": 0,
                    "chat.limits.messages_per_minute": 0, **settings}, plugins=[EchoPlugin()])
    with TestClient(app) as client:
        yield client


def start_call(client: TestClient, user: str = "u-1"):
    headers = auth_headers(client.app, user)
    session_id = client.post("/chat/sessions", json={"scenario_id": "refund-angry-customer"}, headers=headers).json()["id"]
    ws = client.websocket_connect(f"/chat/sessions/{session_id}/voice")
    return session_id, headers, ws


def auth_and_start(ws, headers) -> None:
    ws.send_json({"type": "auth", "token": headers["Authorization"].removeprefix("Bearer ")})
    assert ws.receive_json()["type"] == "authenticated"
    ws.send_json({"type": "start", "sample_rate": 16000})


def read_until(ws, kind: str) -> list[dict]:
    frames = []
    while True:
        message = ws.receive()
        if message.get("text"):
            frame = json.loads(message["text"])
            frames.append(frame)
            if frame["type"] == kind:
                return frames


def test_voice_model_setting_chooses_a_provider_and_turns_are_stored():
    with app_client() as client:
        session_id, headers, connect = start_call(client)
        with connect as ws:
            auth_and_start(ws, headers)
            assert ws.receive_json()["type"] == "started"
            for _ in range(10):
                ws.send_bytes(b"\x01\x00" * 320)
            frames = read_until(ws, "turn_complete")
            ws.send_json({"type": "ping"})
            assert read_until(ws, "pong")
        finals = [f for f in frames if f["type"] == "transcript" and f["final"]]
        assert [(f["role"], f["text"], f["duration_ms"]) for f in finals] == [
            ("learner", "heard 10 frames", 200), ("character", "fine", 100)]
        assert EchoProvider.sessions[0].closed, "the live session is closed when the client leaves"
        assert all(len(f) == 640 for f in EchoProvider.sessions[0].frames)
        messages = client.get(f"/chat/sessions/{session_id}", headers=headers).json()["messages"]
        assert [(m["role"], m["voice"], m.get("duration_ms")) for m in messages if m["voice"]] == [
            ("learner", True, 200), ("character", True, 100)]


def test_interrupted_drops_the_queued_playback():
    with app_client("barge") as client:
        _, headers, connect = start_call(client)
        with connect as ws:
            auth_and_start(ws, headers)
            assert ws.receive_json()["type"] == "started"
            for _ in range(10):
                ws.send_bytes(b"\x01\x00" * 320)
            audio_bytes, kinds = 0, []
            while "turn_complete" not in kinds:
                message = ws.receive()
                if message.get("bytes") is not None:
                    audio_bytes += len(message["bytes"])
                else:
                    kinds.append(json.loads(message["text"])["type"])
        assert kinds == ["interrupted", "turn_complete"]
        # The second of audio was queued when the interruption came: (almost) none of it is played.
        assert audio_bytes < 16_000 * 2 // 2


DEEP = "[" * 5000 + "]" * 5000  # nested too deeply for the parser (RecursionError)


@pytest.mark.parametrize("frame", [
    DEEP,
    '{"type": "text", "text": ' + DEEP + "}",
    '{"type": "text", "text": "\\ud800"}',  # a lone surrogate: valid JSON, not text
    '{"type": "ping", "x": "\\udc00"}',
])
@pytest.mark.parametrize("when", ["start", "mid-call"])
def test_unparseable_frames_are_bad_frames_closed_4400(frame, when):
    with app_client() as client:
        session_id, headers, connect = start_call(client)
        before = client.get(f"/chat/sessions/{session_id}", headers=headers).json()["last_seq"]
        with connect as ws:
            ws.send_json({"type": "auth", "token": headers["Authorization"].removeprefix("Bearer ")})
            assert ws.receive_json()["type"] == "authenticated"
            if when == "mid-call":
                ws.send_json({"type": "start", "sample_rate": 16000})
                assert ws.receive_json()["type"] == "started"
            ws.send_text(frame)
            error = read_until(ws, "error")[-1]
            assert (error["status"], error["code"]) == (400, "bad_frame") and error["detail"]
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
            assert closed.value.code == 4400
        assert client.get(f"/chat/sessions/{session_id}", headers=headers).json()["last_seq"] == before
        assert client.get("/healthz").status_code == 200


@pytest.mark.parametrize("text", ["a\u0000b", "\u0001", "esc\u001b[2J", "del\u007f"])
def test_typed_text_with_control_characters_is_refused_and_the_call_goes_on(text):
    with app_client() as client:
        session_id, headers, connect = start_call(client)
        with connect as ws:
            auth_and_start(ws, headers)
            assert ws.receive_json()["type"] == "started"
            ws.send_json({"type": "text", "text": text})
            error = read_until(ws, "error")[-1]
            assert (error["status"], error["field"]) == (422, "text")
            ws.send_json({"type": "ping"})
            assert read_until(ws, "pong")
            ws.send_json({"type": "text", "text": "fine\ttext"})
            ws.send_json({"type": "ping"})
            assert read_until(ws, "pong")
            for _ in range(10):  # a stored turn after the typed one proves the typed one was recorded first
                ws.send_bytes(b"\x01\x00" * 320)
            read_until(ws, "turn_complete")
        texts = [m["text"] for m in client.get(f"/chat/sessions/{session_id}", headers=headers).json()["messages"]]
        assert "fine\ttext" in texts and not any(text in t for t in texts)


def test_a_stuck_provider_fills_the_bounded_buffer_then_ends_the_call():
    with app_client("stuck", **{"chat.voice.stall_timeout": 0.3, "chat.voice.buffer_ms": 200}) as client:
        _, headers, connect = start_call(client)
        with connect as ws:
            auth_and_start(ws, headers)
            assert ws.receive_json()["type"] == "started"
            for _ in range(40):  # 800 ms of audio against a 200 ms buffer nobody drains
                ws.send_bytes(b"\x01\x00" * 320)
            error = read_until(ws, "error")[-1]
            assert error["code"] == "stalled"
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
            assert closed.value.code == 4503


def test_provider_failure_mid_call_is_an_error_frame():
    with app_client("fail") as client:
        _, headers, connect = start_call(client)
        with connect as ws:
            auth_and_start(ws, headers)
            assert ws.receive_json()["type"] == "started"
            for _ in range(10):
                ws.send_bytes(b"\x01\x00" * 320)
            error = read_until(ws, "error")[-1]
            assert error["code"] == "provider_error" and "fell over" in error["detail"]
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
            assert closed.value.code == 4503


def test_provider_that_cannot_connect_is_an_error_frame():
    with app_client("refuse") as client:
        _, headers, connect = start_call(client)
        with connect as ws:
            auth_and_start(ws, headers)
            error = ws.receive_json()
            assert error["code"] == "provider_unavailable" and "no capacity" in error["detail"]


def test_call_ends_when_the_session_is_ended_elsewhere():
    with app_client() as client:
        session_id, headers, connect = start_call(client)
        with connect as ws:
            auth_and_start(ws, headers)
            assert ws.receive_json()["type"] == "started"
            assert client.post(f"/chat/sessions/{session_id}/end", headers=headers).status_code == 200
            for _ in range(10):
                ws.send_bytes(b"\x01\x00" * 320)
            error = read_until(ws, "error")[-1]
            assert error["code"] == "session_ended"
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
            assert closed.value.code == 4409
        # An ended session refuses a new call before any audio.
        with client.websocket_connect(f"/chat/sessions/{session_id}/voice") as ws:
            ws.send_json({"type": "auth", "token": headers["Authorization"].removeprefix("Bearer ")})
            ws.receive_json()
            assert ws.receive_json()["code"] == "session_ended"


def test_without_a_live_provider_voice_says_so():
    app = make_app({"chat.limits.sessions_per_day": 0})  # chat.model = scripted, no chat.voice.model
    with TestClient(app) as client:
        _, headers, connect = start_call(client)
        with connect as ws:
            ws.send_json({"type": "auth", "token": headers["Authorization"].removeprefix("Bearer ")})
            ws.receive_json()
            error = ws.receive_json()
            assert (error["status"], error["code"]) == (503, "no_live_capability")
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
            assert closed.value.code == 4503


def test_unauthenticated_voice_is_refused():
    with app_client() as client:
        _, _, connect = start_call(client)
        with connect as ws:
            ws.send_json({"type": "start", "sample_rate": 16000})
            assert ws.receive_json()["type"] == "error"
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
            assert closed.value.code == 4401


def test_voice_settings_are_defaults_and_are_validated():
    from roleplay_core import SettingsError
    from roleplay_core.testing import make_kernel

    kernel = make_kernel()
    assert kernel.settings.get("chat.voice.max_concurrent_per_user") == 2
    assert kernel.settings.get("chat.voice.keep_audio") is False
    strong = "k3Jf9-Qz7Lw2Xv8Rt5Yp1Hn6Bm4Cd0Ae"
    with pytest.raises(SettingsError, match="chat.voice.max_minutes_per_day"):
        make_kernel({"chat.voice.max_minutes_per_day": -1, "security.jwt_secret": strong,
                     "storage.file.allow_in_production": True}, env="beta")
    with pytest.raises(SettingsError, match="chat.voice.frame_ms"):
        make_kernel({"chat.voice.frame_ms": 0, "security.jwt_secret": strong,
                     "storage.file.allow_in_production": True}, env="beta")
    assert make_kernel({"chat.voice.max_minutes_per_day": 0}).settings.get("chat.voice.max_minutes_per_day") == 0


def test_a_draining_server_tells_the_call_to_reconnect_with_1012():
    """SIGTERM's drain (kernel.begin_drain): the turn under way is stored, then a reconnect frame and 1012."""
    with app_client() as client:
        session_id, headers, connect = start_call(client)
        with connect as ws:
            auth_and_start(ws, headers)
            assert ws.receive_json()["type"] == "started"
            for _ in range(10):
                ws.send_bytes(b"\x01\x00" * 320)
            read_until(ws, "turn_complete")
            client.portal.call(client.app.state.kernel.begin_drain)
            frames = read_until(ws, "reconnect")
            assert frames[-1]["code"] == "server_restarting"
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
            assert closed.value.code == 1012
        messages = client.get(f"/chat/sessions/{session_id}", headers=headers)
        assert messages.status_code == 503 and messages.json()["code"] == "server_draining"
        assert client.app.state.kernel._sockets == 0
