"""Gemini Live's audio path without the SDK's models says and reads exactly what the SDK would.

Test home of ``roleplay_gemini.wire``. The end-to-end proof is ``test_live.py``, which runs every
Live test both ways against the local server; here each message is compared one by one.
"""

from __future__ import annotations

import base64
import json

import pytest
from google.genai import live as sdk_live
from google.genai import types
from roleplay_gemini import wire
from roleplay_gemini.live import GeminiLiveSession, _sdk_parser, has_socket

pytestmark = pytest.mark.anyio


class CapturingSocket:
    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, message: str) -> None:
        self.sent.append(message)


class DeveloperApi:
    vertexai = False


@pytest.mark.parametrize("pcm", [b"", b"\x00\x01", bytes(range(256)) * 3, b"\xfb\xff\xfe" * 214, b"\xff" * 640])
async def test_an_audio_frame_is_byte_for_byte_what_the_sdk_sends(pcm):
    socket = CapturingSocket()
    session = sdk_live.AsyncSession.__new__(sdk_live.AsyncSession)
    session._ws = socket
    session._api_client = DeveloperApi()
    await session.send_realtime_input(audio=types.Blob(data=pcm, mime_type="audio/pcm;rate=16000"))
    assert wire.audio_frame(pcm, "audio/pcm;rate=16000") == socket.sent[-1]


def audio_part(pcm: bytes, rate: int = 24_000, urlsafe: bool = False) -> dict:
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    return {"inlineData": {"mimeType": f"audio/pcm;rate={rate}", "data": encode(pcm).decode()}}


# What the local test server and the Live API send, one message each (camelCase, as on the wire).
MESSAGES = [
    {"setupComplete": {}},
    {"serverContent": {"inputTranscription": {"text": "I want my money"}}},
    {"serverContent": {"modelTurn": {"parts": [audio_part(b"\xfb\xff" * 480)]},
                       "outputTranscription": {"text": "Sorry to hear"}}},
    {"serverContent": {"modelTurn": {"parts": [audio_part(b"\xfb\xff\xfe" * 100, rate=16_000),
                                               {"text": "a text part is not audio"}, audio_part(b"\x01" * 10)]}}},
    {"serverContent": {"modelTurn": {"parts": [audio_part(b"\xfb\xff\xfe" * 100, urlsafe=True)]}}},
    {"serverContent": {"interrupted": True}},
    {"serverContent": {"generationComplete": True}},
    {"serverContent": {"turnComplete": True}},
    {"serverContent": {"turnComplete": True, "turnCompleteReason": "TURN_COMPLETE_REASON_UNSPECIFIED"}},
    {"serverContent": {"waitingForInput": True}},
    {"sessionResumptionUpdate": {"newHandle": "h-1", "resumable": True}},
    {"sessionResumptionUpdate": {"newHandle": "h-2", "resumable": False}},
    {"sessionResumptionUpdate": {}},
    {"goAway": {"timeLeft": "0.2s"}},
    {"usageMetadata": {"promptTokenCount": 10, "totalTokenCount": 12}},
    {"serverContent": {"outputTranscription": {"text": "bye"}, "turnComplete": True},
     "usageMetadata": {"totalTokenCount": 3}},
    # Left to the SDK (keys wire.py does not read):
    {"toolCall": {"functionCalls": [{"name": "refund", "args": {}}]}},
    {"serverContent": {"groundingMetadata": {}, "turnComplete": True}},
]


def recording_session() -> tuple[GeminiLiveSession, list[dict]]:
    calls: list[dict] = []
    session = GeminiLiveSession.__new__(GeminiLiveSession)

    async def apply(**fields):
        calls.append(fields)

    session._apply = apply
    return session, calls


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: "+".join(sorted(m)))
async def test_every_message_means_the_same_read_either_way(message):
    raw = json.dumps(message).encode()
    by_sdk, sdk_calls = recording_session()
    await by_sdk._translate(_sdk_parser()(raw))
    read = wire.read(raw)
    if read is None:  # not one wire.py reads: the live session hands it to the SDK
        assert set(message) - wire.KNOWN or set(message.get("serverContent", {})) - wire.CONTENT
        return
    directly, direct_calls = recording_session()
    await directly._translate_json(read)
    assert direct_calls == sdk_calls


async def test_messages_wire_does_not_read_are_left_to_the_sdk():
    assert wire.read(b'{"toolCall": {}}') is None
    assert wire.read(b'{"serverContent": {"groundingMetadata": {}}}') is None
    assert wire.read(b"[]") is None
    assert wire.read(b"") is None
    assert wire.read(b'{"serverContent": {"turnComplete": true}}') == {"serverContent": {"turnComplete": True}}


async def test_an_error_message_is_a_provider_error():
    from roleplay_core import ProviderError

    with pytest.raises(ProviderError, match="RESOURCE_EXHAUSTED"):
        _sdk_parser()(b'{"error": {"code": 429, "status": "RESOURCE_EXHAUSTED"}}')


async def test_a_session_without_the_sdks_socket_goes_through_the_sdk():
    real = sdk_live.AsyncSession.__new__(sdk_live.AsyncSession)
    real._ws = CapturingSocket()
    assert not has_socket(real)  # CapturingSocket cannot recv
    real._ws.recv = lambda: None
    assert has_socket(real)
    assert not has_socket(object())  # a future SDK that keeps its socket under another name
