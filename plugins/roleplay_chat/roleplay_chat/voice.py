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

Limits (``chat.voice.*``) are kept in storage, so every server process sees them:
``max_concurrent_per_user`` (leases renewed while a call runs), ``max_minutes_per_session``
and ``max_minutes_per_day`` (connected time, counted every ``tick_seconds``).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import time
import uuid
from typing import Any

import attrs
from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from roleplay_core import (
    LEARNER,
    SERVICE_RESTART,
    WS_BAD_FRAME,
    WS_CONFLICT,
    WS_NOT_FOUND,
    WS_TOO_MANY,
    WS_UNAVAILABLE,
    AudioChunk,
    GoAway,
    Interrupted,
    LiveRequest,
    LiveSession,
    NotFound,
    NotSupported,
    PreconditionFailed,
    Problem,
    ProviderError,
    SessionResumed,
    SocketAuth,
    SocketClosed,
    TranscriptDelta,
    TranscriptFinal,
    TurnComplete,
    authenticate_websocket,
    channel,
    close_reason,
    metrics,
    reconnect_frame,
)
from roleplay_core.storage import key_segment
from roleplay_core.text import control_character

from . import audio, limits, schemas, sessions, turns
from .config import VOICE_DEFAULTS
from .text import parse_frame

logger = logging.getLogger("roleplay.chat.voice")

#: Defaults of the ``chat.voice`` settings live with the plugin's other defaults (config.py).
DEFAULTS = VOICE_DEFAULTS
OUTPUT_RATES = audio.CLIENT_RATES
CLOSE_NORMAL = 1000


def setting(kernel: Any, key: str) -> Any:
    value = kernel.settings.get(f"chat.voice.{key}")
    return DEFAULTS[key] if value is None else value


