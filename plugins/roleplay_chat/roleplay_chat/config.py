"""The chat plugin's settings: defaults (the ``chat`` table) and their checks."""

from __future__ import annotations

from typing import Any

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

POSITIVE_INTS = ("chat.history_window", "chat.page_size", "chat.max_page_size", "chat.limits.message_chars",
                 "chat.limits.turns_per_session")
#: 0 turns these limits off.
NON_NEGATIVE_INTS = ("chat.limits.sessions_per_day", "chat.limits.messages_per_minute")


def problems(settings: Any) -> list[str]:
    found: list[str] = []
    model = settings.get("chat.model")
    if not isinstance(model, str) or not model.strip():
        found.append("chat.model must name a model provider, for example 'scripted'")
    timeout = settings.get("chat.reply_timeout")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        found.append("chat.reply_timeout must be a positive number of seconds")
    lease = settings.get("chat.turn_lease_seconds")
    if isinstance(lease, bool) or not isinstance(lease, (int, float)) or not 0.3 <= lease <= 300:
        found.append("chat.turn_lease_seconds must be a number of seconds from 0.3 to 300")
    for key in POSITIVE_INTS:
        value = settings.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            found.append(f"{key} must be a positive integer")
    for key in NON_NEGATIVE_INTS:
        value = settings.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            found.append(f"{key} must be an integer, 0 or more (0 turns the limit off)")
    voice_model = settings.get("chat.voice.model")
    if voice_model is not None and not isinstance(voice_model, str):
        found.append("chat.voice.model must name a model provider, or be empty to use chat.model")
    if not isinstance(settings.get("chat.voice.keep_audio"), bool):
        found.append("chat.voice.keep_audio must be true or false")
    for key, default in VOICE_DEFAULTS.items():
        if isinstance(default, (int, float)) and not isinstance(default, bool):
            value = settings.get(f"chat.voice.{key}")
            if key in VOICE_LIMITS:  # 0 turns a limit off, as in docs/voice.md
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                    found.append(f"chat.voice.{key} must be a number, 0 or more (0 turns the limit off)")
            elif isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                found.append(f"chat.voice.{key} must be a positive number")
    seed = settings.get("chat.seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        found.append("chat.seed must be an integer or unset")
    return found
