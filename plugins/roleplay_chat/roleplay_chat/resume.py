"""Resuming the model's own conversation in a later voice call (``chat.voice.resume_seconds``).

After each turn the voice endpoint stores the provider's newest resumption handle with the
transcript it has seen; a call starting soon after, with nothing said since, continues that
conversation on any server process instead of starting afresh with the history.
"""

from __future__ import annotations

import json
import time
from typing import Any

from . import sessions
from .quota import read_json


def handle_key(session_id: str) -> str:
    return f"{sessions.session_key(session_id)}/voice-resume"


async def save_handle(kernel: Any, session_id: str, handle: str | None, last_seq: int) -> None:
    """Remember the provider's newest resumption handle and the transcript it has seen."""
    if handle:
        body = {"handle": handle, "last_seq": last_seq, "saved_at": time.time()}
        await kernel.storage.put(handle_key(session_id), json.dumps(body).encode())


async def resumable_handle(kernel: Any, session_id: str, last_seq: int) -> str | None:
    """A handle a new call may resume from: recent, and nothing was said since (typed turns
    after the call are not in the model's memory, so they force a fresh start with history)."""
    body, _ = await read_json(kernel, handle_key(session_id))
    max_age = kernel.typed_settings("chat").voice.resume_seconds
    if not body or not max_age or time.time() - float(body.get("saved_at", 0)) > max_age:
        return None
    return body.get("handle") if body.get("last_seq") == last_seq else None
