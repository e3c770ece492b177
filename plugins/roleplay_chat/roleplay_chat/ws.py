"""``WS /chat/sessions/{id}/ws``: a practice session over one WebSocket.

Protocol (JSON text frames; see docs/api/chat.md):

1. client ``{"type": "auth", "token": "..."}`` -> server ``{"type": "authenticated", ...}`` (kernel rule),
   then server ``{"type": "ready", "session": {...}}``.
2. client ``{"type": "resume", "after_seq": N}`` -> server sends every stored message with
   ``seq > N`` as ``{"type": "message", "message": {...}}``, then ``{"type": "resumed", "last_seq": M}``.
3. client ``{"type": "message", "text": "..."}`` -> server ``{"type": "message", "message": <learner>}``,
   ``{"type": "delta", "text": "..."}`` pieces, then ``{"type": "message", "message": <reply>, "final": true}``.
   When the scene ends: ``{"type": "ended", "session": {...}}`` and a normal close (1000).
4. client ``{"type": "retry"}`` regenerates a missing reply; ``{"type": "ping"}`` -> ``{"type": "pong"}``.
5. client ``{"type": "auth", "token": "..."}`` at any time -> server ``{"type": "authenticated", ...}``
   with the new ``expires_at``: the socket closes with 4401 when its token expires without one
   (``roleplay_core.security.SocketAuth``), and when the account is deleted, disabled or demoted.
6. server shutdown (SIGTERM): once the turn in progress is stored, server ``{"type": "reconnect", ...}``
   and a close with 1012; the client connects again (to any server) and resumes.

Errors are ``{"type": "error", "status": ..., "code": ..., "detail": ...}`` frames. A
refused message (blank, control characters, limit, busy, provider failure) keeps the
socket open; a bad frame (not JSON, nested too deeply, a lone surrogate in a
string, not an object, unknown type, binary) is answered with an error frame and a
close with 4400; an unknown or foreign session closes with 4404.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from roleplay_core import (
    SERVICE_RESTART,
    WS_NOT_FOUND,
    SocketAuth,
    SocketClosed,
    authenticate_websocket,
    channel,
    close_reason,
    reconnect_frame,
)

from . import errors, schemas, sessions, text, turns
from .errors import BadFrame, ChatError


async def _receive(guard: SocketAuth) -> dict[str, Any]:
    message = await guard.receive()  # closes at token expiry, on account changes and for huge frames
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    if message.get("text") is None:
        raise BadFrame("send JSON text frames, not binary")
    try:
        frame = text.parse_frame(message["text"])
    except ValueError as exc:
        raise BadFrame(str(exc)) from None
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        raise BadFrame('a frame is a JSON object with a "type"')
    return frame


@channel("The chat socket: text turns, streamed replies, resume after a reconnect",
         receives=schemas.CHAT_RECEIVES, sends=schemas.CHAT_SENDS)
async def session_socket(websocket: WebSocket) -> None:
    principal = await authenticate_websocket(websocket)
    if principal is None:
        return
    kernel = websocket.app.state.kernel
    session_id = websocket.path_params["session_id"]
    try:
        record = await turns.owned(kernel, principal, session_id)
    except ChatError as error:
        await websocket.send_json(errors.frame(error))
        await websocket.close(WS_NOT_FOUND, "no such session")
        return
    await websocket.send_json({"type": "ready", "session": record.summary()})
    guard = SocketAuth(websocket, principal)
    drain = asyncio.ensure_future(kernel.wait_drain())
    try:
        with kernel.live_socket():
            async with guard.watching():  # closes the socket at token expiry or when the account changes
                await _serve(websocket, guard, kernel, principal, session_id, drain)
    finally:
        drain.cancel()


async def _next_frame(guard: SocketAuth, drain: asyncio.Future) -> dict[str, Any] | None:
    """The client's next frame, or ``None`` once the server drains (checked between turns only)."""
    if drain.done():
        return None
    receiving = asyncio.ensure_future(_receive(guard))
    await asyncio.wait({receiving, drain}, return_when=asyncio.FIRST_COMPLETED)
    if receiving.done():
        return receiving.result()
    receiving.cancel()  # a frame arriving now was never acknowledged: the client sends it again after reconnecting
    return None


