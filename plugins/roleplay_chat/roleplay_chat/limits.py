"""Per-user limits kept in storage, so every server process sees the same counts.

- ``chat.limits.messages_per_minute``: a sliding window of the user's last message
  times (``chat/users/<user>/rate``), compare-and-swapped.
- ``chat.limits.sessions_per_day``: a counter per UTC day
  (``chat/users/<user>/days/<yyyy-mm-dd>``). Deleting a session does not give one back.

Both refuse with :class:`~roleplay_chat.errors.RateLimited` (a 429 with ``Retry-After`` at the HTTP
edge) when the limit is reached; 0 turns a limit off.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

from roleplay_core import NotFound, PreconditionFailed

from .errors import RateLimited
from .sessions import user_prefix

WINDOW = 60.0


def too_many(detail: str, retry_after: float, code: str) -> RateLimited:
    return RateLimited(detail, code, retry_after)


async def _compare_and_swap(kernel: Any, key: str, update: Any) -> None:
    """Read-modify-write ``key`` (JSON) until no other writer got in between; ``update`` may raise."""
    storage = kernel.storage
    while True:
        try:
            record = await storage.get(key)
            current, version = json.loads(record.data), record.version
        except NotFound:
            current, version = None, None
        new = update(current)
        try:
            if version is None:
                await storage.put(key, json.dumps(new).encode(), if_absent=True)
            else:
                await storage.put(key, json.dumps(new).encode(), if_version=version)
            return
        except PreconditionFailed:
            continue


async def count_message(kernel: Any, user_id: str) -> None:
    """Count one learner message against ``chat.limits.messages_per_minute`` or raise :class:`RateLimited`."""
    limit = kernel.typed_settings("chat").limits.messages_per_minute
    if limit <= 0:
        return
    now = time.time()

    def update(current: Any) -> list[float]:
        times = [t for t in (current or []) if isinstance(t, (int, float)) and t > now - WINDOW]
        if len(times) >= limit:
            raise too_many(f"You can send {limit} messages a minute; wait a moment.",
                           times[-limit] + WINDOW - now, "messages_per_minute")
        return [*times, now][-limit:]

    await _compare_and_swap(kernel, f"{user_prefix(user_id)}/rate", update)


async def count_session(kernel: Any, user_id: str) -> None:
    """Count one new session against ``chat.limits.sessions_per_day`` (UTC days) or raise :class:`RateLimited`."""
    limit = kernel.typed_settings("chat").limits.sessions_per_day
    if limit <= 0:
        return
    now = dt.datetime.now(dt.UTC)
    midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)

    def update(current: Any) -> int:
        count = int(current or 0)
        if count >= limit:
            raise too_many(f"You can start {limit} sessions a day; try again tomorrow (UTC).",
                           (midnight - now).total_seconds(), "sessions_per_day")
        return count + 1

    await _compare_and_swap(kernel, f"{user_prefix(user_id)}/days/{now.date().isoformat()}", update)
