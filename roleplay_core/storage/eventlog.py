"""An append-only event log on top of the storage contract.

Each event is its own create-only record ``{prefix}/e/{seq:012d}``, so appending
costs the same at event 10 as at event 10,000 and two appenders can never both
write one sequence number: the storage's create-only write decides. A writer only
tries ``seq`` after seeing ``seq - 1`` exist, so the log never has gaps.

``{prefix}/head`` is a hint of the last sequence number, written after each
append. It may lag (a slow writer can overwrite a newer hint with an older one);
appenders gallop forward from it, so a stale hint costs a few reads, never
correctness. An owner that keeps the last sequence number in a record of its own
(chat's session record does) opens the log with ``head_hint=False`` and passes that
number to :meth:`EventLog.read` as ``known_last``: no hint is written, one write per
append fewer, and a read asks for the events it knows of plus one past the end.
A missing hint is never an error: appends and reads gallop from 0.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import attrs

from .base import NotFound, PreconditionFailed, Storage

BATCH = 64


@attrs.frozen
class Event:
    seq: int
    type: str
    data: Mapping[str, Any]
    created_at: dt.datetime

    def to_json(self) -> bytes:
        return json.dumps(
            {"seq": self.seq, "type": self.type, "data": self.data, "created_at": self.created_at.isoformat()},
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Event:
        obj = json.loads(raw)
        return cls(obj["seq"], obj["type"], obj["data"], dt.datetime.fromisoformat(obj["created_at"]))


class EventLog:
    """The events under one prefix, for example ``chat/sessions/<id>/log``."""

    def __init__(self, storage: Storage, prefix: str, *, head_hint: bool = True) -> None:
        self.storage = storage
        self.prefix = prefix.rstrip("/")
        #: Whether :meth:`append` writes the ``head`` hint (a second write per event).
        self.head_hint = head_hint

    def _key(self, seq: int) -> str:
        return f"{self.prefix}/e/{seq:012d}"

    async def _exists(self, seq: int) -> bool:
        try:
            await self.storage.get(self._key(seq))
            return True
        except NotFound:
            return False

    async def _hint(self) -> int:
        try:
            return int(json.loads((await self.storage.get(f"{self.prefix}/head")).data)["seq"])
        except (NotFound, ValueError, KeyError):
            return 0

    async def last_seq(self) -> int:
        """The sequence number of the newest event (0 when empty)."""
        low = await self._hint()
        if low and not await self._exists(low):
            low = 0  # a hint ahead of the log: only after the log was deleted under it
        step = 1
        high = low + step
        while await self._exists(high):  # gallop past a stale hint
            low = high
            step *= 2
            high = low + step
        while high - low > 1:  # low exists, high does not
            middle = (low + high) // 2
            if await self._exists(middle):
                low = middle
            else:
                high = middle
        return low

    async def append(
        self, type: str, data: Mapping[str, Any] | None = None, *, seq: int | None = None
    ) -> Event:
        """Append one event and return it with its sequence number.

        With ``seq``, append only at exactly that number and raise
        :class:`PreconditionFailed` if another writer got there first: a caller
        that read the log up to ``seq - 1`` uses it to detect a race.
        """
        data = dict(data or {})
        target = seq if seq is not None else await self.last_seq() + 1
        while True:
            event = Event(target, type, data, dt.datetime.now(dt.UTC))
            try:
                await self.storage.put(self._key(target), event.to_json(), if_absent=True)
            except PreconditionFailed:
                if seq is not None:
                    raise
                target += 1
                continue
            if self.head_hint:
                await self.storage.put(f"{self.prefix}/head", json.dumps({"seq": target}).encode())
            return event

    async def get(self, seq: int) -> Event:
        return Event.from_json((await self.storage.get(self._key(seq))).data)

    async def read(self, after: int = 0, limit: int | None = None, *, known_last: int | None = None) -> list[Event]:
        """Events with ``seq > after`` in order, at most ``limit``.

        ``known_last``: the last sequence number as the caller's own record has it, read instead
        of the head hint. It may lag too (events past it are still read), never lead.
        """
        return [event async for event in self.iter(after, limit, known_last=known_last)]

    async def iter(self, after: int = 0, limit: int | None = None, *,
                   known_last: int | None = None) -> AsyncIterator[Event]:
        # The last number (the caller's, else the head hint) says how many events to ask for at
        # once: a log of 7 events costs 1 + 8 reads (the hint, the events and one past the end),
        # not a batch of BATCH mostly missing records. It may lag, so reading goes on in growing
        # batches until an event is missing.
        seq = after + 1
        remaining = limit
        last = known_last if known_last is not None else await self._hint()
        size = min(BATCH, max(1, last - after + 1))
        while remaining is None or remaining > 0:
            if remaining is not None:
                size = min(size, remaining)
            results = await asyncio.gather(*(self._maybe(s) for s in range(seq, seq + size)))
            for event in results:
                if event is None:
                    return
                yield event
            seq += size
            if remaining is not None:
                remaining -= size
            size = min(BATCH, size * 2)

    async def _maybe(self, seq: int) -> Event | None:
        try:
            return await self.get(seq)
        except NotFound:
            return None