async def _serve(websocket: WebSocket, guard: SocketAuth, kernel: Any, principal: Any, session_id: str,
                 drain: asyncio.Future) -> None:
    try:
        while True:
            try:
                frame = await _next_frame(guard, drain)
                if frame is None:  # the server is shutting down; every turn of this socket is stored
                    await websocket.send_json(reconnect_frame())
                    await websocket.close(SERVICE_RESTART, "server restarting")
                    return
                kind = frame["type"]
                if kind == "ping":
                    await websocket.send_json({"type": "pong"})
                elif kind == "auth":  # a fresh token before the current one expires
                    await websocket.send_json(await guard.renew(frame))
                    principal = guard.principal
                elif kind == "resume":
                    await _resume(websocket, kernel, session_id, frame)
                elif kind in ("message", "retry"):
                    if await _turn(websocket, kernel, principal, session_id, frame):
                        return
                else:
                    raise BadFrame(f"unknown frame type {kind[:40]!r}; expected message, resume, retry, auth or ping")
            except BadFrame:
                raise
            except ChatError as error:  # a refused turn: the socket stays open
                await websocket.send_json(errors.frame(error))
                if error.status == 404:  # deleted while connected
                    await websocket.close(WS_NOT_FOUND, "no such session")
                    return
    except BadFrame as error:
        await websocket.send_json(errors.frame(error))
        await websocket.close(errors.close_code(error), close_reason(error.detail))
    except SocketClosed as closed:
        await guard.close(closed)
    except WebSocketDisconnect:
        return


async def _resume(websocket: WebSocket, kernel: Any, session_id: str, frame: dict[str, Any]) -> None:
    after = frame.get("after_seq", 0)
    if isinstance(after, bool) or not isinstance(after, int) or after < 0:
        raise BadFrame('"after_seq" must be an integer, 0 or more')
    record = await sessions.load_session(kernel, session_id)
    messages = await sessions.read_messages(kernel, session_id, after, last_seq=record.last_seq)
    for message in messages:
        await websocket.send_json({"type": "message", "message": sessions.message_to_dict(message)})
    if messages and messages[-1].seq > record.last_seq:  # a turn was stored meanwhile: say where it ends
        record = await sessions.load_session(kernel, session_id)
    await websocket.send_json({"type": "resumed", "last_seq": record.last_seq, "session": record.summary()})


async def _turn(websocket: WebSocket, kernel: Any, principal: Any, session_id: str, frame: dict[str, Any]) -> bool:
    """Play one turn; True when the scene ended and the socket was closed."""
    if frame["type"] == "message":
        said = frame.get("text")
        if not isinstance(said, str):
            raise BadFrame('a message frame needs "text", a string')
        said = said.strip()
        limit = kernel.typed_settings("chat").limits.message_chars
        if not said:
            raise errors.Invalid("text", "must not be blank")
        if len(said) > limit:
            raise errors.TooLong(f"A message can have at most {limit} characters; this one has {len(said)}.")
        prepared = await turns.begin_message(kernel, principal, session_id, said)
        echo = {"type": "message", "message": sessions.message_to_dict(prepared.learner)}
    else:
        prepared = await turns.begin_retry(kernel, principal, session_id)
        echo = None
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    async def emit(kind: str, value: Any) -> None:
        queue.put_nowait((kind, value))

    # Detached, and started before anything is sent: if the client goes away now (even before
    # the echo), the reply is still produced and stored for its reconnect, and the turn lease
    # is released instead of blocking the session until it expires.
    task = turns.detach(kernel, turns.finish(kernel, prepared, emit))
    task.add_done_callback(lambda _: queue.put_nowait(("done", None)))
    if echo is not None:
        await websocket.send_json(echo)
    while True:
        kind, value = await queue.get()
        if kind == "delta":
            await websocket.send_json({"type": "delta", "text": value})
        else:
            break
    outcome = task.result()  # re-raises the ChatError of a failed provider
    await websocket.send_json({"type": "message", "message": sessions.message_to_dict(outcome.reply), "final": True})
    if outcome.session.status == sessions.ENDED:
        await websocket.send_json({"type": "ended", "session": outcome.session.summary()})
        if websocket.client_state == WebSocketState.CONNECTED:
            await websocket.close(1000, "the scene ended")
        return True
    return False
