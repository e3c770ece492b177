"""Failed-login throttling per account and per client address, in storage.

Each key counts failures in a fixed window; reaching ``max_failures`` locks the key
for ``lockout_seconds``. Counters live in storage (compare-and-swap), so every server
process sees the same count.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from typing import Any

from roleplay_core import NotFound, PreconditionFailed, Problem, Storage

from .emails import digest


class Throttle:
    def __init__(self, storage: Storage, rules: Mapping[str, Mapping[str, Any]]) -> None:
        self.storage = storage
        self.rules = rules  # {"account": {...}, "client": {...}}

    @staticmethod
    def key(kind: str, value: str) -> str:
        return f"auth/throttle/{kind}/{digest(value)}"

    async def _read(self, key: str) -> tuple[dict[str, Any] | None, str | None]:
        try:
            record = await self.storage.get(key)
        except NotFound:
            return None, None
        return json.loads(record.data), record.version

    async def check(self, subjects: Mapping[str, str]) -> None:
        """Raise 429 with Retry-After when any of ``{kind: value}`` is locked out."""
        now = time.time()
        wait = 0.0
        for kind, value in subjects.items():
            body, _ = await self._read(self.key(kind, value))
            if body and body.get("locked_until", 0) > now:
                wait = max(wait, body["locked_until"] - now)
        if wait:
            raise Problem(429, "Too many failed sign-in attempts; try again later.",
                          headers={"Retry-After": str(max(1, math.ceil(wait)))})

    async def failure(self, subjects: Mapping[str, str]) -> None:
        for kind, value in subjects.items():
            await self._count(kind, self.key(kind, value))

    async def _count(self, kind: str, key: str) -> None:
        rule = self.rules.get(kind) or {}
        limit = int(rule.get("max_failures", 5))
        window = float(rule.get("window_seconds", 900))
        lockout = float(rule.get("lockout_seconds", 900))
        for _ in range(20):
            now = time.time()
            body, version = await self._read(key)
            if body is None or now - body["window_start"] > window:
                fresh = {"window_start": now, "failures": 0, "locked_until": 0}
                body = fresh if body is None else {**fresh, "locked_until": body.get("locked_until", 0)}
            body["failures"] += 1
            if body["failures"] >= limit:
                body["locked_until"] = now + lockout
                body["failures"] = 0
                body["window_start"] = now
            data = json.dumps(body).encode()
            try:
                if version is None:
                    await self.storage.put(key, data, if_absent=True)
                else:
                    await self.storage.put(key, data, if_version=version)
                return
            except PreconditionFailed:
                continue

    async def reset(self, kind: str, value: str) -> None:
        try:
            await self.storage.delete(self.key(kind, value))
        except NotFound:
            pass
