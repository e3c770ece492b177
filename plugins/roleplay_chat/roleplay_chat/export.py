"""Session exports: plain text, Markdown and JSON Lines."""

from __future__ import annotations

import json
from collections.abc import Sequence

from roleplay_core import Script, TranscriptMessage

from .sessions import LEARNER, SessionRecord, message_to_dict

FORMATS = {
    "text": ("text/plain; charset=utf-8", "txt"),
    "markdown": ("text/markdown; charset=utf-8", "md"),
    "jsonl": ("application/x-ndjson; charset=utf-8", "jsonl"),
}


def _speaker(message: TranscriptMessage, script: Script) -> str:
    if message.role == LEARNER:
        return "You"
    try:
        return script.character(message.character_id).name
    except KeyError:
        return message.character_id or "Character"


def _ending(session: SessionRecord) -> str:
    if session.status != "ended":
        return "in progress"
    return f"ended: {session.end_reason}" if session.end_reason else "ended"


def render(fmt: str, session: SessionRecord, script: Script, messages: Sequence[TranscriptMessage]) -> str:
    """The session in ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == "text":
        lines = [script.title, f"Started {session.created_at.isoformat()} ({_ending(session)})", ""]
        for m in messages:
            lines.append(f"[{m.seq}] {_speaker(m, script)}: {m.text}")
        return "\n".join(lines) + "\n"
    if fmt == "markdown":
        lines = [f"# {script.title}", "", f"*Started {session.created_at.isoformat()} ({_ending(session)})*", ""]
        for m in messages:
            spoken = " (spoken)" if m.voice else ""
            text = m.text.replace("\n", "  \n")
            lines.append(f"**{_speaker(m, script)}**{spoken}: {text}")
            lines.append("")
        return "\n".join(lines)
    if fmt == "jsonl":
        head = {"type": "session", **session.summary()}
        rows = [json.dumps(head, ensure_ascii=False)]
        rows += [json.dumps({"type": "message", **message_to_dict(m)}, ensure_ascii=False) for m in messages]
        return "\n".join(rows) + "\n"
    raise ValueError(fmt)
