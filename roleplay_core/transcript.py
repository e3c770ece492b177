"""A practice session's transcript, as the session owner hands it to other plugins."""

from __future__ import annotations

import datetime as dt

import attrs

from .script import Script

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
