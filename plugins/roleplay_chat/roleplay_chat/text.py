"""Checks on text that comes from a client: WebSocket frames and learner messages."""

from __future__ import annotations

from typing import Any

from roleplay_core import loads_json


def parse_frame(text: str) -> Any:
    """The JSON value of a WebSocket text frame; ``ValueError`` (with a reason) if it is not usable.

    The kernel's hardened parser (:func:`roleplay_core.loads_json`), as for request bodies.
    """
    try:
        return loads_json(text)
    except ValueError as exc:
        raise ValueError(f"the frame is {exc}") from None