class BadFrame(Exception):
    """The client broke the protocol; the message says how."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class Refused(Exception):
    """The call cannot go on: tell the client why, then close with ``close_code``."""

    def __init__(self, status: int, code: str, detail: str, close_code: int, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.close_code, self.extra = status, code, detail, close_code, extra

    def frame(self) -> dict[str, Any]:
        return {"type": "error", "status": self.status, "code": self.code, "detail": self.detail, **self.extra}


# -- usage and limits, in storage ------------------------------------------------------


def _user(user_id: str) -> str:
    return key_segment(user_id)


def lease_prefix(user_id: str) -> str:
    return f"chat/voice/active/{_user(user_id)}/"


def day_key(user_id: str, day: dt.date) -> str:
    return f"{sessions.user_prefix(user_id)}/voice-days/{day.isoformat()}"


def session_usage_key(session_id: str) -> str:
    return f"{sessions.session_key(session_id)}/voice-usage"


async def _read_json(kernel: Any, key: str) -> tuple[Any, str | None]:
    try:
        record = await kernel.storage.get(key)
    except NotFound:
        return None, None
    return json.loads(record.data), record.version


async def add_seconds(kernel: Any, key: str, seconds: float) -> float:
    """Add ``seconds`` to the counter at ``key`` by compare-and-swap; return the new total."""
    while True:
        current, version = await _read_json(kernel, key)
        total = float((current or {}).get("seconds", 0.0)) + seconds
        body = json.dumps({"seconds": round(total, 3)}).encode()
        try:
            if version is None:
                await kernel.storage.put(key, body, if_absent=True)
            else:
                await kernel.storage.put(key, body, if_version=version)
            return total
        except PreconditionFailed:
            continue


async def used_seconds(kernel: Any, key: str) -> float:
    current, _ = await _read_json(kernel, key)
    return float((current or {}).get("seconds", 0.0))


class Usage:
    """One call's concurrency lease and its minutes, counted in storage while it runs."""

    def __init__(self, kernel: Any, user_id: str, session_id: str) -> None:
        self.kernel = kernel
        self.user_id = user_id
        self.session_id = session_id
        self.lease_key = lease_prefix(user_id) + uuid.uuid4().hex
        self.tick = max(0.05, float(setting(kernel, "tick_seconds")))
        self._counted_at = time.monotonic()
        self.leased = False

    def _limits(self) -> tuple[int, float, float]:
        return (int(setting(self.kernel, "max_concurrent_per_user") or 0),
                float(setting(self.kernel, "max_minutes_per_session") or 0) * 60,
                float(setting(self.kernel, "max_minutes_per_day") or 0) * 60)

    async def _renew(self) -> None:
        # Three ticks: two renewals may fail (a storage hiccup) before the slot is given up, and a
        # crashed server's call stops counting against the user's concurrency 3 ticks (15 s) later.
        until = time.time() + max(3.0, 3 * self.tick)
        await self.kernel.storage.put(self.lease_key, json.dumps({"until": until, "session": self.session_id}).encode())
        self.leased = True

    async def _live_leases(self) -> int:
        now, live = time.time(), 0
        for key in await self.kernel.storage.list_all(lease_prefix(self.user_id)):
            body, _ = await _read_json(self.kernel, key)
            if body and float(body.get("until", 0)) > now:
                live += 1
            elif body is not None:  # a crashed server's lease: tidy it up
                with contextlib.suppress(NotFound):
                    await self.kernel.storage.delete(key)
        return live

    async def acquire(self) -> None:
        """Refuse (429) when a limit is already reached; otherwise take a concurrency lease."""
        concurrent, per_session, per_day = self._limits()
        if per_session and await used_seconds(self.kernel, session_usage_key(self.session_id)) >= per_session:
            raise Refused(429, "voice_minutes_per_session",
                          f"This session has used its {per_session / 60:g} minutes of voice.", WS_TOO_MANY)
        if per_day and await used_seconds(self.kernel, day_key(self.user_id, _today())) >= per_day:
            raise Refused(429, "voice_minutes_per_day",
                          f"You have used your {per_day / 60:g} minutes of voice for today (UTC).", WS_TOO_MANY)
        await self._renew()
        # Count after writing our own lease: two calls starting at once cannot both slip under the limit.
        if concurrent and await self._live_leases() > concurrent:
            await self.release()
            raise Refused(429, "voice_concurrency",
                          f"You can have {concurrent} voice call(s) at once; end another one first.", WS_TOO_MANY)
        self._counted_at = time.monotonic()

    async def count(self) -> None:
        """Add the time since the last count; raise :class:`Refused` when a minute limit is reached."""
        now = time.monotonic()
        elapsed, self._counted_at = now - self._counted_at, now
        _, per_session, per_day = self._limits()
        session_total = await add_seconds(self.kernel, session_usage_key(self.session_id), elapsed)
        day_total = await add_seconds(self.kernel, day_key(self.user_id, _today()), elapsed)
        await self._renew()
        if per_session and session_total >= per_session:
            raise Refused(429, "voice_minutes_per_session",
                          f"This session has used its {per_session / 60:g} minutes of voice.", WS_TOO_MANY)
        if per_day and day_total >= per_day:
            raise Refused(429, "voice_minutes_per_day",
                          f"You have used your {per_day / 60:g} minutes of voice for today (UTC).", WS_TOO_MANY)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.tick)
            await self.count()

    async def finish(self) -> None:
        """Count the last seconds and give the concurrency lease back (idempotent)."""
        if self.leased:
            with contextlib.suppress(Refused):
                await self.count()
        await self.release()

    async def release(self) -> None:
        if self.leased:
            self.leased = False
            with contextlib.suppress(NotFound):
                await self.kernel.storage.delete(self.lease_key)


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


# -- resuming the model's conversation in a later call ---------------------------------------


def handle_key(session_id: str) -> str:
    return f"{sessions.session_key(session_id)}/voice-resume"


async def save_handle(kernel: Any, session_id: str, handle: str | None, last_seq: int) -> None:
    """Remember the provider's newest resumption handle and the transcript it has seen."""
    if handle:
        body = {"handle": handle, "last_seq": last_seq, "saved_at": time.time()}
        await kernel.storage.put(handle_key(session_id), json.dumps(body).encode())


async def resumable_handle(kernel: Any, session_id: str, last_seq: int) -> str | None:
    """A handle a new call may resume from: recent, and nothing was said since (typed turns
    after the call are not in the model's memory, so they force a fresh start with history)."""
    body, _ = await _read_json(kernel, handle_key(session_id))
    max_age = float(setting(kernel, "resume_seconds") or 0)
    if not body or not max_age or time.time() - float(body.get("saved_at", 0)) > max_age:
        return None
    return body.get("handle") if body.get("last_seq") == last_seq else None


# -- the start frame ------------------------------------------------------------------------


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


def _json_frame(message: dict[str, Any]) -> dict[str, Any]:
    if message.get("text") is None:
        raise BadFrame("control frames are JSON text")
    try:
        frame = parse_frame(message["text"])
    except ValueError as exc:
        raise BadFrame(str(exc)) from None
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        raise BadFrame('a control frame is a JSON object with a "type"', "type")
    return frame


