"""Provider-neutral types for real-time speech sessions (``ModelProvider.connect_live``).

A model provider with the ``live`` capability opens a :class:`LiveSession` for a
:class:`LiveRequest`. The caller (chat's voice endpoint) pushes the learner's
audio in with :meth:`LiveSession.send_audio` and reads :data:`LiveEvent` values
from :meth:`LiveSession.receive`: the character's audio, transcriptions of both
sides, turn boundaries and interruptions. Audio is always PCM16 little-endian
mono; the session states the rates it takes and gives.

The provider hides its transport's quirks: a provider that must reconnect
(a service's per-connection time limit) does so inside the session and
reports it with :class:`GoAway` and :class:`SessionResumed`, so the caller's
conversation goes on.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator

import attrs

from .script import Character, Script
from .transcript import CHARACTER, LEARNER, TranscriptMessage


@attrs.frozen(kw_only=True)
class LiveRequest:
    """What a live session plays: the scene, the character and the audio formats."""

    script: Script
    character: Character
    #: The voice name; empty means the character's ``voice`` or the provider's default.
    voice: str = ""
    #: The rate of the PCM16 audio the caller will send (the provider may require one rate).
    input_sample_rate: int = 16_000
    #: The rate the caller would like back (the provider states what it really gives).
    output_sample_rate: int = 24_000
    language: str = "en"
    #: The conversation so far (typed or spoken), oldest first, so a voice turn continues it.
    history: tuple[TranscriptMessage, ...] = ()
    #: A provider's resumption handle from an earlier connection of the same conversation.
    resumption_handle: str | None = None


@attrs.frozen
class AudioChunk:
    """Some of the character's speech: PCM16 mono at ``sample_rate``."""

    data: bytes
    sample_rate: int


@attrs.frozen
class TranscriptDelta:
    """More transcribed text for ``role`` (``learner`` or ``character``), as it is recognised."""

    role: str
    text: str


@attrs.frozen(kw_only=True)
class TranscriptFinal:
    """The whole transcription of one turn of ``role``; ``interrupted`` when barge-in cut it short."""

    role: str
    text: str
    duration_ms: int | None = None
    interrupted: bool = False


@attrs.frozen
class TurnComplete:
    """The character finished its turn; the learner may speak."""


@attrs.frozen
class Interrupted:
    """The learner spoke over the character: stop playing what was queued (barge-in)."""


@attrs.frozen(kw_only=True)
class GoAway:
    """The service will end this connection soon; the provider is resuming on a new one."""

    time_left_ms: int | None = None


@attrs.frozen(kw_only=True)
class SessionResumed:
    """The provider reconnected and the conversation went on where it was."""

    handle: str | None = None
    reconnects: int = 1


#: Everything :meth:`LiveSession.receive` yields.
LiveEvent = AudioChunk | TranscriptDelta | TranscriptFinal | TurnComplete | Interrupted | GoAway | SessionResumed


class LiveSession(abc.ABC):
    """One real-time speech conversation with a model. Use ``async with`` or call :meth:`close`."""

    #: The PCM16 rate :meth:`send_audio` expects.
    input_sample_rate: int = 16_000
    #: The PCM16 rate of :class:`AudioChunk` values.
    output_sample_rate: int = 24_000
    #: The audio duration the provider likes per :meth:`send_audio` call, in milliseconds.
    frame_ms: int = 20

    @abc.abstractmethod
    async def send_audio(self, pcm: bytes) -> None:
        """Send learner speech: PCM16 mono at :attr:`input_sample_rate`."""

    @abc.abstractmethod
    async def send_text(self, text: str) -> None:
        """Send a typed learner message; the character answers it like speech."""

    @abc.abstractmethod
    async def end_of_turn(self) -> None:
        """Tell the model the learner stopped talking (the microphone was closed)."""

    @abc.abstractmethod
    def receive(self) -> AsyncIterator[LiveEvent]:
        """Yield events until the session ends; survives the provider's own reconnects."""

    @abc.abstractmethod
    async def close(self) -> None:
        """End the conversation and release the connection."""

    @property
    def resumption_handle(self) -> str | None:
        """The newest handle a later :class:`LiveRequest` can resume from, if the provider has one."""
        return None

    async def __aenter__(self) -> LiveSession:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


__all__ = [
    "CHARACTER",
    "LEARNER",
    "AudioChunk",
    "GoAway",
    "Interrupted",
    "LiveEvent",
    "LiveRequest",
    "LiveSession",
    "SessionResumed",
    "TranscriptDelta",
    "TranscriptFinal",
    "TurnComplete",
]
