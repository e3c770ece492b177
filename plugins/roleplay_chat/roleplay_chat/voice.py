"""``WS /chat/sessions/{id}/voice``: speak with the character in real time.

Protocol (see docs/voice.md):

1. client ``{"type": "auth", "token": "..."}`` -> ``{"type": "authenticated", ...}`` (kernel rule).
2. client ``{"type": "start", "sample_rate": 16000|24000|44100|48000, "output_sample_rate": ..., "channels": 1|2}``
   -> server ``{"type": "started", ...}`` once the model's live session is open.
3. client binary frames: PCM16 little-endian at ``sample_rate`` (interleaved when 2 channels);
   JSON control frames ``{"type": "text", "text": "..."}`` (typed input), ``{"type": "end_turn"}``
   (the microphone closed), ``{"type": "ping"}`` and ``{"type": "stop"}`` (end the call).
4. server binary frames: the character's speech, PCM16 mono at ``output_sample_rate``; JSON
   ``transcript`` frames (``role``, ``text``, ``final``; finals carry the stored ``seq`` and
   ``duration_ms``), ``turn_complete``, ``interrupted`` (drop queued playback), ``reconnecting`` /
   ``resumed`` (the provider changed connection), ``error`` and finally ``stopped``.

Both sides' final transcripts are appended to the session's event log as messages
marked ``voice`` with durations, through chat's session service, so history,
export and evaluation see spoken turns like typed ones.

Limits (``chat.voice.*``) are kept in storage, so every server process sees them (``quota.py``).

This module is the endpoint: it authenticates, checks the session, reads the start frame, opens
the model's live session (resuming the model's conversation when it can, ``resume.py``) and hands
the call to the relay (``relay.py``). Every refusal is one of chat's domain errors, sent as the one
error frame shape and a close code (``frames.refuse``).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import attrs
from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from roleplay_core import (
    LiveRequest,
    LiveSession,
    NotSupported,
    ProviderError,
    SocketAuth,
    SocketClosed,
    authenticate_websocket,
    channel,
    metrics,
)

from . import audio, errors, schemas, sessions, turns
from .config import VOICE_DEFAULTS
from .errors import BadFrame
from .frames import close, json_frame, parse_start, refuse
from .quota import Usage, lease_prefix
from .relay import Call, run
from .resume import resumable_handle

#: Defaults of the ``chat.voice`` settings live with the plugin's other defaults (config.py).
DEFAULTS = VOICE_DEFAULTS
OUTPUT_RATES = audio.CLIENT_RATES

#: Names other modules and tests reach through the endpoint's module.
__all__ = ["DEFAULTS", "OUTPUT_RATES", "BadFrame", "lease_prefix", "live_provider", "parse_start", "routes",
           "voice_socket"]


def live_provider(kernel: Any) -> Any:
    """The provider for voice (``chat.voice.model``, else ``chat.model``), or :class:`~errors.VoiceRefused`
    if it cannot speak."""
    settings = kernel.typed_settings("chat")
    name = settings.voice.model or settings.model
    try:
        provider = kernel.model(name)
    except LookupError as exc:
        raise errors.VoiceRefused(503, "no_live_provider", str(exc)) from None
    if "live" not in provider.capabilities:
        raise errors.VoiceRefused(503, "no_live_capability",
                                  f"Voice is not available: the model provider {name!r} (chat.model) has no live "
                                  "speech capability. Set chat.model (or chat.voice.model) to a provider that has "
                                  "one, such as 'gemini'.", provider=name)
    return provider


@channel("The voice socket: a spoken call with the character (docs/voice.md)",
         receives=schemas.VOICE_RECEIVES, sends=schemas.VOICE_SENDS)
async def voice_socket(websocket: WebSocket) -> None:
    principal = await authenticate_websocket(websocket)
    if principal is None:
        return
    kernel = websocket.app.state.kernel
    session_id = websocket.path_params["session_id"]
    usage: Usage | None = None
    live: LiveSession | None = None
    try:
        record = await turns.owned(kernel, principal, session_id, write=True)
        if record.status != sessions.ACTIVE:
            raise errors.SessionEnded("This session has ended; it is read-only.")
        provider = live_provider(kernel)
        guard = SocketAuth(websocket, principal)  # the start frame too: size limit and token expiry
        try:
            async with asyncio.timeout(kernel.typed_settings("chat").voice.start_timeout):
                message = await guard.receive()
        except TimeoutError:
            raise BadFrame("no start frame arrived in time") from None
        if message["type"] == "websocket.disconnect":
            return
        rates = parse_start(json_frame(message))
        usage = Usage(kernel, principal.id, session_id)
        await usage.acquire()
        script = await sessions.load_script(kernel, session_id)
        character = script.character(record.character_id)
        messages = await sessions.read_messages(kernel, session_id, last_seq=record.last_seq)
        history = tuple(messages)[-sessions.history_window(kernel):]
        request = LiveRequest(script=script, character=character, voice=character.voice,
                              input_sample_rate=rates[0], output_sample_rate=rates[1], language=record.language,
                              history=history)
        handle = await resumable_handle(kernel, session_id, messages[-1].seq if messages else 0)
        resumed = False
        if handle:  # the model still holds this conversation: continue it (any server process can)
            with contextlib.suppress(ProviderError, NotSupported):
                live = await provider.connect_live(attrs.evolve(request, resumption_handle=handle))
                resumed = True
        if live is None:
            try:
                live = await provider.connect_live(request)
            except (ProviderError, NotSupported) as exc:
                raise errors.VoiceRefused(503, "provider_unavailable",
                                          f"The voice model is unavailable: {exc}") from None
        call = Call(websocket, kernel, session_id, principal.id, live, rates)
        call.guard = guard
        await call.send_json({"type": "started", "session_id": session_id, "input_sample_rate": rates[0],
                              "output_sample_rate": rates[1], "channels": rates[2],
                              "frame_ms": int(kernel.typed_settings("chat").voice.frame_ms), "resumed": resumed})
        with kernel.live_socket(), metrics.voice_call():
            await run(call, usage)
    except errors.ChatError as error:  # the WebSocket edge: a frame and a close code
        await refuse(websocket, error)
    except SocketClosed as closed:
        with contextlib.suppress(Exception):
            await websocket.send_json(closed.frame())
        await close(websocket, closed.close_code, closed.reason)
    except WebSocketDisconnect:
        pass
    finally:
        if live is not None:
            with contextlib.suppress(Exception):
                await live.close()
        if usage is not None:
            with contextlib.suppress(Exception):
                await usage.finish()


def routes() -> list[BaseRoute]:
    """Routes of the voice endpoint; ``roleplay_chat.plugin.register_routes`` includes them."""
    return [WebSocketRoute("/chat/sessions/{session_id}/voice", voice_socket)]
