"""One learner turn: store the message, ask the model provider, store the reply.

Shared by the JSON endpoint, its Server-Sent Events variant and the WebSocket.
A turn has two halves:

- :func:`begin_message` / :func:`begin_retry` check ownership, state and limits,
  take the session's turn lease and store the learner's message. Their failures
  are :class:`~roleplay_chat.errors.ChatError` refusals (nothing was stored).
- :func:`finish` asks the provider (with ``chat.reply_timeout``), streams deltas
  to an ``emit`` callback, stores the reply (and the end of the scene, if the
  provider ended it) and releases the lease. It runs in a detached task
  (:func:`detach`) so a client that disconnects mid-reply does not cancel it:
  the reply is stored and a reconnecting client reads it.

A failing or slow provider leaves the learner's message stored and marked as
awaiting its reply (``pending_seq``); a retry generates it.

Everything here raises chat's domain errors (``errors.py``); the HTTP routes and the sockets
turn them into problems and frames.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import attrs

from roleplay_core import (
    Character,
    NotSupported,
    Principal,
    ProviderError,
    Reply,
    ReplyDelta,
    ReplyRequest,
    Script,
    TranscriptMessage,
    metrics,
)
from roleplay_core.text import control_character

from . import errors, limits, sessions
from .sessions import ACTIVE, CHARACTER, LEARNER, SessionRecord

logger = logging.getLogger("roleplay.chat")

Emit = Callable[[str, Any], Awaitable[None]]

def detach(kernel: Any, coro: Awaitable[Any]) -> asyncio.Task:
    """Run ``coro`` in a task that outlives a cancelled request; :func:`drain` waits for it at shutdown."""
    task = asyncio.ensure_future(coro)
    tasks: set[asyncio.Task] = kernel.state("chat").setdefault("running", set)
    tasks.add(task)
    task.add_done_callback(tasks.discard)
    return task


async def drain(kernel: Any, seconds: float) -> None:
    """Let replies still being written finish (at most ``seconds``) before storage closes."""
    tasks = list(kernel.state("chat").setdefault("running", set))
    if tasks:
        await asyncio.wait(tasks, timeout=seconds)


@attrs.frozen
class Prepared:
    """A turn whose learner message is stored and whose lease is held (and renewed by ``heartbeat``)."""

    record: SessionRecord
    heartbeat: sessions.Heartbeat
    script: Script
    character: Character
    learner: TranscriptMessage


@attrs.frozen
class Outcome:
    learner: TranscriptMessage
    reply: TranscriptMessage
    session: SessionRecord


# -- access ------------------------------------------------------------------------


def not_found(session_id: str) -> errors.SessionMissing:
    return errors.SessionMissing(f"No session {session_id!r}.")


async def owned(kernel: Any, principal: Principal, session_id: str, *, write: bool = False) -> SessionRecord:
    """The session if ``principal`` owns it (admins may read anyone's); 404 otherwise."""
    return (await owned_record(kernel, principal, session_id, write=write))[0]


async def owned_record(kernel: Any, principal: Principal, session_id: str, *,
                       write: bool = False) -> tuple[SessionRecord, str]:
    """:func:`owned` with the record's storage version (to take the lease on without reading it again)."""
    try:
        record, version = await sessions.load_record(kernel, session_id)
    except sessions.SessionNotFound:
        raise not_found(session_id) from None
    if record.user_id != principal.id:
        if not principal.is_admin:
            raise not_found(session_id)  # never confirm that somebody else's session exists
        if write:
            raise errors.NotOwner("Admins can read other people's sessions, not speak in them.")
    return record, version


def ended(record: SessionRecord) -> errors.SessionEnded:
    return errors.SessionEnded(f"This session has ended ({record.end_reason or 'ended'}); it is read-only.")


def busy(held: sessions.SessionBusy | None = None) -> errors.SessionBusy:
    """``session_busy``; ``retry_after`` is the time left on the holder's lease (whole seconds, at least 1).

    The holder renews its lease while it works, so a client that waits that long and
    sends again either gets through or is told the new time left; a holder that died
    stops renewing, and the lease lapses at most ``chat.turn_lease_seconds`` after.
    """
    return errors.SessionBusy("Another message of this session is being answered right now; send yours after it.",
                              retry_after=held.retry_after if held is not None else 1)


def pending(record: SessionRecord) -> errors.ReplyPending:
    return errors.ReplyPending(f"Message {record.pending_seq} is still waiting for its reply",
                               session_id=record.id, pending_seq=record.pending_seq)


async def _lease(kernel: Any, session_id: str,
                 loaded: tuple[SessionRecord, str] | None = None) -> tuple[SessionRecord, sessions.Heartbeat]:
    """Take the turn lease and start renewing it (for at most the whole turn's time)."""
    try:
        record, version, _ = await sessions.take_lease(kernel, session_id, loaded=loaded)
    except sessions.SessionNotFound:
        raise not_found(session_id) from None
    except sessions.SessionEnded:
        raise ended(await sessions.load_session(kernel, session_id)) from None
    except sessions.SessionBusy as held:
        raise busy(held) from None
    limit = kernel.typed_settings("chat").reply_timeout + 2 * sessions.lease_seconds(kernel)
    return record, sessions.Heartbeat(kernel, record, version, limit=limit)


async def _release(kernel: Any, record: SessionRecord, heartbeat: sessions.Heartbeat) -> SessionRecord:
    version = await heartbeat.stop()
    try:
        released, _ = await sessions.release_lease(kernel, record, version)
    except sessions.SessionBusy:
        raise errors.LeaseLost("This turn took longer than its lease and another writer took over; "
                               "reload the session.") from None
    return released


async def _release_quietly(kernel: Any, record: SessionRecord, heartbeat: sessions.Heartbeat) -> None:
    try:
        await sessions.release_lease(kernel, record, await heartbeat.stop())
    except Exception:
        logger.warning("could not release the turn lease of session %s", record.id, exc_info=True)


# -- the first half ------------------------------------------------------------------


def check_text(said: str) -> None:
    """Refuse (:class:`~errors.Invalid` naming ``text``) learner text holding control characters other than
    tab and newlines."""
    found = control_character(said)
    if found is not None:
        raise errors.Invalid("text", f"must not contain control characters (found {found})")


async def begin_message(kernel: Any, principal: Principal, session_id: str, text: str) -> Prepared:
    """Check, take the lease, store the learner's ``text``. Raises a :class:`~errors.ChatError`."""
    check_text(text)
    loaded = await owned_record(kernel, principal, session_id, write=True)
    record = loaded[0]
    if record.status != ACTIVE:
        raise ended(record)
    if record.pending_seq is not None:
        raise pending(record)
    record, heartbeat = await _lease(kernel, session_id, loaded)
    try:
        # Checked again under the lease: the record may have changed since the first look.
        if record.pending_seq is not None:
            raise pending(record)
        limit = kernel.typed_settings("chat").limits.turns_per_session
        if record.learner_turns >= limit:
            raise errors.TurnLimit(f"This session reached its limit of {limit} learner turns; end it and start another.")
        await limits.count_message(kernel, principal.id)
        script = await sessions.load_script(kernel, session_id)
        record, learner = await sessions.append_message(kernel, record, role=LEARNER, text=text)
    except BaseException:
        await _release_quietly(kernel, record, heartbeat)
        raise
    record = attrs.evolve(record, pending_seq=learner.seq)
    return Prepared(record, heartbeat, script, _character(script, record), learner)


async def begin_retry(kernel: Any, principal: Principal, session_id: str) -> Prepared:
    """Take the lease for the learner message still waiting for its reply. Raises a :class:`~errors.ChatError`."""
    loaded = await owned_record(kernel, principal, session_id, write=True)
    record = loaded[0]
    if record.status != ACTIVE:
        raise ended(record)
    record, heartbeat = await _lease(kernel, session_id, loaded)
    try:
        if record.pending_seq is None:
            raise errors.NothingToRetry("Every message of this session has its reply; there is nothing to retry.")
        script = await sessions.load_script(kernel, session_id)
        learner = next((m for m in record.recent if m.seq == record.pending_seq), None)
        if learner is None:
            learner = (await sessions.read_messages(kernel, session_id, record.pending_seq - 1,
                                                    last_seq=record.last_seq))[0]
    except BaseException:
        await _release_quietly(kernel, record, heartbeat)
        raise
    return Prepared(record, heartbeat, script, _character(script, record), learner)


def _character(script: Script, record: SessionRecord) -> Character:
    try:
        return script.character(record.character_id)
    except KeyError:
        return script.character()


# -- the second half -------------------------------------------------------------------


async def _nothing(kind: str, value: Any) -> None:
    return None


async def finish(kernel: Any, prepared: Prepared, emit: Emit = _nothing) -> Outcome:
    """Ask the provider, store its reply, release the lease. Raises :class:`~errors.ReplyTimedOut` or
    :class:`~errors.ReplyFailed` (the learner's message kept for a retry) on failure."""
    record, heartbeat = prepared.record, prepared.heartbeat
    settings = kernel.typed_settings("chat")
    name, timeout = settings.model, settings.reply_timeout
    request = ReplyRequest(
        script=prepared.script,
        character=prepared.character,
        history=record.recent,
        state=record.provider_state,
        seed=record.seed,
        language=record.language,
    )
    final: Reply | None = None
    failure: errors.ChatError | None = None
    saved = sessions.message_to_dict(prepared.learner)
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            async for item in kernel.model(name).reply(request):
                if isinstance(item, ReplyDelta):
                    await emit("delta", item.text)
                elif isinstance(item, Reply):
                    final = item
        if final is None:
            raise ProviderError(f"model provider {name!r} finished without a reply")
    except TimeoutError:
        failure = errors.ReplyTimedOut(f"The character did not answer within {timeout:g} seconds. Your message is "
                                       f"saved (message {prepared.learner.seq}); retry to get the reply.",
                                       session_id=record.id, message=saved)
    except (ProviderError, NotSupported) as exc:
        failure = errors.ReplyFailed(f"The character's model failed: {exc}. Your message is saved "
                                     f"(message {prepared.learner.seq}); retry to get the reply.",
                                     session_id=record.id, message=saved)
    except Exception:
        logger.exception("model provider %r failed in session %s", name, record.id)
        failure = errors.ReplyFailed(f"The character's model failed unexpectedly. Your message is saved "
                                     f"(message {prepared.learner.seq}); retry to get the reply.",
                                     session_id=record.id, message=saved)
    metrics.chat_turn(name, "error" if failure is not None else "ok", time.perf_counter() - started)
    if failure is not None:
        await _release_quietly(kernel, attrs.evolve(record, pending_seq=prepared.learner.seq), heartbeat)
        raise failure
    try:
        record, reply = await sessions.append_message(
            kernel, record, role=CHARACTER, text=final.text,
            character_id=str(final.info.get("character_id") or prepared.character.id),
            beats=final.info.get("beats") if isinstance(final.info.get("beats"), (list, tuple)) else None,
            provider_state=final.state)
        record = attrs.evolve(record, pending_seq=None)
        if final.ended:
            record = await sessions.mark_ended(kernel, record, final.end_reason or "the scene ended")
    except sessions.SessionEnded:
        await heartbeat.stop()
        raise ended(await sessions.load_session(kernel, record.id)) from None
    except sessions.SessionBusy as held:
        await heartbeat.stop()
        raise busy(held) from None
    except BaseException:
        await _release_quietly(kernel, record, heartbeat)
        raise
    record = await _release(kernel, record, heartbeat)
    return Outcome(prepared.learner, reply, record)


def outcome_body(outcome: Outcome) -> dict[str, Any]:
    return {
        "message": sessions.message_to_dict(outcome.learner),
        "reply": sessions.message_to_dict(outcome.reply),
        "session": outcome.session.summary(),
    }
