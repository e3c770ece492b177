"""A Gemini Live speech session behind the kernel's :class:`roleplay_core.LiveSession`.

One :class:`GeminiLiveSession` is one conversation; underneath it may use
several WebSocket connections. The service ends a connection after a time
limit, announcing it with ``goAway``; the session then reconnects with the
newest ``sessionResumptionUpdate`` handle and carries on, so the caller only
sees :class:`GoAway` and :class:`SessionResumed` events. Context-window
compression keeps a long conversation inside the model's window.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from google.genai import types

from roleplay_core import (
    AudioChunk,
    GoAway,
    Interrupted,
    LiveEvent,
    LiveRequest,
    LiveSession,
    ProviderError,
    SessionResumed,
    TranscriptDelta,
    TranscriptFinal,
    TurnComplete,
)

from . import prompts, wire

if TYPE_CHECKING:
    from .provider import GeminiProvider

logger = logging.getLogger("roleplay.gemini.live")

#: Gemini Live takes 16 kHz PCM16 and gives 24 kHz PCM16.
INPUT_RATE = 16_000
OUTPUT_RATE = 24_000
INPUT_MIME = f"audio/pcm;rate={INPUT_RATE}"
_RATE = re.compile(r"rate=(\d+)")
_END = object()


def time_left_ms(value: Any) -> int | None:
    """``goAway.timeLeft`` is a protobuf Duration: the SDK gives "1.5s" (or a number)."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return int(value * 1000)
    match = re.fullmatch(r"\s*([\d.]+)s\s*", str(value))
    return int(float(match.group(1)) * 1000) if match else None


