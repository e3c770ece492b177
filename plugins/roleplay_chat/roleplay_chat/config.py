"""The chat plugin's settings: defaults (the ``chat`` table) and their checks."""

from __future__ import annotations

from typing import Any

import attrs

#: The ``chat.voice`` settings of the voice endpoint (documented in docs/voice.md).
VOICE_DEFAULTS: dict[str, Any] = {
    "model": "",  # empty: chat.model
    "keep_audio": False,
    "max_concurrent_per_user": 2,
    "max_minutes_per_session": 30,
    "max_minutes_per_day": 60,
    "tick_seconds": 5.0,
    "start_timeout": 10.0,
    "frame_ms": 20,
    "buffer_ms": 2000,
    "stall_timeout": 10.0,
    "max_frame_ms": 1000,
    "max_bad_frames": 10,
    "keep_audio_max_seconds": 120,
    "stop_quiet_seconds": 0.75,
    # A new call within this many seconds of the last turn resumes the model's own conversation.
    "resume_seconds": 600,
}

VOICE_LIMITS = ("max_concurrent_per_user", "max_minutes_per_session", "max_minutes_per_day")

DEFAULTS: dict[str, Any] = {
    "chat": {
        #: The model provider that plays characters (``kernel.model(name)``).
        "model": "scripted",
        #: Seconds the provider may take for one whole reply before the client gets a 504.
        "reply_timeout": 30.0,
        #: Seconds a turn lease lasts unless renewed; the holder renews it every third of this while it
        #: works, so after a crash every session takes messages again within this time (docs/chat.md).
        "turn_lease_seconds": 6.0,
        #: How many recent messages the provider sees (the session's state travels separately).
        "history_window": 12,
        #: Fixed seed for every new session (tests, demos); unset or null means random per session.
        "seed": None,
        #: Default and maximum page size of session listings.
        "page_size": 20,
        "max_page_size": 100,
        "limits": {
            "message_chars": 2000,
            "turns_per_session": 200,
            "sessions_per_day": 50,
            "messages_per_minute": 30,
        },
        "voice": VOICE_DEFAULTS,
    }
}

def _positive(instance: Any, attribute: Any, value: float) -> None:
    if value <= 0:
        raise ValueError(f"'{attribute.name}' must be more than 0: {value}")


def _zero_or_more(instance: Any, attribute: Any, value: float) -> None:
    if value < 0:
        raise ValueError(f"'{attribute.name}' must be 0 or more (0 turns the limit off): {value}")


def _named(instance: Any, attribute: Any, value: str) -> None:
    if not value.strip():
        raise ValueError(f"'{attribute.name}' must name a model provider, for example 'scripted'")


@attrs.frozen(kw_only=True)
class Limits:
    message_chars: int = attrs.field(validator=_positive)
    turns_per_session: int = attrs.field(validator=_positive)
    #: 0 turns these limits off.
    sessions_per_day: int = attrs.field(validator=_zero_or_more)
    messages_per_minute: int = attrs.field(validator=_zero_or_more)


@attrs.frozen(kw_only=True)
class Voice:
    """``chat.voice`` (docs/voice.md). Seconds and milliseconds may be written as integers."""

    #: Empty: chat.model.
    model: str | None = ""
    keep_audio: bool
    max_concurrent_per_user: float = attrs.field(validator=_zero_or_more)
    max_minutes_per_session: float = attrs.field(validator=_zero_or_more)
    max_minutes_per_day: float = attrs.field(validator=_zero_or_more)
    tick_seconds: float = attrs.field(validator=_positive)
    start_timeout: float = attrs.field(validator=_positive)
    frame_ms: float = attrs.field(validator=_positive)
    buffer_ms: float = attrs.field(validator=_positive)
    stall_timeout: float = attrs.field(validator=_positive)
    max_frame_ms: float = attrs.field(validator=_positive)
    max_bad_frames: float = attrs.field(validator=_positive)
    keep_audio_max_seconds: float = attrs.field(validator=_positive)
    stop_quiet_seconds: float = attrs.field(validator=_positive)
    resume_seconds: float = attrs.field(validator=_positive)


@attrs.frozen(kw_only=True)
class ChatSettings:
    """The ``chat`` table, structured by the kernel's strict converter (``settings_schema``)."""

    model: str = attrs.field(validator=_named)
    reply_timeout: float = attrs.field(validator=_positive)
    turn_lease_seconds: float = attrs.field(validator=attrs.validators.and_(attrs.validators.ge(0.3),
                                                                            attrs.validators.le(300)))
    history_window: int = attrs.field(validator=_positive)
    seed: int | None = None
    page_size: int = attrs.field(validator=_positive)
    max_page_size: int = attrs.field(validator=_positive)
    limits: Limits
    voice: Voice


def problems(settings: Any) -> list[str]:
    """What types cannot say (every single key is checked by :class:`ChatSettings`)."""
    found: list[str] = []
    page, most = settings.get("chat.page_size"), settings.get("chat.max_page_size")
    if isinstance(page, int) and isinstance(most, int) and page > most:
        found.append(f"chat.page_size ({page}) must not be over chat.max_page_size ({most})")
    return found
