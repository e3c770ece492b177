"""The shapes the chat routes answer with and the frames of its sockets, as attrs classes.

``/openapi.json`` and ``/asyncapi.json`` are generated from them (docs/api/chat.md, docs/voice.md
describe the same). The handlers build their answers as dictionaries; the schemathesis run
(``tests/test_api_fuzz.py``) checks every answer against these classes.
"""

from __future__ import annotations

from typing import Any, Literal

import attrs

# -- HTTP ------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ScenarioSummary:
    """A published scenario as the list shows it."""

    id: str
    title: str
    summary: str
    language: str
    translation_group: str | None
    difficulty: str
    tags: list[str]
    estimated_minutes: int | None
    version: str


@attrs.frozen(kw_only=True)
class ScenarioCharacter:
    """A character a learner may talk to."""

    id: str
    name: str
    description: str
    traits: list[str]
    speaks_first: bool


@attrs.frozen(kw_only=True)
class ScenarioCriterion:
    """What the learner is scored on (never how it is checked)."""

    id: str
    title: str
    description: str
    #: The practice cannot pass without it (the rubric's ``required``): learners see it before they start.
    required: bool


@attrs.frozen(kw_only=True)
class ScenarioDetail(ScenarioSummary):
    """What a learner sees before starting: never the beats, fallbacks or rubric internals."""

    setting: str
    learner_role: str
    objectives: list[str]
    characters: list[ScenarioCharacter]
    criteria: list[ScenarioCriterion]


@attrs.frozen(kw_only=True)
class ScenarioList:
    """The published scenarios (all on one page)."""

    items: list[ScenarioSummary]
    next_cursor: str | None


@attrs.frozen(kw_only=True)
class Counts:
    """Messages in a session, by who said them; ``voice`` counts spoken turns."""

    messages: int
    learner: int
    character: int
    voice: int


@attrs.frozen(kw_only=True)
class Session:
    """A practice session (docs/api/chat.md, "The session object")."""

    id: str
    user_id: str
    scenario_id: str
    script_version: str
    title: str
    character_id: str
    language: str
    status: Literal["active", "ended"]
    created_at: str
    ended_at: str | None
    end_reason: str | None
    duration_seconds: float
    last_seq: int
    counts: Counts
    awaiting_reply: int | None


@attrs.frozen(kw_only=True)
class Message:
    """One message of a session; spoken turns have ``voice: true`` and ``duration_ms``."""

    seq: int
    role: Literal["learner", "character"]
    text: str
    created_at: str
    character_id: str | None
    voice: bool
    duration_ms: int | None = None


@attrs.frozen(kw_only=True)
class SessionDetail(Session):
    """A session with its messages (after ``after_seq``; a new session's opening line)."""

    messages: list[Message]


@attrs.frozen(kw_only=True)
class SessionList:
    """A page of sessions, newest first."""

    items: list[Session]
    next_cursor: str | None


@attrs.frozen(kw_only=True)
class Turn:
    """A learner message, the character's reply to it, and the session after both."""

    message: Message
    reply: Message
    session: Session


# -- the chat socket (/chat/sessions/{id}/ws) ------------------------------------------------


@attrs.frozen(kw_only=True)
class AuthFrame:
    """The first frame (and a token renewal at any time): an access token or an API key."""

    type: Literal["auth"]
    token: str


@attrs.frozen(kw_only=True)
class ResumeFrame:
    """Send every stored message after ``after_seq``, then ``resumed``."""

    type: Literal["resume"]
    after_seq: int


@attrs.frozen(kw_only=True)
class MessageFrame:
    """The learner says ``text``."""

    type: Literal["message"]
    text: str


@attrs.frozen(kw_only=True)
class RetryFrame:
    """Produce the reply a failed turn is missing."""

    type: Literal["retry"]


@attrs.frozen(kw_only=True)
class PingFrame:
    """Answered with ``pong``."""

    type: Literal["ping"]


@attrs.frozen(kw_only=True)
class AuthenticatedFrame:
    """The token was accepted; the socket lives until ``expires_at`` (epoch seconds) unless renewed."""

    type: Literal["authenticated"]
    user: dict[str, Any]
    expires_at: float | None = None


@attrs.frozen(kw_only=True)
class ReadyFrame:
    """The session, once authenticated."""

    type: Literal["ready"]
    session: Session