class GeminiLiveSession(LiveSession):
    """Relays audio and text to Gemini Live and turns its messages into kernel live events."""

    input_sample_rate = INPUT_RATE
    output_sample_rate = OUTPUT_RATE
    frame_ms = 20

    def __init__(self, provider: GeminiProvider, request: LiveRequest) -> None:
        self.provider = provider
        self.request = request
        self.model = provider.config.live_model
        # Bigger frames mean fewer JSON+base64 messages; Google suggests 20-100 ms chunks.
        self.frame_ms = provider.config.live.frame_ms
        self._handle = request.resumption_handle
        self._events: asyncio.Queue = asyncio.Queue(maxsize=provider.config.live.event_buffer)
        self._connection: Any = None  # the SDK's async context manager of the current connection
        self._session: Any = None  # the SDK's AsyncSession
        self._swap = asyncio.Lock()  # held while reconnecting so sends wait for the new connection
        self._pump: asyncio.Task | None = None
        self._closed = False
        self.reconnects = 0
        self._learner: list[str] = []
        self._character: list[str] = []
        #: Audio and server content as plain JSON (wire.py), not the SDK's models: on unless
        #: gemini.live.direct_audio is false, Vertex AI is used, or this SDK lacks what it needs.
        self.direct = provider.config.live.direct_audio and _sdk_parser() is not None \
            and not getattr(getattr(provider.client, "_api_client", None), "vertexai", True)

    # -- connection -------------------------------------------------------------

    def config(self, handle: str | None) -> types.LiveConnectConfig:
        """Audio out in the character's voice, both transcriptions, VAD with barge-in, compression, resumption."""
        request, config = self.request, self.provider.config
        voice = request.voice or request.character.voice or config.voice or "Kore"
        instruction = prompts._lines(
            prompts.character_instruction(request.script, request.character, spoken=True, language=request.language),
            prompts.history_text(request.script, request.history),
        )
        compression = None
        if config.live.context_compression:
            trigger = config.live.compression_trigger_tokens
            compression = types.ContextWindowCompressionConfig(
                sliding_window=types.SlidingWindow(), trigger_tokens=trigger or None)
        return types.LiveConnectConfig(
            response_modalities=[types.Modality.AUDIO],
            system_instruction=types.Content(parts=[types.Part(text=instruction)]),
            speech_config=types.SpeechConfig(
                voice_config=types.VoiceConfig(prebuilt_voice_config=types.PrebuiltVoiceConfig(voice_name=voice))),
            input_audio_transcription=types.AudioTranscriptionConfig(),
            output_audio_transcription=types.AudioTranscriptionConfig(),
            realtime_input_config=types.RealtimeInputConfig(
                automatic_activity_detection=types.AutomaticActivityDetection(
                    disabled=False,
                    silence_duration_ms=config.live.silence_duration_ms,
                    prefix_padding_ms=config.live.prefix_padding_ms,
                ),
                # Barge-in: learner speech interrupts the character's answer.
                activity_handling=types.ActivityHandling.START_OF_ACTIVITY_INTERRUPTS,
            ),
            context_window_compression=compression,
            session_resumption=types.SessionResumptionConfig(handle=handle),
            temperature=config.temperature,
        )

    async def _open(self, handle: str | None) -> tuple[Any, Any]:
        connection = self.provider.client.aio.live.connect(model=self.model, config=self.config(handle))
        try:
            session = await connection.__aenter__()
        except Exception as exc:
            from .provider import provider_error

            raise provider_error(exc) from exc
        if self.direct and not has_socket(session):
            self.direct = False  # an SDK whose session keeps its socket elsewhere: every message through it
        return connection, session

    async def start(self) -> None:
        """Connect (resuming from ``request.resumption_handle`` if given) and start reading."""
        self._connection, self._session = await self._open(self._handle)
        self._pump = asyncio.create_task(self._read_forever(), name="gemini-live-pump")

    async def _resume(self) -> bool:
        """Open a new connection from the newest handle; False when that is not possible."""
        if not self._handle or self.reconnects >= self.provider.config.live.max_reconnects:
            return False
        async with self._swap:
            old = self._connection
            self._connection, self._session = await self._open(self._handle)
            self.reconnects += 1
        with contextlib.suppress(Exception):
            await old.__aexit__(None, None, None)
        return True

    async def _read_forever(self) -> None:
        try:
            while not self._closed:
                session = self._session
                try:
                    if not await self._read_connection(session):
                        continue  # one model turn ended; keep reading this connection
                except Exception as exc:
                    if self._closed:
                        return
                    # The connection dropped without goAway: resume if the service gave a handle.
                    logger.info("gemini live connection ended: %s", exc)
                    if session is not self._session:
                        continue
                    if await self._resume():
                        await self._put(SessionResumed(handle=self._handle, reconnects=self.reconnects))
                        continue
                    raise ProviderError(f"the Gemini Live connection ended: {exc}"[:300]) from exc
                # goAway: move to a new connection before this one is cut.
                if not await self._resume():
                    raise ProviderError("Gemini Live is ending the connection and gave no resumption handle")
                await self._put(SessionResumed(handle=self._handle, reconnects=self.reconnects))
        except ProviderError as exc:
            await self._put(exc)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # never leave receive() hanging on an unexpected failure
            logger.exception("gemini live pump failed")
            await self._put(ProviderError(f"Gemini Live failed: {type(exc).__name__}"))
        finally:
            if not self._closed:
                await self._put(_END)

    async def _put(self, item: Any) -> None:
        # A full queue blocks the pump, which stops reading the socket: back-pressure to the service.
        await self._events.put(item)

    async def _read_connection(self, session: Any) -> bool:
        """Read ``session`` until goAway (True), or to the end of one model turn (False; SDK path only)."""
        if not self.direct:
            async for message in session.receive():
                if await self._translate(message) is not None:
                    return True
            return False
        parse = _sdk_parser()
        while True:
            # What AsyncSession._receive reads; a closed connection raises, as the SDK's does.
            raw = await session._ws.recv(decode=False)
            message = wire.read(raw)
            going_away = await (self._translate_json(message) if message is not None
                                else self._translate(parse(raw)))
            if going_away is not None:
                return True

    async def _translate(self, message: types.LiveServerMessage) -> GoAway | None:
        """An SDK message, as :meth:`_apply` takes it."""
        update = message.session_resumption_update
        content = message.server_content
        audio: list[tuple[bytes, str]] = []
        learner = character = None
        if content is not None:
            if content.model_turn is not None:
                for part in content.model_turn.parts or []:
                    blob = part.inline_data
                    if blob is not None and blob.data and (blob.mime_type or "").startswith("audio/"):
                        audio.append((blob.data, blob.mime_type or ""))
            learner = content.input_transcription.text if content.input_transcription is not None else None
            character = content.output_transcription.text if content.output_transcription is not None else None
        return await self._apply(
            handle=update.new_handle if update is not None and update.resumable else None,
            learner=learner, audio=audio, character=character,
            interrupted=bool(content is not None and content.interrupted),
            turn_complete=bool(content is not None and content.turn_complete),
            go_away=message.go_away is not None,
            time_left=message.go_away.time_left if message.go_away is not None else None)

    async def _translate_json(self, message: dict[str, Any]) -> GoAway | None:
        """A message as ``wire.read`` returned it (camelCase JSON), as :meth:`_apply` takes it."""
        update = message.get("sessionResumptionUpdate") or {}
        content = message.get("serverContent") or {}
        go_away = message.get("goAway")
        return await self._apply(
            handle=update.get("newHandle") if update.get("resumable") else None,
            learner=(content.get("inputTranscription") or {}).get("text"),
            audio=wire.inline_audio(content),
            character=(content.get("outputTranscription") or {}).get("text"),
            interrupted=bool(content.get("interrupted")), turn_complete=bool(content.get("turnComplete")),
            go_away=go_away is not None, time_left=(go_away or {}).get("timeLeft"))

    async def _apply(self, *, handle: str | None, learner: str | None, audio: list[tuple[bytes, str]],
                     character: str | None, interrupted: bool, turn_complete: bool, go_away: bool,
                     time_left: Any) -> GoAway | None:
        """One server message's events, in the order they happened: the learner's words, the
        character's audio and words, an interruption, the end of the turn, goAway."""
        if handle:
            self._handle = handle
        if learner:
            self._learner.append(learner)
            await self._put(TranscriptDelta("learner", learner))
        for data, mime_type in audio:
            rate = _RATE.search(mime_type)
            await self._put(AudioChunk(data, int(rate.group(1)) if rate else OUTPUT_RATE))
        if character:
            self._character.append(character)
            await self._put(TranscriptDelta("character", character))
        if interrupted:
            await self._finish_learner()
            await self._finish_character(interrupted=True)
            await self._put(Interrupted())
        if turn_complete:
            await self._finish_learner()
            await self._finish_character(interrupted=False)
            await self._put(TurnComplete())
        if go_away:
            event = GoAway(time_left_ms=time_left_ms(time_left))
            await self._put(event)
            return event
        return None

    async def _finish_learner(self) -> None:
        # Only at a turn boundary: input transcription may still arrive after the model starts answering.
        text = "".join(self._learner).strip()
        self._learner.clear()
        if text:
            await self._put(TranscriptFinal(role="learner", text=text))

    async def _finish_character(self, *, interrupted: bool) -> None:
        text = "".join(self._character).strip()
        self._character.clear()
        if text:
            await self._put(TranscriptFinal(role="character", text=text, interrupted=interrupted))

    # -- LiveSession --------------------------------------------------------------

    async def send_audio(self, pcm: bytes) -> None:
        async with self._swap:
            session = self._session
        try:
            if self.direct:
                await session._ws.send(wire.audio_frame(pcm, INPUT_MIME))  # what the SDK would send
            else:
                await session.send_realtime_input(audio=types.Blob(data=pcm, mime_type=INPUT_MIME))
        except Exception as exc:
            if session is not self._session or self._pump_alive():
                return  # the connection is being replaced; a few milliseconds of audio are lost, not the call
            raise ProviderError(f"could not send audio to Gemini Live: {exc}"[:300]) from exc

    async def send_text(self, text: str) -> None:
        async with self._swap:
            session = self._session
        await session.send_realtime_input(text=text)

    async def end_of_turn(self) -> None:
        async with self._swap:
            session = self._session
        with contextlib.suppress(Exception):
            await session.send_realtime_input(audio_stream_end=True)

    def _pump_alive(self) -> bool:
        return self._pump is not None and not self._pump.done()

    async def receive(self) -> AsyncIterator[LiveEvent]:
        while True:
            item = await self._events.get()
            if item is _END:
                return
            if isinstance(item, ProviderError):
                raise item
            yield item

    @property
    def resumption_handle(self) -> str | None:
        return self._handle

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._pump
        if self._connection is not None:
            started = time.monotonic()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._connection.__aexit__(None, None, None), 5)
            logger.debug("gemini live closed in %.3fs", time.monotonic() - started)
        with contextlib.suppress(asyncio.QueueFull):
            self._events.put_nowait(_END)


def has_socket(session: Any) -> bool:
    """Whether an SDK ``AsyncSession`` has the socket the direct path writes to and reads from."""
    socket = getattr(session, "_ws", None)
    return callable(getattr(socket, "send", None)) and callable(getattr(socket, "recv", None))


@functools.cache
def _sdk_parser() -> Callable[[bytes | str], types.LiveServerMessage] | None:
    """What ``AsyncSession._receive`` does with a frame (Developer API), for the messages
    ``wire.read`` leaves to the SDK; None when this google-genai lacks the pieces."""
    try:
        from google.genai import live as sdk_live

        convert = sdk_live.live_converters._LiveServerMessage_from_mldev
        build = types.LiveServerMessage._from_response
        empty = types.LiveServerMessage().model_dump()
    except (ImportError, AttributeError):
        return None

    def parse(raw: bytes | str) -> types.LiveServerMessage:
        response = json.loads(raw) if raw else {}
        converted = convert(response)
        if not converted and response:  # an error message: the SDK raises APIError here
            raise ProviderError(f"Gemini Live sent an error: {json.dumps(response)}"[:300])
        return build(response=converted, kwargs=empty)

    return parse
