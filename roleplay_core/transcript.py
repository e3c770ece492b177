"""A practice session's transcript, as the session owner hands it to other plugins."""

from __future__ import annotations

import datetime as dt

import attrs

from .script import Script

#: The two roles a message has, everywhere (sessions, transcripts, live events, reports, prompts).
LEARNER = "learner"
CHARACTER = "character"


@attrs.frozen(kw_only=True)
class TranscriptMessage:
    seq: int
    role: str  # "learner" or "character"
    text: str
    created_at: dt.datetime
    character_id: str | None = None
    #: True for a spoken turn (its text is the final transcription).
    voice: bool = False
    duration_ms: int | None = None
    #: Beat ids the character engine fired with this turn (a character reply), from the provider's
    #: ``Reply.info["beats"]``. ``None`` means "not reported" (a provider without beats, or a
    #: session owner that does not record them); ``()`` means "reported: none fired". The
    #: evaluator scores ``beat_reached`` checks from it, and falls back to matching the learner's
    #: lines against beat triggers when no message of a transcript reports beats.
    beats: tuple[str, ...] | None = None


@attrs.frozen(kw_only=True)
class Transcript:
    session_id: str
    user_id: str
    scenario_id: str
    #: The script as practised (the published version at session start).
    script: Script
    script_version: str | None = None
    character_id: str
    language: str
    status: str  # "active" or "ended"
    started_at: dt.datetime
    ended_at: dt.datetime | None = None
    end_reason: str | None = None
    messages: tuple[TranscriptMessage, ...] = ()
