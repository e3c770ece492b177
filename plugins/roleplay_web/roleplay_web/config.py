"""Settings of the ``web`` plugin, under the ``web`` table."""

from __future__ import annotations

from typing import Any

from roleplay_core.text import control_character

#: The longest ``web.title`` accepted: it has to fit a header bar and a browser tab.
MAX_TITLE = 80

DEFAULTS: dict[str, Any] = {
    "web": {
        #: The name shown in the page title and header. Rendered as text (escaped), never as markup.
        "title": "Roleplay",
    }
}


def title(settings: Any) -> str:
    """``web.title``, trimmed; the default when it is unset or blank."""
    value = settings.get("web.title")
    if not isinstance(value, str) or not value.strip():
        return DEFAULTS["web"]["title"]
    return value.strip()


def problems(settings: Any) -> list[str]:
    """What is wrong with the ``web`` settings (an empty list when nothing is)."""
    value = settings.get("web.title", DEFAULTS["web"]["title"])
    if not isinstance(value, str):
        return [f"web.title must be a string (got {type(value).__name__})"]
    found = []
    if not value.strip():
        found.append("web.title must not be blank")
    if len(value.strip()) > MAX_TITLE:
        found.append(f"web.title must have at most {MAX_TITLE} characters (got {len(value.strip())})")
    if control_character(value, one_line=True):
        found.append("web.title must not contain control characters")
    return found