@attrs.frozen(kw_only=True)
class StoredMessageFrame:
    """A stored message: the learner's echo, a resumed one, or the reply (``final: true``)."""

    type: Literal["message"]
    message: Message
    final: bool = False


@attrs.frozen(kw_only=True)
class DeltaFrame:
    """A piece of the reply as it is produced."""

    type: Literal["delta"]
    text: str


@attrs.frozen(kw_only=True)
class ResumedFrame:
    """Every message after ``after_seq`` was sent."""

    type: Literal["resumed"]
    last_seq: int
    session: Session


@attrs.frozen(kw_only=True)
class EndedFrame:
    """The scene ended; the server closes with 1000."""

    type: Literal["ended"]
    session: Session


@attrs.frozen(kw_only=True)
class PongFrame:
    """The answer to ``ping``."""

    type: Literal["pong"]


@attrs.frozen(kw_only=True)
class ErrorFrame:
    """An error, with the statuses and codes of the HTTP API; some add fields (``retry_after``, ``field``)."""

    type: Literal["error"]
    status: int
    code: str
    detail: str


@attrs.frozen(kw_only=True)
class ReconnectFrame:
    """The server is restarting: connect again (any server) and ``resume``. Close code 1012 follows."""

    type: Literal["reconnect"]
    code: str
    retry_after: int
    detail: str


CHAT_RECEIVES = (AuthFrame, ResumeFrame, MessageFrame, RetryFrame, PingFrame)
CHAT_SENDS = (AuthenticatedFrame, ReadyFrame, StoredMessageFrame, DeltaFrame, ResumedFrame, EndedFrame, PongFrame,
              ErrorFrame, ReconnectFrame)

# -- the voice socket (/chat/sessions/{id}/voice) --------------------------------------------


@attrs.frozen(kw_only=True)
class StartFrame:
    """Open the call: the microphone's sample rate, the rate to play back at, channels (1 or 2)."""

    type: Literal["start"]
    sample_rate: Literal[16000, 24000, 44100, 48000]
    output_sample_rate: int | None = None
    channels: Literal[1, 2] = 1


@attrs.frozen(kw_only=True)
class TextFrame:
    """Typed input during a call."""

    type: Literal["text"]
    text: str


@attrs.frozen(kw_only=True)
class EndTurnFrame:
    """The microphone closed: the learner finished speaking."""

    type: Literal["end_turn"]


@attrs.frozen(kw_only=True)
class StopFrame:
    """End the call."""

    type: Literal["stop"]


@attrs.frozen(kw_only=True)
class StartedFrame:
    """The model's live session is open; binary frames of 16-bit PCM audio flow both ways from now."""

    type: Literal["started"]
    session_id: str
    input_sample_rate: int
    output_sample_rate: int
    channels: int
    frame_ms: int
    resumed: bool


@attrs.frozen(kw_only=True)
class TranscriptFrame:
    """What was said, as text: partial (``final: false``) then stored (``final: true``, with ``seq``)."""

    type: Literal["transcript"]
    role: str
    text: str
    final: bool
    seq: int | None = None
    voice: bool | None = None
    duration_ms: int | None = None
    interrupted: bool | None = None


@attrs.frozen(kw_only=True)
class InterruptedFrame:
    """The learner spoke over the character: stop playing what is queued."""

    type: Literal["interrupted"]


@attrs.frozen(kw_only=True)
class TurnCompleteFrame:
    """The character finished its turn."""

    type: Literal["turn_complete"]


@attrs.frozen(kw_only=True)
class ReconnectingFrame:
    """The model's connection is being renewed; audio pauses for a moment."""

    type: Literal["reconnecting"]
    time_left_ms: int | None = None


@attrs.frozen(kw_only=True)
class VoiceResumedFrame:
    """The model's connection is back."""

    type: Literal["resumed"]
    reconnects: int


@attrs.frozen(kw_only=True)
class StoppedFrame:
    """The call ended at the learner's ``stop``."""

    type: Literal["stopped"]


VOICE_RECEIVES = (AuthFrame, StartFrame, TextFrame, EndTurnFrame, PingFrame, StopFrame)
VOICE_SENDS = (AuthenticatedFrame, StartedFrame, TranscriptFrame, InterruptedFrame, TurnCompleteFrame,
               ReconnectingFrame, VoiceResumedFrame, PongFrame, StoppedFrame, ErrorFrame, ReconnectFrame)
