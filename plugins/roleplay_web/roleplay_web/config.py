"""Settings of the ``web`` plugin, under the ``web`` table."""

from __future__ import annotations

from typing import Any

import attrs

from roleplay_core.text import control_character

#: The longest ``web.title`` accepted: it has to fit a header bar and a browser tab.
MAX_TITLE = 80

DEFAULTS: dict[str, Any] = {
    "web": {
        #: The name shown in the page title and header. Rendered as text (escaped), never as markup.
        "title": "Roleplay",
    }
}


def _title(instance: Any, attribute: Any, value: str) -> None:
    if not value.strip():
        raise ValueError(f"'{attribute.name}' must not be blank")
    if len(value.strip()) > MAX_TITLE:
        raise ValueError(f"'{attribute.name}' must have at most {MAX_TITLE} characters (got {len(value.strip())})")
    if control_character(value, one_line=True):
        raise ValueError(f"'{attribute.name}' must not contain control characters")


@attrs.frozen(kw_only=True)
class WebSettings:
    """The ``web`` table, structured by the kernel's strict converter (``settings_schema``)."""

    title: str = attrs.field(validator=_title)
