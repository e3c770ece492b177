"""The voice socket's control frames: reading them, and ending a call with an error frame.

Client frames are JSON text (``start`` first, then ``text``, ``end_turn``, ``auth``, ``ping``,
``stop``; docs/voice.md); audio travels in binary frames (``relay.py``). A frame that breaks the
protocol is :class:`~roleplay_chat.errors.BadFrame`; :func:`refuse` sends any
:class:`~roleplay_chat.errors.ChatError` as the one error frame shape and closes with its code.
"""

from __future__ import annotations

import contextlib
from typing import Any

from starlette.websockets import WebSocket, WebSocketState

from roleplay_core import close_reason

from . import audio, errors
from .errors import BadFrame
from .text import parse_frame

#: The close code of a call that ended as asked.
CLOSE_NORMAL = 1000


def parse_start(frame: Any) -> tuple[int, int, int]:
    """``(sample_rate, output_sample_rate, channels)`` from a start frame, or :class:`BadFrame` naming the field."""
    if not isinstance(frame, dict) or frame.get("type") != "start":
        raise BadFrame('the first frame after authentication must be {"type": "start", "sample_rate": ...}', "type")
    unknown = set(frame) - {"type", "sample_rate", "output_sample_rate", "channels"}
    if unknown:
        raise BadFrame(f"unknown field(s): {', '.join(sorted(unknown))}", sorted(unknown)[0])
    rates = ", ".join(str(r) for r in audio.CLIENT_RATES)

    def rate(name: str, default: int | None) -> int:
        value = frame.get(name, default)
        if isinstance(value, bool) or value not in audio.CLIENT_RATES:
            raise BadFrame(f"{name} must be one of {rates}", name)
        return int(value)

    sample_rate = rate("sample_rate", None)
    output_rate = rate("output_sample_rate", sample_rate)
    channels = frame.get("channels", 1)
    if isinstance(channels, bool) or channels not in (1, 2):
        raise BadFrame("channels must be 1 or 2", "channels")
    return sample_rate, output_rate, int(channels)


def json_frame(message: dict[str, Any]) -> dict[str, Any]:
    """The control frame in a received WebSocket ``message``, or :class:`BadFrame`."""
    if message.get("text") is None:
        raise BadFrame("control frames are JSON text")
    try:
        frame = parse_frame(message["text"])
    except ValueError as exc:
        raise BadFrame(str(exc)) from None
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        raise BadFrame('a control frame is a JSON object with a "type"', "type")
    return frame


async def close(websocket: WebSocket, code: int, reason: str) -> None:
    """Close the socket unless the client already has."""
    with contextlib.suppress(Exception):
        if websocket.application_state != WebSocketState.DISCONNECTED:
            await websocket.close(code, close_reason(reason))


async def refuse(websocket: WebSocket, error: errors.ChatError) -> None:
    """Send ``error``'s frame, then close with its code (the WebSocket edge of chat's domain errors)."""
    with contextlib.suppress(Exception):
        await websocket.send_json(errors.frame(error))
    await close(websocket, errors.close_code(error), error.detail)
