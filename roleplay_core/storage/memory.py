"""In-memory storage: the shipped test double. Same contract, one process only."""

from __future__ import annotations

import asyncio
import bisect
import itertools
from typing import Any

from .base import NotFound, Page, PreconditionFailed, Record, Storage


class MemoryStorage(Storage):
    name = "memory"

    def __init__(self, settings: Any = None) -> None:
        self._records: dict[str, Record] = {}
        self._keys: list[str] = []  # sorted, for listing
        self._lock = asyncio.Lock()
        self._counter = itertools.count(1)

    async def _get(self, key: str) -> Record:
        try:
            return self._records[key]
        except KeyError:
            raise NotFound(key) from None

    async def _put(self, key: str, data: bytes, *, if_version: str | None, if_absent: bool) -> str:
        async with self._lock:
            current = self._records.get(key)
            if if_absent and current is not None:
                raise PreconditionFailed(f"{key} exists")
            if if_version is not None and (current is None or current.version != if_version):
                raise PreconditionFailed(f"{key} changed")
            version = f"m{next(self._counter)}"
            if current is None:
                bisect.insort(self._keys, key)
            self._records[key] = Record(data, version)
            return version

    async def _delete(self, key: str, *, if_version: str | None) -> None:
        async with self._lock:
            current = self._records.get(key)
            if current is None:
                raise NotFound(key)
            if if_version is not None and current.version != if_version:
                raise PreconditionFailed(f"{key} changed")
            del self._records[key]
            self._keys.pop(bisect.bisect_left(self._keys, key))

    async def _list(self, prefix: str, *, limit: int, cursor: str | None) -> Page:
        start = bisect.bisect_right(self._keys, cursor) if cursor else bisect.bisect_left(self._keys, prefix)
        keys = []
        for key in itertools.islice(self._keys, start, None):
            if not key.startswith(prefix):
                break
            keys.append(key)
            if len(keys) == limit:
                break
        more = len(keys) == limit and start + limit < len(self._keys) and self._keys[start + limit].startswith(prefix)
        return Page(tuple(keys), keys[-1] if more else None)
