"""Chat's part of ``roleplay storage fsck``: session snapshots against their logs, indexes against sessions.

- A session record's snapshot (last event, counts, status, the message awaiting a
  reply) must be what its event log says. A writer that crashed between appending
  and writing the record leaves it behind; ``--repair`` rebuilds it from the log
  (compare-and-swap, skipped while a turn holds a live lease).
- Every session has its script snapshot (not repairable: reported).
- Every session is in its owner's index (``--repair`` writes a missing entry); an
  index entry of a missing session, and keys left under a missing session, are
  reported and left alone (listings skip them).
"""

from __future__ import annotations

import json
import time
from typing import Any

import attrs

from roleplay_core import PreconditionFailed

from . import sessions

FIELDS = ("last_seq", "learner_turns", "character_turns", "voice_turns", "status", "pending_seq")


async def rebuilt(kernel: Any, record: sessions.SessionRecord) -> sessions.SessionRecord:
    """The snapshot the session's whole event log gives (keeping the record's own metadata)."""
    current = attrs.evolve(record, last_seq=0, learner_turns=0, character_turns=0, voice_turns=0, recent=(),
                           pending_seq=None, status=sessions.ACTIVE, ended_at=None, end_reason=None,
                           last_message_at=None, turn=None)
    while True:
        folded = await sessions.repair(kernel, current)
        if folded.last_seq == current.last_seq:
            return folded
        current = folded


async def check(kernel: Any, fsck: Any) -> None:
    keys = set(fsck.keys)
    prefix = "chat/sessions/"
    ids = {key[len(prefix):] for key in fsck.under(prefix)
           if key.count("/") == 2 and sessions.valid_session_id(key[len(prefix):])}
    for session_id in sorted(ids):
        await _session(kernel, fsck, keys, session_id)
    fsck.checked["chat sessions"] = len(ids)
    left_over = sorted({key.split("/")[2] for key in fsck.under(prefix) if key.count("/") > 2} - ids)
    for session_id in left_over:
        fsck.problem(f"{prefix}{session_id}/", "keys left over from a deleted session (left alone)")
    for key in fsck.under("chat/users/"):
        parts = key.split("/")
        if len(parts) == 5 and parts[3] == "sessions" and parts[4] not in ids:
            fsck.problem(key, f"index entry of a session that does not exist ({parts[4]}); listings skip it")


async def _session(kernel: Any, fsck: Any, keys: set[str], session_id: str) -> None:
    key = sessions.session_key(session_id)
    try:
        record, version = await sessions.load_record(kernel, session_id)
    except sessions.SessionNotFound:
        return  # deleted since the walk
    except (ValueError, TypeError, KeyError) as exc:
        fsck.problem(key, f"session record cannot be read: {type(exc).__name__}: {exc}")
        return
    if sessions.script_key(session_id) not in keys:
        fsck.problem(sessions.script_key(session_id), "the session's script snapshot is missing")
    if sessions.index_key(record.user_id, session_id) not in keys:
        if fsck.repair:
            await kernel.storage.put(sessions.index_key(record.user_id, session_id), json.dumps(
                {"scenario_id": record.scenario_id, "created_at": record.created_at.isoformat()}).encode())
        fsck.problem(sessions.index_key(record.user_id, session_id), "missing from its owner's session index",
                     repaired=fsck.repair)
    if record.turn is not None and record.turn.until > time.time():
        return  # a turn is being written right now: its snapshot is not final yet
    log = await rebuilt(kernel, record)
    if log.pending_seq is not None and log.recent and log.recent[-1].voice:
        log = attrs.evolve(log, pending_seq=None)  # a spoken turn never waits for a typed reply
    differences = [f"{name} {getattr(record, name)!r} (log: {getattr(log, name)!r})" for name in FIELDS
                   if getattr(record, name) != getattr(log, name)]
    if not differences:
        return
    detail = "snapshot does not match the event log: " + ", ".join(differences)
    repaired = False
    if fsck.repair:
        try:
            await kernel.storage.put(key, sessions.encode(attrs.evolve(log, turn=None)), if_version=version)
            repaired = True
        except PreconditionFailed:
            detail += " (changed while checking; run again)"
    fsck.problem(key, detail, repaired=repaired)
