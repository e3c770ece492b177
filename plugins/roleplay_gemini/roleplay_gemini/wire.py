"""Gemini Live's JSON messages, read and written without the SDK's models on the audio path.

google-genai builds a pydantic model for every message it sends and parses every message it
receives into another: 58 us to send 20 ms of audio and 84 us to read an audio chunk on this
machine, against 8 and 9 us for the same JSON handled here (``benchmarks/voice_relay.py``,
decision 52). A call sends 50 audio frames a second and receives about as many, so at 100 calls
that was a third of a core. The SDK still opens the connection (endpoint, key, setup) and
handles everything but audio and server content.

Only the Gemini Developer API's shapes are written here (``realtime_input.audio``, camelCase
server messages); a Vertex AI client keeps the SDK's path throughout. ``tests/test_wire.py``
checks that what is written here is byte for byte what the SDK writes, and that every message
the test server sends means the same read either way.
"""

from __future__ import annotations

import base64
import json
from typing import Any

#: The server message keys :func:`read` understands; a message with any other key goes to the SDK.
KNOWN = frozenset({"serverContent", "sessionResumptionUpdate", "goAway", "setupComplete", "usageMetadata"})
CONTENT = frozenset({"modelTurn", "inputTranscription", "outputTranscription", "turnComplete", "interrupted",
                     "generationComplete", "turnCompleteReason", "waitingForInput"})

# Protobuf's JSON accepts both base64 alphabets for bytes; Google sends the standard one.
_URLSAFE = str.maketrans("-_", "+/")


def audio_frame(pcm: bytes, mime_type: str) -> str:
    """The text frame ``AsyncSession.send_realtime_input(audio=Blob(...))`` sends (Developer API)."""
    # The SDK writes snake_case keys here and URL-safe base64 (the service reads both forms).
    return json.dumps({"realtime_input": {"audio": {"data": base64.urlsafe_b64encode(pcm).decode("ascii"),
                                                    "mime_type": mime_type}}})


def read(raw: bytes | str) -> dict[str, Any] | None:
    """A server message as a dict when every key in it is one this module reads, else None
    (the caller hands such messages to the SDK)."""
    message = json.loads(raw) if raw else {}
    if not isinstance(message, dict) or not message or not KNOWN.issuperset(message):
        return None
    content = message.get("serverContent")
    if content is not None and (not isinstance(content, dict) or not CONTENT.issuperset(content)):
        return None
    return message


def inline_audio(content: dict[str, Any]) -> list[tuple[bytes, str]]:
    """The audio parts of a ``serverContent`` (data, MIME type), in order."""
    found = []
    for part in (content.get("modelTurn") or {}).get("parts") or ():
        blob = part.get("inlineData")
        if blob and blob.get("data") and str(blob.get("mimeType") or "").startswith("audio/"):
            found.append((base64.b64decode(str(blob["data"]).translate(_URLSAFE)), blob["mimeType"]))
    return found
