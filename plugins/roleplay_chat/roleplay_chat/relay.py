"""The audio relay of one voice call: client audio up to the model, the model's speech and
transcripts down to the client, finished turns into the session's event log.

Both directions go through bounded buffers (``chat.voice.buffer_ms``), so a slow side slows the
other instead of growing memory; a side stalled longer than ``chat.voice.stall_timeout`` ends the
call. :func:`run` runs one call's tasks until the client stops or leaves, a limit is hit, the
model fails or the server drains. Refusals are chat's domain errors (``errors.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from roleplay_core import (
    LEARNER,
    SERVICE_RESTART,
    AudioChunk,
    GoAway,
    Interrupted,
    LiveSession,
    ProviderError,
    SessionResumed,
    SocketAuth,
    TranscriptDelta,
    TranscriptFinal,
    TurnComplete,
    metrics,
    reconnect_frame,
)

from . import audio, errors, limits, sessions, turns
from .errors import BadFrame
from .frames import CLOSE_NORMAL, close, json_frame
from .quota import Usage
from .resume import save_handle


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
        self.settings = settings = kernel.typed_settings("chat")
        frame_ms = int(settings.voice.frame_ms)
        buffer_ms = int(settings.voice.buffer_ms)
        self.stall = settings.voice.stall_timeout
        self.max_frame = audio.frame_bytes(self.client_rate, int(settings.voice.max_frame_ms), self.channels)
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
        self.keep_audio = settings.voice.keep_audio
        self.kept = bytearray()
        self.kept_limit = audio.frame_bytes(live.input_sample_rate, 1000) * int(settings.voice.keep_audio_max_seconds)
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
            frame = json_frame(message)
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
            await self.bad_audio(f"an audio frame may hold at most {self.settings.voice.max_frame_ms:g} ms "
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
        await self.send_json(errors.frame(errors.BadAudio(detail)))
        if self.bad_frames >= int(self.settings.voice.max_bad_frames):
            raise BadFrame(f"too many bad audio frames ({self.bad_frames})")

    async def flush_input(self) -> None:
        for frame in self.input.flush():
            await self.upstream.put(frame, timeout=self.stall)

    async def on_text(self, frame: dict[str, Any]) -> None:
        text = frame.get("text")
        if not isinstance(text, str) or not text.strip():
            raise BadFrame('a text frame needs "text", a non-blank string', "text")
        limit = self.settings.limits.message_chars
        # Refused like a typed chat message: nothing stored, the call goes on.
        try:
            turns.check_text(text)
            if len(text) > limit:
                raise errors.TooLong(f"A message can have at most {limit} characters.")
            await limits.count_message(self.kernel, self.user_id)  # typed text counts like a chat message
        except errors.ChatError as error:
            await self.send_json(errors.frame(error))
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
                raise errors.SessionEnded("This session has ended; the call is over.") from None
            except sessions.SessionNotFound:
                raise errors.SessionMissing("This session was deleted.") from None
            except sessions.SessionBusy:
                await self.send_json(errors.frame(errors.SessionBusy(
                    "A typed turn held the session; this spoken turn was not stored.")))
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
        quiet = self.settings.voice.stop_quiet_seconds
        while not provider.done() and time.monotonic() - asked < self.stall:
            if not self.in_turn and time.monotonic() - max(asked, self.last_event) > quiet:
                break
            await asyncio.sleep(0.02)


async def run(call: Call, usage: Usage) -> None:
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
            await close(websocket, CLOSE_NORMAL, "stopped")
        elif tasks[first] == "drain":  # the server is restarting: store finished turns, then say goodbye
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await call.records.join()
            await usage.finish()
            await call.send_json(reconnect_frame())
            await close(websocket, SERVICE_RESTART, "server restarting")
        elif tasks[first] == "provider":
            await call.records.join()
            ended = errors.VoiceRefused(502, "provider_ended", "The voice model ended the conversation.")
            await call.send_json(errors.frame(ended))
            await close(websocket, errors.close_code(ended), "the voice model ended the conversation")
    except ProviderError as exc:
        raise errors.VoiceRefused(502, "provider_error", f"The voice model failed: {exc}") from None
    except TimeoutError:
        # The client's reader timed out handing audio up, the provider's reader handing it down.
        metrics.relay_stall({"client": "upstream", "provider": "downstream"}.get(failed, "other"))
        raise errors.VoiceRefused(503, "stalled", "Audio could not be delivered in time; the call was ended.") from None
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
