"""Voice limits kept in storage, so every server process sees them (``chat.voice.*``, docs/voice.md).

``max_concurrent_per_user`` (a lease per call, renewed while it runs), ``max_minutes_per_session``
and ``max_minutes_per_day`` (connected time, counted every ``tick_seconds``). A reached limit is
:class:`~roleplay_chat.errors.RateLimited`; the voice endpoint tells the client and closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import time
import uuid
from typing import Any

from roleplay_core import NotFound, PreconditionFailed
from roleplay_core.storage import key_segment

from . import sessions
from .errors import ChatError, RateLimited


def lease_prefix(user_id: str) -> str:
    return f"chat/voice/active/{key_segment(user_id)}/"


def day_key(user_id: str, day: dt.date) -> str:
    return f"{sessions.user_prefix(user_id)}/voice-days/{day.isoformat()}"


def session_usage_key(session_id: str) -> str:
    return f"{sessions.session_key(session_id)}/voice-usage"


async def read_json(kernel: Any, key: str) -> tuple[Any, str | None]:
    """The JSON at ``key`` and its version, or ``(None, None)``."""
    try:
        record = await kernel.storage.get(key)
    except NotFound:
        return None, None
    return json.loads(record.data), record.version


async def add_seconds(kernel: Any, key: str, seconds: float) -> float:
    """Add ``seconds`` to the counter at ``key`` by compare-and-swap; return the new total."""
    while True:
        current, version = await read_json(kernel, key)
        total = float((current or {}).get("seconds", 0.0)) + seconds
        body = json.dumps({"seconds": round(total, 3)}).encode()
        try:
            if version is None:
                await kernel.storage.put(key, body, if_absent=True)
            else:
                await kernel.storage.put(key, body, if_version=version)
            return total
        except PreconditionFailed:
            continue


async def used_seconds(kernel: Any, key: str) -> float:
    current, _ = await read_json(kernel, key)
    return float((current or {}).get("seconds", 0.0))


def _session_used_up(per_session: float) -> RateLimited:
    return RateLimited(f"This session has used its {per_session / 60:g} minutes of voice.", "voice_minutes_per_session")


def _day_used_up(per_day: float) -> RateLimited:
    return RateLimited(f"You have used your {per_day / 60:g} minutes of voice for today (UTC).",
                       "voice_minutes_per_day")


class Usage:
    """One call's concurrency lease and its minutes, counted in storage while it runs."""

    def __init__(self, kernel: Any, user_id: str, session_id: str) -> None:
        self.kernel = kernel
        self.user_id = user_id
        self.session_id = session_id
        self.lease_key = lease_prefix(user_id) + uuid.uuid4().hex
        self.tick = max(0.05, kernel.typed_settings("chat").voice.tick_seconds)
        self._counted_at = time.monotonic()
        self.leased = False

    def _limits(self) -> tuple[int, float, float]:
        voice = self.kernel.typed_settings("chat").voice
        return (int(voice.max_concurrent_per_user), voice.max_minutes_per_session * 60, voice.max_minutes_per_day * 60)

    async def _renew(self) -> None:
        # Three ticks: two renewals may fail (a storage hiccup) before the slot is given up, and a
        # crashed server's call stops counting against the user's concurrency 3 ticks (15 s) later.
        until = time.time() + max(3.0, 3 * self.tick)
        await self.kernel.storage.put(self.lease_key, json.dumps({"until": until, "session": self.session_id}).encode())
        self.leased = True

    async def _live_leases(self) -> int:
        now, live = time.time(), 0
        for key in await self.kernel.storage.list_all(lease_prefix(self.user_id)):
            body, _ = await read_json(self.kernel, key)
            if body and float(body.get("until", 0)) > now:
                live += 1
            elif body is not None:  # a crashed server's lease: tidy it up
                with contextlib.suppress(NotFound):
                    await self.kernel.storage.delete(key)
        return live

    async def acquire(self) -> None:
        """Refuse (:class:`RateLimited`) when a limit is already reached; otherwise take a concurrency lease."""
        concurrent, per_session, per_day = self._limits()
        if per_session and await used_seconds(self.kernel, session_usage_key(self.session_id)) >= per_session:
            raise _session_used_up(per_session)
        if per_day and await used_seconds(self.kernel, day_key(self.user_id, _today())) >= per_day:
            raise _day_used_up(per_day)
        await self._renew()
        # Count after writing our own lease: two calls starting at once cannot both slip under the limit.
        if concurrent and await self._live_leases() > concurrent:
            await self.release()
            raise RateLimited(f"You can have {concurrent} voice call(s) at once; end another one first.",
                              "voice_concurrency")
        self._counted_at = time.monotonic()

    async def count(self) -> None:
        """Add the time since the last count; raise :class:`RateLimited` when a minute limit is reached."""
        now = time.monotonic()
        elapsed, self._counted_at = now - self._counted_at, now
        _, per_session, per_day = self._limits()
        session_total = await add_seconds(self.kernel, session_usage_key(self.session_id), elapsed)
        day_total = await add_seconds(self.kernel, day_key(self.user_id, _today()), elapsed)
        await self._renew()
        if per_session and session_total >= per_session:
            raise _session_used_up(per_session)
        if per_day and day_total >= per_day:
            raise _day_used_up(per_day)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.tick)
            await self.count()

    async def finish(self) -> None:
        """Count the last seconds and give the concurrency lease back (idempotent)."""
        if self.leased:
            with contextlib.suppress(ChatError):
                await self.count()
        await self.release()

    async def release(self) -> None:
        if self.leased:
            self.leased = False
            with contextlib.suppress(NotFound):
                await self.kernel.storage.delete(self.lease_key)


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()