# -- the call ---------------------------------------------------------------------------------


class Call:
    """One voice call: relays audio both ways and records finished turns."""

    def __init__(self, websocket: WebSocket, kernel: Any, session_id: str, user_id: str, live: LiveSession,
                 rates: tuple[int, int, int]) -> None:
        self.websocket = websocket
        self.guard = SocketAuth(websocket, websocket.scope["user"])
        self.user_id = user_id
        self.kernel = kernel
        self.session_id = session_id
        self.live = live
        self.client_rate, self.output_rate, self.channels = rates
        frame_ms = int(setting(kernel, "frame_ms"))
        buffer_ms = int(setting(kernel, "buffer_ms"))
        self.stall = float(setting(kernel, "stall_timeout"))
        self.max_frame = audio.frame_bytes(self.client_rate, int(setting(kernel, "max_frame_ms")), self.channels)
        self.input = audio.InputPipeline(self.client_rate, self.channels, live.input_sample_rate, live.frame_ms)
        self.output = audio.OutputPipeline(live.output_sample_rate, self.output_rate, frame_ms)
        # Bounded both ways: a slow provider stops us reading the client; a slow client stops the provider pump.
        self.upstream = audio.AudioBuffer(audio.frame_bytes(live.input_sample_rate, buffer_ms))
        self.downstream = audio.AudioBuffer(audio.frame_bytes(self.output_rate, buffer_ms))
        self.records: asyncio.Queue = asyncio.Queue()
        self.send_lock = asyncio.Lock()
        self.learner_ms = 0.0
        self.character_ms = 0.0
        self.bad_frames = 0
        self.keep_audio = bool(setting(kernel, "keep_audio"))
        self.kept = bytearray()
        self.kept_limit = audio.frame_bytes(live.input_sample_rate, 1000) * int(setting(kernel, "keep_audio_max_seconds"))
        # Per-frame relay latency, only when a benchmark installs a list on app.state.
        self.latency: dict[str, list[float]] | None = getattr(websocket.app.state, "voice_latency", None)
        self.stopping = False
        self.last_seq = 0
        self.in_turn = False
        self.last_event = time.monotonic()

    async def send_json(self, body: dict[str, Any]) -> None:
        async with self.send_lock:
            await self.websocket.send_json(body)

    # client -> provider

    async def read_client(self) -> None:
        while True:
            message = await self.guard.receive()  # closes at token expiry and on account changes
            if message["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(message.get("code", 1000))
            if message.get("bytes") is not None:
                await self.on_audio(message["bytes"])
                continue
            frame = _json_frame(message)
            kind = frame["type"]
            if kind == "text":
                await self.on_text(frame)
            elif kind == "end_turn":
                await self.flush_input()
                await self.live.end_of_turn()
            elif kind == "ping":
                await self.send_json({"type": "pong"})
            elif kind == "auth":  # a fresh token before the current one expires
                await self.send_json(await self.guard.renew(frame))
            elif kind == "stop":
                return
            elif kind == "start":
                raise BadFrame("the call has already started")
            else:
                raise BadFrame(f"unknown frame type {kind[:40]!r}; expected text, end_turn, auth, ping or stop",
                               "type")

    async def on_audio(self, pcm: bytes) -> None:
        received = time.perf_counter()
        if len(pcm) > self.max_frame:
            await self.bad_audio(f"an audio frame may hold at most {setting(self.kernel, 'max_frame_ms')} ms "
                                 f"({self.max_frame} bytes); got {len(pcm)} bytes")
            return
        try:
            frames = self.input.feed(pcm)
        except audio.AudioFormatError as exc:
            await self.bad_audio(str(exc))
            return
        self.learner_ms += audio.ms_of(len(pcm), self.client_rate, self.channels)
        if self.keep_audio:
            for frame in frames:
                if len(self.kept) + len(frame) <= self.kept_limit:
                    self.kept += frame
        for frame in frames:
            await self.upstream.put(frame, timeout=self.stall, stamp=received)

    async def bad_audio(self, detail: str) -> None:
        """A torn or oversized audio frame is dropped with an error frame; many of them end the call."""
        self.bad_frames += 1
        await self.send_json({"type": "error", "status": 400, "code": "bad_audio", "detail": detail})
        if self.bad_frames >= int(setting(self.kernel, "max_bad_frames")):
            raise BadFrame(f"too many bad audio frames ({self.bad_frames})")

    async def flush_input(self) -> None:
        for frame in self.input.flush():
            await self.upstream.put(frame, timeout=self.stall)

    async def on_text(self, frame: dict[str, Any]) -> None:
        text = frame.get("text")
        if not isinstance(text, str) or not text.strip():
            raise BadFrame('a text frame needs "text", a non-blank string', "text")
        limit = int(self.kernel.settings.get("chat.limits.message_chars", 2000))
        found = control_character(text)
        if found is not None:  # refused like a typed chat message: nothing stored, the call goes on
            await self.send_json({"type": "error", "status": 422, "code": "validation", "field": "text",
                                  "detail": f"text: must not contain control characters (found {found})"})
            return
        if len(text) > limit:
            await self.send_json({"type": "error", "status": 413, "code": "message_chars",
                                  "detail": f"A message can have at most {limit} characters."})
            return
        try:
            await limits.count_message(self.kernel, self.user_id)  # typed text counts like a chat message
        except Problem as problem:
            await self.send_json({"type": "error", "status": problem.status, "code": problem.extra.get("code", ""),
                                  "detail": problem.detail or ""})
            return
        # Typed during a call: stored as a typed learner message, answered by voice.
        await self.records.put((LEARNER, text.strip(), None, False, False))
        await self.live.send_text(text.strip())

    async def pump_upstream(self) -> None:
        while True:
            try:
                frame, received = await self.upstream.get_stamped()
            except audio.BufferClosed:
                return
            await self.live.send_audio(frame)
            metrics.relay_latency("upstream", time.perf_counter() - received)
            if self.latency is not None:  # client frame received -> handed to the provider
                self.latency.setdefault("in", []).append(time.perf_counter() - received)

    # provider -> client

    async def read_provider(self) -> None:
        async for event in self.live.receive():
            got = time.perf_counter()
            self.last_event = time.monotonic()
            if isinstance(event, (AudioChunk, TranscriptDelta)):
                self.in_turn = True
            if isinstance(event, AudioChunk):
                self.character_ms += audio.ms_of(len(event.data), event.sample_rate)
                for frame in self.output.feed(event.data, event.sample_rate):
                    await self.downstream.put(frame, timeout=self.stall, stamp=got)
            elif isinstance(event, TranscriptDelta):
                await self.send_json({"type": "transcript", "role": event.role, "text": event.text, "final": False})
            elif isinstance(event, TranscriptFinal):
                await self.on_final(event)
            elif isinstance(event, Interrupted):
                # Barge-in: what the character had queued must not play any more.
                await self.downstream.clear()
                self.output.reset()
                await self.send_json({"type": "interrupted"})
            elif isinstance(event, TurnComplete):
                self.in_turn = False
                self.learner_ms = 0.0  # the learner's next turn starts now; time before it was listening
                for frame in self.output.flush():
                    await self.downstream.put(frame, timeout=self.stall)
                await self.records.join()  # the finals are stored before the client hears "your turn"
                async with asyncio.timeout(self.stall):
                    await self.downstream.wait_empty()  # and the character's audio has gone out first
                await save_handle(self.kernel, self.session_id, self.live.resumption_handle, self.last_seq)
                await self.send_json({"type": "turn_complete"})
                if self.stopping:
                    return
            elif isinstance(event, GoAway):
                await self.send_json({"type": "reconnecting", "time_left_ms": event.time_left_ms})
            elif isinstance(event, SessionResumed):
                await self.send_json({"type": "resumed", "reconnects": event.reconnects})

    async def on_final(self, event: TranscriptFinal) -> None:
        if event.role == LEARNER:
            duration, self.learner_ms = event.duration_ms or round(self.learner_ms), 0.0
        else:
            duration, self.character_ms = event.duration_ms or round(self.character_ms), 0.0
        await self.records.put((event.role, event.text, duration, True, event.interrupted))

    async def pump_downstream(self) -> None:
        while True:
            try:
                frame, got = await self.downstream.get_stamped()
            except audio.BufferClosed:
                return
            async with self.send_lock:
                await self.websocket.send_bytes(frame)
            metrics.relay_latency("downstream", time.perf_counter() - got)
            if self.latency is not None:  # provider audio received -> sent to the client
                self.latency.setdefault("out", []).append(time.perf_counter() - got)

    # the transcript

    async def record_turns(self) -> None:
        """Append finished turns to the session's event log in order, then tell the client."""
        while True:
            role, text, duration, voice, interrupted = await self.records.get()
            try:
                message = await sessions.append_turn(self.kernel, self.session_id, role=role, text=text,
                                                     voice=voice, duration_ms=duration)
                self.last_seq = message.seq
                if role == LEARNER and voice and self.keep_audio and self.kept:
                    await self.keep(message.seq)
                await self.send_json({"type": "transcript", "role": role, "text": text, "final": True,
                                      "seq": message.seq, "voice": voice, "duration_ms": duration,
                                      "interrupted": interrupted})
            except sessions.SessionEnded:
                raise Refused(409, "session_ended", "This session has ended; the call is over.", WS_CONFLICT) from None
            except sessions.SessionNotFound:
                raise Refused(404, "session_not_found", "This session was deleted.", WS_NOT_FOUND) from None
            except sessions.SessionBusy:
                await self.send_json({"type": "error", "status": 409, "code": "session_busy",
                                      "detail": "A typed turn held the session; this spoken turn was not stored."})
            finally:
                self.records.task_done()

    async def keep(self, seq: int) -> None:
        """Store the learner's audio of the turn ``seq`` as a WAV file next to the session."""
        pcm, self.kept = bytes(self.kept), bytearray()
        key = f"{sessions.session_key(self.session_id)}/voice-audio/{seq:012d}.wav"
        await self.kernel.storage.put(key, audio.wav_bytes(pcm, self.live.input_sample_rate))

    async def stop(self, provider: asyncio.Task) -> None:
        """The client said stop: send what is buffered, close the microphone, let a reply in progress finish.

        Waits until the character's turn completes, or nothing has come from the
        provider for ``stop_quiet_seconds`` while no turn is in progress, at most
        ``stall_timeout`` seconds.
        """
        self.stopping = True
        await self.flush_input()
        await self.live.end_of_turn()
        asked = time.monotonic()
        quiet = float(setting(self.kernel, "stop_quiet_seconds"))
        while not provider.done() and time.monotonic() - asked < self.stall:
            if not self.in_turn and time.monotonic() - max(asked, self.last_event) > quiet:
                break
            await asyncio.sleep(0.02)


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(Exception):
        if websocket.application_state != WebSocketState.DISCONNECTED:
            await websocket.close(code, close_reason(reason))


async def _refuse(websocket: WebSocket, refusal: Refused) -> None:
    with contextlib.suppress(Exception):
        await websocket.send_json(refusal.frame())
    await _close(websocket, refusal.close_code, refusal.detail)


async def _bad_frame(websocket: WebSocket, exc: BadFrame) -> None:
    body = {"type": "error", "status": 400, "code": "bad_frame", "detail": str(exc)}
    if exc.field:
        body["field"] = exc.field
    with contextlib.suppress(Exception):
        await websocket.send_json(body)
    await _close(websocket, WS_BAD_FRAME, str(exc))


def live_provider(kernel: Any) -> Any:
    """The provider for voice (``chat.voice.model``, else ``chat.model``), or :class:`Refused` if it cannot speak."""
    name = setting(kernel, "model") or kernel.settings.get("chat.model", "scripted")
    try:
        provider = kernel.model(name)
    except LookupError as exc:
        raise Refused(503, "no_live_provider", str(exc), WS_UNAVAILABLE) from None
    if "live" not in provider.capabilities:
        raise Refused(503, "no_live_capability",
                      f"Voice is not available: the model provider {name!r} (chat.model) has no live speech "
                      "capability. Set chat.model (or chat.voice.model) to a provider that has one, "
                      "such as 'gemini'.", WS_UNAVAILABLE, provider=name)
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
        try:
            record = await turns.owned(kernel, principal, session_id, write=True)
        except Problem as problem:
            code = WS_NOT_FOUND if problem.status == 404 else 4403
            raise Refused(problem.status, problem.extra.get("code", "refused"), problem.detail or "", code) from None
        if record.status != sessions.ACTIVE:
            raise Refused(409, "session_ended", "This session has ended; it is read-only.", WS_CONFLICT)
        provider = live_provider(kernel)
        guard = SocketAuth(websocket, principal)  # the start frame too: size limit and token expiry
        try:
            async with asyncio.timeout(float(setting(kernel, "start_timeout"))):
                message = await guard.receive()
        except TimeoutError:
            raise BadFrame("no start frame arrived in time") from None
        if message["type"] == "websocket.disconnect":
            return
        rates = parse_start(_json_frame(message))
        usage = Usage(kernel, principal.id, session_id)
        await usage.acquire()
        script = await sessions.load_script(kernel, session_id)
        character = script.character(record.character_id)
        messages = await sessions.read_messages(kernel, session_id)
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
                raise Refused(503, "provider_unavailable", f"The voice model is unavailable: {exc}",
                              WS_UNAVAILABLE) from None
        call = Call(websocket, kernel, session_id, principal.id, live, rates)
        call.guard = guard
        await call.send_json({"type": "started", "session_id": session_id, "input_sample_rate": rates[0],
                              "output_sample_rate": rates[1], "channels": rates[2],
                              "frame_ms": int(setting(kernel, "frame_ms")), "resumed": resumed})
        with kernel.live_socket(), metrics.voice_call():
            await _run(call, usage)
    except Refused as refusal:
        await _refuse(websocket, refusal)
    except BadFrame as exc:
        await _bad_frame(websocket, exc)
    except SocketClosed as closed:
        with contextlib.suppress(Exception):
            await websocket.send_json(closed.frame())
        await _close(websocket, closed.close_code, closed.reason)
    except WebSocketDisconnect:
        pass
    finally:
        if live is not None:
            with contextlib.suppress(Exception):
                await live.close()
        if usage is not None:
            with contextlib.suppress(Exception):
                await usage.finish()


async def _run(call: Call, usage: Usage) -> None:
    """Run the call's tasks until the client stops or leaves, a limit is hit or the provider fails."""
    websocket = call.websocket
    tasks = {
        asyncio.create_task(call.read_client(), name="voice-client"): "client",
        asyncio.create_task(call.pump_upstream(), name="voice-up"): "up",
        asyncio.create_task(call.read_provider(), name="voice-provider"): "provider",
        asyncio.create_task(call.pump_downstream(), name="voice-down"): "down",
        asyncio.create_task(call.record_turns(), name="voice-record"): "record",
        asyncio.create_task(usage.run(), name="voice-usage"): "usage",
        # Ends the call (SocketClosed) when the token expires unrenewed or the account changes.
        asyncio.create_task(call.guard.watch(), name="voice-auth"): "auth",
        asyncio.create_task(call.kernel.wait_drain(), name="voice-drain"): "drain",
    }
    failed = None
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        first = done.pop()
        failed = tasks[first]
        error = first.exception() if not first.cancelled() else None
        if error is not None:
            raise error
        if tasks[first] == "client":  # a stop frame: let the character finish its turn, briefly
            provider = next(t for t, n in tasks.items() if n == "provider")
            await call.stop(provider)
            if provider.done() and not provider.cancelled() and provider.exception() is not None:
                raise provider.exception()
            await call.records.join()
            await call.downstream.close()
            down = next(t for t, n in tasks.items() if n == "down")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await asyncio.shield(down)
            await usage.finish()  # before "stopped", so the client may start its next call at once
            await call.send_json({"type": "stopped"})
            await _close(websocket, CLOSE_NORMAL, "stopped")
        elif tasks[first] == "drain":  # the server is restarting: store finished turns, then say goodbye
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await call.records.join()
            await usage.finish()
            await call.send_json(reconnect_frame())
            await _close(websocket, SERVICE_RESTART, "server restarting")
        elif tasks[first] == "provider":
            await call.records.join()
            await call.send_json({"type": "error", "status": 502, "code": "provider_ended",
                                  "detail": "The voice model ended the conversation."})
            await _close(websocket, WS_UNAVAILABLE, "the voice model ended the conversation")
    except ProviderError as exc:
        raise Refused(502, "provider_error", f"The voice model failed: {exc}", WS_UNAVAILABLE) from None
    except TimeoutError:
        # The client's reader timed out handing audio up, the provider's reader handing it down.
        metrics.relay_stall({"client": "upstream", "provider": "downstream"}.get(failed, "other"))
        raise Refused(503, "stalled", "Audio could not be delivered in time; the call was ended.",
                      WS_UNAVAILABLE) from None
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task


def routes() -> list[BaseRoute]:
    """Routes of the voice endpoint; ``roleplay_chat.plugin.register_routes`` includes them."""
    return [WebSocketRoute("/chat/sessions/{session_id}/voice", voice_socket)]
