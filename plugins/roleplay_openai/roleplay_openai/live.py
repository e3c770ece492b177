"""An OpenAI Realtime speech session behind the kernel's :class:`roleplay_core.LiveSession`.

One :class:`OpenAIRealtimeSession` is one conversation over the Realtime WebSocket API, opened with
the SDK's ``client.realtime.connect``. The session is set up with server VAD (the service finds the
learner's turns and answers them), PCM16 at 24 kHz both ways, input transcription, and the
character's voice; the conversation so far goes in as conversation items.

Barge-in: when the service reports ``input_audio_buffer.speech_started`` during an answer, the
session cancels the response and truncates the answer's audio item to what the learner can have
heard (what was delivered, and no more than the time since its first chunk), so the model's
memory holds what was said, not what was generated; the caller gets :class:`Interrupted`.

The Realtime API has no resumption handle: a dropped connection is replaced by a new one, set up
the same way, with the conversation re-sent as items (the scene's history plus this call's
finished turns); the caller sees :class:`SessionResumed`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from roleplay_core import (
    AudioChunk,
    Interrupted,
    LiveEvent,
    LiveRequest,
    LiveSession,
    ProviderError,
    SessionResumed,
    TranscriptDelta,
    TranscriptFinal,
    TurnComplete,
    character_instruction,
    is_own_line,
    turn_text,
)

if TYPE_CHECKING:
    from .provider import OpenAIProvider

logger = logging.getLogger("roleplay.openai.live")

#: The Realtime API takes and gives PCM16 mono at 24 kHz.
RATE = 24_000
_END = object()


def _ms(nbytes: int) -> float:
    return nbytes / 2 / RATE * 1000


class OpenAIRealtimeSession(LiveSession):
    """Relays audio and text to the Realtime API and turns its events into kernel live events."""

    input_sample_rate = RATE
    output_sample_rate = RATE

    def __init__(self, provider: OpenAIProvider, request: LiveRequest) -> None:
        self.provider = provider
        self.request = request
        self.model = provider.config.realtime_model or "gpt-realtime"
        self.frame_ms = provider.config.realtime.frame_ms
        self._events: asyncio.Queue = asyncio.Queue(maxsize=provider.config.realtime.event_buffer)
        self._manager: Any = None
        self._conn: Any = None
        self._swap = asyncio.Lock()  # held while reconnecting so sends wait for the new connection
        self._pump: asyncio.Task | None = None
        self._closed = False
        self.reconnects = 0
        #: This call's finished turns, (role, text), re-sent after a reconnection.
        self.turns: list[tuple[str, str]] = []
        self._learner: list[str] = []
        self._character: list[str] = []
        # The answer being spoken: its item, how much audio was delivered and when the first chunk was.
        self._response_id: str | None = None
        self._item_id: str | None = None
        self._delivered = 0
        self._first_audio: float | None = None
        # Learner turns committed whose transcription has not arrived, and the character's finals held
        # back until it does, so a turn's learner line is always reported before the answer's.
        self._untranscribed: set[str] = set()
        self._held: list[Any] = []

    # -- connection -------------------------------------------------------------

    def session_config(self) -> dict[str, Any]:
        """``session.update``: the character's instructions and voice, server VAD, transcription, PCM16."""
        request, config = self.request, self.provider.config
        voice = request.voice or request.character.voice or config.voice or "alloy"
        return {
            "type": "realtime",
            "model": self.model,
            "instructions": character_instruction(request.script, request.character, spoken=True,
                                                  language=request.language),
            "output_modalities": ["audio"],
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": RATE},
                    "transcription": {"model": config.realtime.transcription_model or "gpt-4o-mini-transcribe",
                                      "language": request.language.split("-")[0]},
                    "turn_detection": {
                        "type": "server_vad",
                        "threshold": config.realtime.vad_threshold,
                        "silence_duration_ms": config.realtime.silence_duration_ms,
                        "prefix_padding_ms": config.realtime.prefix_padding_ms,
                        "create_response": True,
                        "interrupt_response": True,
                    },
                },
                "output": {"format": {"type": "audio/pcm", "rate": RATE}, "voice": voice},
            },
        }

    def conversation_items(self) -> list[dict[str, Any]]:
        """The conversation so far as Realtime items: the scene's history, then this call's turns."""
        script, character = self.request.script, self.request.character
        pairs = [("assistant" if is_own_line(m, character) else "user", turn_text(m, script, character))
                 for m in self.request.history]
        pairs += [("assistant" if role == "character" else "user", text) for role, text in self.turns]
        return [{"type": "message", "role": role,
                 "content": [{"type": "output_text" if role == "assistant" else "input_text", "text": text}]}
                for role, text in pairs if text]

    async def _open(self) -> tuple[Any, Any]:
        options: dict[str, Any] = {}
        context = self.provider.ws_ssl_context()
        if context is not None:
            options["ssl"] = context
        manager = self.provider.client.realtime.connect(model=self.model, websocket_connection_options=options)
        try:
            conn = await manager.__aenter__()
            await conn.session.update(session=self.session_config())
            for item in self.conversation_items():
                await conn.conversation.item.create(item=item)
        except Exception as exc:
            from .provider import provider_error

            with contextlib.suppress(Exception):
                await manager.__aexit__(None, None, None)
            raise provider_error(exc) from exc
        return manager, conn

    async def start(self) -> None:
        self._manager, self._conn = await self._open()
        self._pump = asyncio.create_task(self._read_forever(), name="openai-realtime-pump")

    async def _reconnect(self) -> bool:
        if self.reconnects >= self.provider.config.realtime.max_reconnects:
            return False
        async with self._swap:
            old = self._manager
            self._manager, self._conn = await self._open()
            self.reconnects += 1
        with contextlib.suppress(Exception):
            await old.__aexit__(None, None, None)
        return True

    async def _read_forever(self) -> None:
        try:
            while not self._closed:
                conn = self._conn
                try:
                    async for event in conn:
                        await self._translate(event)
                    ended: Exception | None = None
                except Exception as exc:
                    ended = exc
                if self._closed:
                    return
                if conn is not self._conn:
                    continue
                # The connection dropped (or the service closed it): carry on over a new one.
                logger.info("openai realtime connection ended: %s", ended)
                await self._abandon_answer()
                if not await self._reconnect():
                    raise ProviderError(f"the Realtime connection ended: {ended or 'closed'}"[:300])
                await self._put(SessionResumed(handle=None, reconnects=self.reconnects))
        except ProviderError as exc:
            await self._put(exc)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # never leave receive() hanging on an unexpected failure
            logger.exception("openai realtime pump failed")
            await self._put(ProviderError(f"the Realtime session failed: {type(exc).__name__}"))
        finally:
            if not self._closed:
                await self._put(_END)

    async def _put(self, item: Any) -> None:
        # A full queue blocks the pump, which stops reading the socket: back-pressure to the service.
        await self._events.put(item)

    async def _translate(self, event: Any) -> None:
        kind = getattr(event, "type", "")
        if kind == "input_audio_buffer.speech_started":
            if self._response_id is not None or self._character:
                await self._barge_in()
        elif kind == "input_audio_buffer.committed":
            self._untranscribed.add(event.item_id)
        elif kind == "conversation.item.input_audio_transcription.failed":
            self._untranscribed.discard(event.item_id)
            await self._release()
        elif kind == "conversation.item.input_audio_transcription.delta":
            if event.delta:
                self._learner.append(event.delta)
                await self._put(TranscriptDelta("learner", event.delta))
        elif kind == "conversation.item.input_audio_transcription.completed":
            self._learner.clear()
            self._untranscribed.discard(event.item_id)
            text = (event.transcript or "").strip()
            if text:
                self.turns.append(("learner", text))
                await self._put(TranscriptFinal(role="learner", text=text))
            await self._release()
        elif kind == "response.created":
            self._response_id = event.response.id
            self._item_id, self._delivered, self._first_audio = None, 0, None
        elif kind == "response.output_audio.delta":
            if event.response_id != self._response_id:
                return  # a cancelled answer's late audio: never played
            pcm = base64.b64decode(event.delta)
            self._item_id = event.item_id
            if self._first_audio is None:
                self._first_audio = time.monotonic()
            self._delivered += len(pcm)
            await self._put(AudioChunk(pcm, RATE))
        elif kind == "response.output_audio_transcript.delta":
            if event.response_id == self._response_id and event.delta:
                self._character.append(event.delta)
                await self._put(TranscriptDelta("character", event.delta))
        elif kind == "response.done":
            if event.response.id != self._response_id:
                return
            self._response_id = None
            status = getattr(event.response, "status", "completed")
            if status == "failed":
                details = getattr(event.response, "status_details", None)
                await self._put(ProviderError(f"the Realtime answer failed: {details}"[:300]))
                return
            await self._finish_character(interrupted=status == "cancelled")
            await self._after_learner(TurnComplete())
        elif kind == "error":
            error = event.error
            code = getattr(error, "code", "") or ""
            if code in ("response_cancel_not_active", "input_audio_buffer_commit_empty"):
                return  # harmless races of cancel/commit with the service's own VAD
            logger.warning("openai realtime error: %s %s", code, getattr(error, "message", ""))

    async def _after_learner(self, event: Any) -> None:
        """Report ``event`` now, or after the learner's pending transcription (the service may finish
        transcribing a turn after its answer has started)."""
        if self._untranscribed:
            self._held.append(event)
        else:
            await self._put(event)

    async def _release(self) -> None:
        if not self._untranscribed:
            held, self._held = self._held, []
            for event in held:
                await self._put(event)

    async def _barge_in(self) -> None:
        """The learner talks over the character: cancel the answer, cut what was not heard, tell the caller."""
        response_id, item_id = self._response_id, self._item_id
        heard = _ms(self._delivered)
        if self._first_audio is not None:
            heard = min(heard, (time.monotonic() - self._first_audio) * 1000)
        self._response_id = None
        conn = self._conn
        with contextlib.suppress(Exception):
            if response_id is not None:
                await conn.response.cancel(response_id=response_id)
            if item_id is not None:
                await conn.conversation.item.truncate(item_id=item_id, content_index=0, audio_end_ms=int(heard))
        await self._finish_character(interrupted=True)
        await self._put(Interrupted())

    async def _abandon_answer(self) -> None:
        """A connection dropped mid-answer: what was said so far is a cut turn."""
        if self._response_id is not None or self._character:
            self._response_id = None
            await self._finish_character(interrupted=True)
            await self._put(Interrupted())
        self._learner.clear()
        self._untranscribed.clear()  # that connection's transcriptions will never come
        await self._release()

    async def _finish_character(self, *, interrupted: bool) -> None:
        text = "".join(self._character).strip()
        self._character.clear()
        if text:
            self.turns.append(("character", text))
            duration = round(_ms(self._delivered)) if self._delivered else None
            await self._after_learner(TranscriptFinal(role="character", text=text, interrupted=interrupted,
                                                      duration_ms=duration))
        self._item_id, self._delivered, self._first_audio = None, 0, None

    # -- LiveSession --------------------------------------------------------------

    async def _current(self) -> Any:
        async with self._swap:
            return self._conn

    async def send_audio(self, pcm: bytes) -> None:
        conn = await self._current()
        try:
            await conn.input_audio_buffer.append(audio=base64.b64encode(pcm).decode("ascii"))
        except Exception as exc:
            if conn is not self._conn or self._pump_alive():
                return  # the connection is being replaced; a few milliseconds of audio are lost, not the call
            raise ProviderError(f"could not send audio to the Realtime API: {exc}"[:300]) from exc

    async def send_text(self, text: str) -> None:
        conn = await self._current()
        self.turns.append(("learner", text))
        await conn.conversation.item.create(item={"type": "message", "role": "user",
                                                  "content": [{"type": "input_text", "text": text}]})
        await conn.response.create()

    async def end_of_turn(self) -> None:
        conn = await self._current()
        with contextlib.suppress(Exception):
            await conn.input_audio_buffer.commit()

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

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._pump
        if self._manager is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._manager.__aexit__(None, None, None), 5)
        with contextlib.suppress(asyncio.QueueFull):
            self._events.put_nowait(_END)
