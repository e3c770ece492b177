"""The chat plugin's settings: defaults (the ``chat`` table) and their checks."""

from __future__ import annotations

from typing import Any

DEFAULTS: dict[str, Any] = {
    "chat": {
        #: The model provider that plays characters (``kernel.model(name)``).
        "model": "scripted",
        #: Seconds the provider may take for one whole reply before the client gets a 504.
        "reply_timeout": 30.0,
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
    for key in POSITIVE_INTS:
        value = settings.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            found.append(f"{key} must be a positive integer")
    for key in NON_NEGATIVE_INTS:
        value = settings.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            found.append(f"{key} must be an integer, 0 or more (0 turns the limit off)")
    seed = settings.get("chat.seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        found.append("chat.seed must be an integer or unset")
    return found
