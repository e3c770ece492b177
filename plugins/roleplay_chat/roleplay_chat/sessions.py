"""Practice sessions in storage: the one place that reads and writes them.

Layout (all under ``chat/``)::

    chat/sessions/<id>              the session record: metadata plus a small snapshot
                                    (last seq, counts, provider state, recent messages,
                                    the turn lease), compare-and-swapped on every change
    chat/sessions/<id>/script       the script as practised (written once, create-only)
    chat/sessions/<id>/log/...      the session's EventLog: "message" and "ended" events
    chat/users/<user>/sessions/<id> the owner's index, for "my sessions"

Message numbers are the event-log sequence numbers. A writer appends only while it
holds the session's *turn lease* (a field of the record, taken by compare-and-swap)
and appends at the exact next number (``EventLog.append(..., seq=n)``), so two
requests racing on one session can never write the same number or leave a gap: the
loser of the lease gets :class:`SessionBusy` (HTTP 409). Nothing is kept in process
memory except immutable script snapshots, so any server process can serve any
session.

Public service functions other parts of the product call (the voice endpoint
appends spoken turns through :func:`append_turn`); their names are stable:

- ``await create_session(kernel, user_id, published, character_id=None, seed=None)``
- ``await load_session(kernel, session_id)`` -> :class:`SessionRecord` (raises :class:`SessionNotFound`)
- ``await load_script(kernel, session_id)`` -> the :class:`roleplay_core.Script` as practised
- ``await read_messages(kernel, session_id, after_seq=0)`` -> ``list[TranscriptMessage]``
- ``await append_turn(kernel, session_id, role=..., text=..., voice=False, duration_ms=None,
  character_id=None)`` -> the stored :class:`TranscriptMessage`
- ``await end_session(kernel, session_id, reason=...)`` -> the ended :class:`SessionRecord`
- ``await read_transcript(kernel, session_id)`` -> :class:`roleplay_core.Transcript` or ``None``
- helpers: ``session_key(id)`` and ``user_prefix(user_id)`` (where a session's and a user's keys
  live: put per-session data under ``session_key(id) + "/..."`` so deleting the session removes
  it), ``history_window(kernel)``, the status constants ``ACTIVE`` / ``ENDED`` and the exceptions
  :class:`SessionNotFound`, :class:`SessionEnded`, :class:`SessionBusy`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import logging
import secrets
import time
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import attrs
from cattrs.gen import make_dict_unstructure_fn, override

from roleplay_core import (
    CHARACTER,
    LEARNER,
    SLUG,
    EventLog,
    NotFound,
    PreconditionFailed,
    PublishedScript,
    Script,
    Transcript,
    TranscriptMessage,
    converter,
    script_to_dict,
    stored_script_from_dict,
)
from roleplay_core.storage import key_segment, time_ordered_id

logger = logging.getLogger("roleplay.chat")

ROLES = (LEARNER, CHARACTER)
ACTIVE = "active"
ENDED = "ended"


class SessionNotFound(LookupError):
    """No session with that id (or it was deleted)."""


class SessionBusy(Exception):
    """Another turn of this session is being written right now; try again in ``retry_after`` seconds."""

    def __init__(self, session_id: str, retry_after: float = 1.0) -> None:
        super().__init__(session_id)
        #: Seconds until the holder's lease lapses unless renewed: when trying again makes sense.
        self.retry_after = max(0.0, retry_after)


class SessionEnded(Exception):
    """The session is ended and read-only."""


@attrs.frozen(kw_only=True)
class Lease:
    """Who is writing a turn right now, and until when (epoch seconds)."""

    id: str
    until: float


@attrs.frozen(kw_only=True)
class SessionRecord:
    """The session's metadata and the snapshot that keeps each message's cost constant."""

    id: str
    user_id: str
    scenario_id: str
    script_version: str | None = None
    title: str = ""
    character_id: str
    language: str
    seed: int
    status: str = ACTIVE
    created_at: dt.datetime
    ended_at: dt.datetime | None = None
    end_reason: str | None = None
    #: Newest event number in the log (messages and the final "ended" event).
    last_seq: int = 0
    learner_turns: int = 0
    character_turns: int = 0
    voice_turns: int = 0
    #: The learner message still waiting for its reply (after a failed or timed-out provider).
    pending_seq: int | None = None
    #: What the model provider returned as ``Reply.state`` last time.
    provider_state: Mapping[str, Any] = attrs.field(factory=dict)
    #: The newest messages (bounded by ``chat.history_window``): the model's context window.
    recent: tuple[TranscriptMessage, ...] = ()
    turn: Lease | None = None
    last_message_at: dt.datetime | None = None

    @property
    def messages(self) -> int:
        return self.learner_turns + self.character_turns

    def duration_seconds(self, now: dt.datetime | None = None) -> float:
        end = self.ended_at or now or _now()
        return max(0.0, (end - self.created_at).total_seconds())

    def summary(self) -> dict[str, Any]:
        """The public view of the record (no provider state, no lease)."""
        return {
            "id": self.id,
            "user_id": self.user_id,
            "scenario_id": self.scenario_id,
            "script_version": self.script_version,
            "title": self.title,
            "character_id": self.character_id,
            "language": self.language,
            "status": self.status,
            "created_at": self.created_at.isoformat(),
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "end_reason": self.end_reason,
            "duration_seconds": round(self.duration_seconds(), 3),
            "last_seq": self.last_seq,
            "counts": {
                "messages": self.messages,
                "learner": self.learner_turns,
                "character": self.character_turns,
                "voice": self.voice_turns,
            },
            "awaiting_reply": self.pending_seq,
        }


# -- keys ----------------------------------------------------------------------


def session_key(session_id: str) -> str:
    return f"chat/sessions/{session_id}"


def script_key(session_id: str) -> str:
    return f"chat/sessions/{session_id}/script"


def user_prefix(user_id: str) -> str:
    # User ids come from the auth plugin; encode them so no id can add a key segment or be "..".
    return f"chat/users/{key_segment(user_id)}"


def index_key(user_id: str, session_id: str) -> str:
    return f"{user_prefix(user_id)}/sessions/{session_id}"


def event_log(kernel: Any, session_id: str) -> EventLog:
    # No head hint: the session record's last_seq is the hint (one write per message fewer), and
    # readers that have the record pass it as known_last.
    return EventLog(kernel.storage, f"chat/sessions/{session_id}/log", head_hint=False)


def new_session_id() -> str:
    """Time-ordered (milliseconds, hex) then random: listings sort oldest to newest."""
    return time_ordered_id(6)


def valid_session_id(session_id: str) -> bool:
    return len(session_id) == 24 and all(c in "0123456789abcdef" for c in session_id)


def valid_slug(value: str) -> bool:
    """Script and character ids are slugs; anything else cannot name one (nor a storage key)."""
    return bool(SLUG.match(value))


# -- (de)serialisation -----------------------------------------------------------


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def encode(record: SessionRecord) -> bytes:
    """The session record as stored: JSON, its newest messages last.

    A record is written twice a turn (the lease and its release) and carries up to
    ``chat.history_window`` messages, which never change once written: each message's JSON is
    made once per process and reused, and only the record's other fields are made each time.
    """
    head = json.dumps(_unstructure_head(record), ensure_ascii=False, separators=(",", ":"))
    return f'{head[:-1]},"recent":[{",".join(map(_message_json, record.recent))}]}}'.encode()


_unstructure_head = make_dict_unstructure_fn(SessionRecord, converter, recent=override(omit=True))
# id(message) -> (message, its JSON). Holding the message keeps its id from being reused.
_message_texts: dict[int, tuple[TranscriptMessage, str]] = {}
_MESSAGE_TEXTS_KEPT = 4096


def _message_json(message: TranscriptMessage) -> str:
    kept = _message_texts.get(id(message))
    if kept is not None and kept[0] is message:
        return kept[1]
    text = json.dumps(converter.unstructure(message), ensure_ascii=False, separators=(",", ":"))
    if len(_message_texts) >= _MESSAGE_TEXTS_KEPT:
        _message_texts.clear()  # rare, and the messages still in use are made again once
    _message_texts[id(message)] = (message, text)
    return text


def decode(raw: bytes) -> SessionRecord:
    return converter.structure(json.loads(raw), SessionRecord)


def message_to_dict(message: TranscriptMessage) -> dict[str, Any]:
    body = {
        "seq": message.seq,
        "role": message.role,
        "text": message.text,
        "created_at": message.created_at.isoformat(),
        "character_id": message.character_id,
        "voice": message.voice,
    }
    if message.duration_ms is not None:
        body["duration_ms"] = message.duration_ms
    return body


def _message_from_event(event: Any) -> TranscriptMessage:
    data = event.data
    return TranscriptMessage(
        seq=event.seq,
        role=data["role"],
        text=data["text"],
        created_at=event.created_at,
        character_id=data.get("character_id"),
        voice=bool(data.get("voice", False)),
        duration_ms=data.get("duration_ms"),
        beats=tuple(data["beats"]) if data.get("beats") is not None else None,
    )


# -- reading ---------------------------------------------------------------------


async def load_record(kernel: Any, session_id: str) -> tuple[SessionRecord, str]:
    """The session record and its storage version (for compare-and-swap)."""
    if not valid_session_id(session_id):
        raise SessionNotFound(session_id)
    try:
        stored = await kernel.storage.get(session_key(session_id))
    except NotFound:
        raise SessionNotFound(session_id) from None
    # Decoding the record (its recent messages with their dates) was a fifth of a session read's CPU.
    # A record is immutable and every write gives it a new version, so the one decoded for the
    # version just read is the record, whichever process wrote it.
    parsed = _parsed(kernel)
    hit = parsed.get(session_id)
    if hit is not None and hit[0] == stored.version:
        parsed.move_to_end(session_id)
        return hit[1], stored.version
    record = decode(stored.data)
    _remember(kernel, record, stored.version)
    return record, stored.version


def _remember(kernel: Any, record: SessionRecord, version: str) -> None:
    """Keep ``record`` as the decoded form of ``version`` (after reading it, or writing it)."""
    parsed = _parsed(kernel)
    parsed[record.id] = (version, record)
    parsed.move_to_end(record.id)
    while len(parsed) > _PARSED_SIZE:
        parsed.popitem(last=False)


_PARSED_SIZE = 1024


def _parsed(kernel: Any) -> OrderedDict[str, tuple[str, SessionRecord]]:
    """Session records as last decoded, by session id, with the version they were decoded from."""
    return kernel.state("chat").setdefault("records", OrderedDict)


async def load_session(kernel: Any, session_id: str) -> SessionRecord:
    """The session record; raise :class:`SessionNotFound`."""
    return (await load_record(kernel, session_id))[0]


_SCRIPT_CACHE_SIZE = 256


def _script_cache(kernel: Any) -> OrderedDict[str, tuple[Script, str | None]]:
    """Scripts as practised, by session id, most recent last (in ``kernel.state("chat")``)."""
    return kernel.state("chat").setdefault("scripts", OrderedDict)


async def load_script(kernel: Any, session_id: str) -> Script:
    """The script as practised. Cached per kernel: the snapshot never changes once written."""
    return (await load_script_version(kernel, session_id))[0]


async def load_script_version(kernel: Any, session_id: str) -> tuple[Script, str | None]:
    cache = _script_cache(kernel)
    hit = cache.get(session_id)
    if hit is not None:
        cache.move_to_end(session_id)
        return hit
    try:
        raw = (await kernel.storage.get(script_key(session_id))).data
    except NotFound:
        raise SessionNotFound(session_id) from None
    # Sessions of one published version hold byte-identical snapshots: they share one Script, so
    # what is built per script and cached by identity (the engine's trigger index, the lexicon:
    # 7 ms of CPU for the refund script) is built once per process, not once per session.
    digest = hashlib.blake2b(raw, digest_size=16).digest()
    same: OrderedDict[bytes, tuple[Script, str | None]] = kernel.state("chat").setdefault("snapshots", OrderedDict)
    value = same.get(digest)
    if value is None:
        body = json.loads(raw)
        value = (stored_script_from_dict(body["script"]), body.get("version"))
        same[digest] = value
        while len(same) > _SCRIPT_CACHE_SIZE // 4:
            same.popitem(last=False)
    else:
        same.move_to_end(digest)
    cache[session_id] = value
    while len(cache) > _SCRIPT_CACHE_SIZE:
        cache.popitem(last=False)
    return value


async def read_messages(kernel: Any, session_id: str, after_seq: int = 0, *,
                        last_seq: int | None = None) -> list[TranscriptMessage]:
    """The session's messages with ``seq > after_seq``, in order.

    ``last_seq``: the record's ``last_seq`` when the caller has the record (the reads then go out in
    one batch); events past it, left by a writer that died before updating the record, are read too.
    """
    after = max(0, after_seq)
    log = event_log(kernel, session_id)
    if last_seq is None:
        return [_message_from_event(e) for e in await log.read(after=after) if e.type == "message"]
    cache = _message_cache(kernel)
    covered, cached = cache.get(session_id)
    if covered == 0 and after > 0:  # only the tail of a session not read here before: read just that
        return [_message_from_event(e) for e in await log.read(after=after, known_last=last_seq)
                if e.type == "message"]
    # Events never change once written (create-only), so what this process read before is read
    # again from memory; storage is asked only for what came after it, plus one past the end.
    events = await log.read(after=covered, known_last=max(last_seq, covered))
    if events:
        covered, cached = cache.extend(session_id, covered, cached, events)
    return [m for m in cached if m.seq > after]


class MessageCache:
    """Messages already read, per session: seq 1..``covered`` (events are never rewritten).

    Least recently read sessions go first once more than ``budget`` messages are held. Only
    readers that hold the session record use it (the record proves the session still exists:
    a deleted session's messages are never served from here).
    """

    def __init__(self, budget: int = 20_000) -> None:
        self.budget = budget
        self.held = 0
        self._sessions: OrderedDict[str, tuple[int, list[TranscriptMessage]]] = OrderedDict()

    def get(self, session_id: str) -> tuple[int, list[TranscriptMessage]]:
        entry = self._sessions.get(session_id)
        if entry is None:
            return 0, []
        self._sessions.move_to_end(session_id)
        return entry

    def extend(self, session_id: str, covered: int, cached: list[TranscriptMessage],
               events: list[Any]) -> tuple[int, list[TranscriptMessage]]:
        """Add ``events`` (read in order after ``covered``); returns the session's new entry."""
        messages = [*cached, *(_message_from_event(e) for e in events if e.type == "message")]
        entry = (events[-1].seq, messages)
        self.forget(session_id)
        if len(messages) <= self.budget // 4:  # one very long session does not push out every other
            self._sessions[session_id] = entry
            self.held += len(messages)
            while self.held > self.budget:
                _, (_, dropped) = self._sessions.popitem(last=False)
                self.held -= len(dropped)
        return entry

    def forget(self, session_id: str) -> None:
        entry = self._sessions.pop(session_id, None)
        if entry is not None:
            self.held -= len(entry[1])


def _message_cache(kernel: Any) -> MessageCache:
    return kernel.state("chat").setdefault("messages", MessageCache)


async def read_transcript(kernel: Any, session_id: str) -> Transcript | None:
    """The whole transcript with the script as practised, or ``None`` for an unknown session."""
    try:
        session = await load_session(kernel, session_id)
        script, version = await load_script_version(kernel, session_id)
    except SessionNotFound:
        return None
    messages = await read_messages(kernel, session_id, last_seq=session.last_seq)
    return Transcript(
        session_id=session.id,
        user_id=session.user_id,
        scenario_id=session.scenario_id,
        script=script,
        script_version=version,
        character_id=session.character_id,
        language=session.language,
        status=session.status,
        started_at=session.created_at,
        ended_at=session.ended_at,
        end_reason=session.end_reason,
        messages=tuple(messages),
    )


# -- writing ---------------------------------------------------------------------


def history_window(kernel: Any) -> int:
    return kernel.typed_settings("chat").history_window


def lease_seconds(kernel: Any) -> float:
    """``chat.turn_lease_seconds``: how long a turn lease lasts unless its holder renews it. Short,
    because a holder that crashed locks the session until it lapses; a live holder renews it every
    third of this while the reply is produced (:class:`Heartbeat`)."""
    return kernel.typed_settings("chat").turn_lease_seconds


async def create_session(
    kernel: Any,
    user_id: str,
    published: PublishedScript,
    *,
    character_id: str | None = None,
    seed: int | None = None,
) -> tuple[SessionRecord, list[TranscriptMessage]]:
    """Start a session on ``published``; the character's opening line is message 1 when it speaks first."""
    script = published.script
    character = script.character(character_id)
    session_id = new_session_id()
    now = _now()
    await kernel.storage.put(
        script_key(session_id),
        json.dumps({"script": script_to_dict(script), "version": published.version}, ensure_ascii=False).encode(),
        if_absent=True,
    )
    messages: list[TranscriptMessage] = []
    if character.speaks_first and character.opening_line.strip():
        event = await event_log(kernel, session_id).append(
            "message", {"role": CHARACTER, "text": character.opening_line, "character_id": character.id,
                        "voice": False}, seq=1)
        messages.append(_message_from_event(event))
    record = SessionRecord(
        id=session_id,
        user_id=user_id,
        scenario_id=script.id,
        script_version=published.version,
        title=script.title,
        character_id=character.id,
        language=script.language,
        seed=seed if seed is not None else secrets.randbelow(2**31),
        created_at=now,
        last_seq=len(messages),
        character_turns=len(messages),
        recent=tuple(messages),
        last_message_at=messages[-1].created_at if messages else None,
    )
    await kernel.storage.put(session_key(session_id), encode(record), if_absent=True)
    await kernel.storage.put(index_key(user_id, session_id),
                             json.dumps({"scenario_id": script.id, "created_at": now.isoformat()}).encode())
    return record, messages


async def take_lease(kernel: Any, session_id: str, *, wait: float = 0.0,
                     loaded: tuple[SessionRecord, str] | None = None) -> tuple[SessionRecord, str, Lease]:
    """Take the session's turn lease by compare-and-swap.

    Returns the record as written (holding the lease), its version and the lease.
    Raises :class:`SessionNotFound`, :class:`SessionEnded`, or :class:`SessionBusy`
    when another writer holds a live lease for longer than ``wait`` seconds.
    ``loaded``: the record and version the caller just read, tried first (a changed
    record fails the compare-and-swap and is read again), saving a read per turn.
    """
    deadline = time.monotonic() + wait
    while True:
        if loaded is not None:
            (record, version), loaded = loaded, None
        else:
            record, version = await load_record(kernel, session_id)
        if record.status != ACTIVE:
            raise SessionEnded(session_id)
        now = time.time()
        if record.turn is None or record.turn.until < now:
            if record.turn is not None:
                # Taking over an expired lease: its holder may have died between appending an
                # event and updating the record. Fold such events in before anything else.
                record = await repair(kernel, record)
            lease = Lease(id=uuid.uuid4().hex, until=now + lease_seconds(kernel))
            held = attrs.evolve(record, turn=lease if record.status == ACTIVE else None)
            try:
                new_version = await kernel.storage.put(session_key(session_id), encode(held), if_version=version)
            except PreconditionFailed:
                continue  # somebody changed the record: look again
            _remember(kernel, held, new_version)
            if held.status != ACTIVE:  # the dead writer had ended the scene
                raise SessionEnded(session_id)
            return held, new_version, lease
        if time.monotonic() >= deadline:
            raise SessionBusy(session_id, retry_after=record.turn.until - now)
        await asyncio.sleep(0.02)


async def release_lease(kernel: Any, record: SessionRecord, version: str) -> tuple[SessionRecord, str]:
    """Write ``record`` without the lease, on the version the lease holder wrote."""
    released = attrs.evolve(record, turn=None)
    try:
        new_version = await kernel.storage.put(session_key(record.id), encode(released), if_version=version)
    except PreconditionFailed:
        # Only after our lease expired and another writer took over (or the session was deleted).
        raise SessionBusy(record.id) from None
    _remember(kernel, released, new_version)
    return released, new_version


class Heartbeat:
    """Keeps a held turn lease alive while a reply is produced: renews it every third of its length.

    Every renewal is a compare-and-swap of the session record that only moves
    ``turn.until``, so the record's version changes: :meth:`stop` returns the
    version to write the record on afterwards. The loop is never cancelled in the
    middle of a write (it is told to stop and awaited), so that version is always
    the one in storage. Renewals end after ``limit`` seconds, whatever the turn does,
    so a turn stuck past every timeout cannot hold the session for ever. A renewal
    that finds another version means the lease lapsed and another writer took over:
    ``lost`` turns true and the holder's final write fails as it would have anyway.
    """

    def __init__(self, kernel: Any, record: SessionRecord, version: str, *, limit: float) -> None:
        self.kernel = kernel
        self.record = record
        self.version = version
        self.lost = False
        self.renewals = 0
        self._limit = limit
        self._stopping = asyncio.Event()
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        seconds = lease_seconds(self.kernel)
        give_up = time.monotonic() + self._limit
        while not self.lost and time.monotonic() < give_up:
            try:
                await asyncio.wait_for(self._stopping.wait(), seconds / 3)
                return
            except TimeoutError:
                pass
            if self.record.turn is None:
                return
            renewed = attrs.evolve(self.record, turn=attrs.evolve(self.record.turn, until=time.time() + seconds))
            try:
                self.version = await self.kernel.storage.put(session_key(self.record.id), encode(renewed),
                                                             if_version=self.version)
            except PreconditionFailed:
                self.lost = True
                logger.warning("session %s: the turn lease lapsed and another writer took over", self.record.id)
                return
            except Exception:  # a storage hiccup: the lease still has two thirds of its time; try again
                logger.warning("session %s: could not renew the turn lease", self.record.id, exc_info=True)
                continue
            self.record = renewed
            self.renewals += 1

    async def stop(self) -> str:
        """Stop renewing; return the record's version in storage (to release the lease on)."""
        self._stopping.set()
        await asyncio.shield(self._task)
        return self.version


def _with_message(kernel: Any, record: SessionRecord, message: TranscriptMessage) -> SessionRecord:
    """Fold one stored message into the snapshot."""
    window = history_window(kernel)
    recent = (*record.recent, message)[-window:]
    return attrs.evolve(
        record,
        last_seq=message.seq,
        learner_turns=record.learner_turns + (message.role == LEARNER),
        character_turns=record.character_turns + (message.role == CHARACTER),
        voice_turns=record.voice_turns + bool(message.voice),
        recent=recent,
        last_message_at=message.created_at,
    )


async def repair(kernel: Any, record: SessionRecord) -> SessionRecord:
    """Fold events written after ``record.last_seq`` into the snapshot.

    Only needed when a writer died (or its lease expired) between appending an
    event and updating the record; it reads just the few events past the snapshot.
    """
    events = await event_log(kernel, record.id).read(after=record.last_seq, limit=16)
    for event in events:
        if event.type == "message":
            message = _message_from_event(event)
            record = _with_message(kernel, record, message)
            record = attrs.evolve(record, pending_seq=message.seq if message.role == LEARNER else None)
            if isinstance(event.data.get("state"), Mapping):
                record = attrs.evolve(record, provider_state=dict(event.data["state"]))
        elif event.type == "ended":
            record = attrs.evolve(record, last_seq=event.seq, status=ENDED, ended_at=event.created_at,
                                  end_reason=event.data.get("reason"))
    return record


async def append_message(
    kernel: Any,
    record: SessionRecord,
    *,
    role: str,
    text: str,
    voice: bool = False,
    duration_ms: int | None = None,
    character_id: str | None = None,
    beats: tuple[str, ...] | list[str] | None = None,
    provider_state: Mapping[str, Any] | None = None,
) -> tuple[SessionRecord, TranscriptMessage]:
    """Append one message at exactly ``record.last_seq + 1``; the caller holds the lease.

    Returns the updated (not yet written) record (with ``provider_state`` when
    given) and the stored message. A
    conflict means a previous writer left events past the snapshot: fold them in
    and append after them.
    """
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")
    data: dict[str, Any] = {"role": role, "text": text, "voice": bool(voice),
                            "character_id": character_id if role == CHARACTER else None}
    if duration_ms is not None:
        data["duration_ms"] = int(duration_ms)
    if beats is not None and role == CHARACTER:
        data["beats"] = list(beats)  # the evaluator scores beat_reached checks from these
    if provider_state is not None and role == CHARACTER:
        # With the provider's state in the reply's event, the whole session is derivable from its events.
        data["state"] = dict(provider_state)
    log = event_log(kernel, record.id)
    for _ in range(3):
        try:
            event = await log.append("message", data, seq=record.last_seq + 1)
        except PreconditionFailed:
            record = await repair(kernel, record)
            if record.status != ACTIVE:
                raise SessionEnded(record.id) from None
            continue
        message = _message_from_event(event)
        record = _with_message(kernel, record, message)
        if provider_state is not None and role == CHARACTER:
            record = attrs.evolve(record, provider_state=dict(provider_state))
        return record, message
    raise SessionBusy(record.id)


async def append_turn(
    kernel: Any,
    session_id: str,
    *,
    role: str,
    text: str,
    voice: bool = False,
    duration_ms: int | None = None,
    character_id: str | None = None,
    wait: float = 5.0,
) -> TranscriptMessage:
    """Store one turn (for example a spoken one: ``voice=True`` with ``duration_ms``).

    Waits up to ``wait`` seconds for a text turn in progress, then raises
    :class:`SessionBusy`. Raises :class:`SessionNotFound` and :class:`SessionEnded`.
    No reply is generated: the caller produced both sides of a voice conversation.
    """
    record, version, _ = await take_lease(kernel, session_id, wait=wait)
    try:
        record, message = await append_message(
            kernel, record, role=role, text=text, voice=voice, duration_ms=duration_ms,
            character_id=(character_id or record.character_id) if role == CHARACTER else None)
    except BaseException:
        await _release_quietly(kernel, record, version)
        raise
    await release_lease(kernel, record, version)
    return message


async def _release_quietly(kernel: Any, record: SessionRecord, version: str) -> None:
    try:
        await release_lease(kernel, record, version)
    except Exception:
        pass


async def mark_ended(kernel: Any, record: SessionRecord, reason: str) -> SessionRecord:
    """Append the "ended" event and return the ended (not yet written) record; the caller holds the lease."""
    event = await event_log(kernel, record.id).append("ended", {"reason": reason}, seq=record.last_seq + 1)
    return attrs.evolve(record, status=ENDED, ended_at=event.created_at, end_reason=reason, last_seq=event.seq,
                        pending_seq=None)


async def end_session(kernel: Any, session_id: str, *, reason: str = "ended by the learner") -> SessionRecord:
    """End an active session (idempotent on an ended one). Raises :class:`SessionBusy` mid-turn."""
    try:
        record, version, _ = await take_lease(kernel, session_id)
    except SessionEnded:
        return await load_session(kernel, session_id)
    try:
        ended = await mark_ended(kernel, record, reason)
    except PreconditionFailed:
        record = await repair(kernel, record)
        if record.status == ENDED:
            ended = record
        else:
            ended = await mark_ended(kernel, record, reason)
    except BaseException:
        await _release_quietly(kernel, record, version)
        raise
    released, _ = await release_lease(kernel, ended, version)
    return released


async def delete_session(kernel: Any, session_id: str) -> None:
    """Remove the session, its script snapshot, its events and the owner's index entry."""
    record = await load_session(kernel, session_id)
    # The record goes first: from then on the session is 404 everywhere.
    try:
        await kernel.storage.delete(session_key(session_id))
    except NotFound:
        raise SessionNotFound(session_id) from None
    for key in await kernel.storage.list_all(f"{session_key(session_id)}/"):
        try:
            await kernel.storage.delete(key)
        except NotFound:
            pass
    try:
        await kernel.storage.delete(index_key(record.user_id, session_id))
    except NotFound:
        pass
    _script_cache(kernel).pop(session_id, None)
    _message_cache(kernel).forget(session_id)
    _parsed(kernel).pop(session_id, None)


async def delete_user_data(kernel: Any, user_id: str) -> int:
    """Erase every session of ``user_id`` (messages, script snapshots, audio) and the user's
    counters; returns how many sessions went. Called when the account is deleted."""
    prefix = f"{user_prefix(user_id)}/sessions/"
    deleted = 0
    for key in await kernel.storage.list_all(prefix):
        try:
            await delete_session(kernel, key[len(prefix):])
            deleted += 1
        except SessionNotFound:
            pass
    for key in await kernel.storage.list_all(f"{user_prefix(user_id)}/"):
        try:
            await kernel.storage.delete(key)
        except NotFound:
            pass
    return deleted


async def list_sessions(kernel: Any, user_id: str) -> list[SessionRecord]:
    """The user's sessions, newest first."""
    prefix = f"{user_prefix(user_id)}/sessions/"
    ids = [key[len(prefix):] for key in await kernel.storage.list_all(prefix)]
    ids.reverse()

    async def load(session_id: str) -> SessionRecord | None:
        try:
            return await load_session(kernel, session_id)
        except SessionNotFound:
            return None

    records = await asyncio.gather(*(load(s) for s in ids))
    return [r for r in records if r is not None]
