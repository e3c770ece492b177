"""Checks on text that comes from a client: WebSocket frames and learner messages."""

from __future__ import annotations

import json
import re
from typing import Any

# C0 control characters except tab, newline and carriage return, plus DEL: nothing a
# learner types, and a NUL or escape code in a stored transcript breaks exports and terminals.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def control_characters(text: str) -> str | None:
    """A description of the first control character in ``text`` (``"U+0000"``), or None."""
    found = _CONTROL.search(text)
    return None if found is None else f"U+{ord(found.group()):04X}"


def parse_frame(text: str) -> Any:
    """The JSON value of a WebSocket text frame; ``ValueError`` (with a reason) if it is not usable.

    Refuses, besides invalid JSON, nesting too deep for the parser (``RecursionError``)
    and strings holding lone surrogates (``"\\ud800"``): they are valid JSON escapes but
    not text, and echoing them would fail later on UTF-8 encoding.
    """
    try:
        value = json.loads(text)
    except RecursionError:
        raise ValueError("the frame is nested too deeply") from None
    except ValueError:
        raise ValueError("the frame is not valid JSON") from None
    try:
        # ensure_ascii=False keeps surrogates as they are, so encoding finds them.
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("the frame holds a lone surrogate (\\ud800-\\udfff), which is not text") from None
    except RecursionError:  # cannot happen after loads succeeded, but never a crash
        raise ValueError("the frame is nested too deeply") from None
    return value
