"""Failed-login throttling that an attacker cannot turn into a lock-out of the owner.

Failures are counted three ways, each in a fixed window; reaching ``max_failures`` locks
that key for ``lockout_seconds``:

- ``account``: the account (email), from anywhere;
- ``client``: the address, over all accounts (password spraying);
- ``pair``: the account from this one address.

A lock on ``account`` or ``client`` refuses only *unknown* places: an address, or a
browser (the ``roleplay_device`` cookie), that signed in to this account successfully
before (within ``known_days``) still gets through. So five wrong guesses from anywhere
cannot lock the owner out, and one noisy machine behind a NAT cannot lock out everyone
there who signed in before. The ``pair`` lock refuses even known places, so wrong guesses
stay throttled wherever they come from. Counters and known places live in storage
(compare-and-swap), so every server process sees the same state.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import secrets
import time
from collections.abc import Mapping
from typing import Any

from roleplay_core import NotFound, PreconditionFailed, Problem, Storage

from .emails import digest

KINDS = ("account", "client", "pair")
DEFAULT_RULE = {"max_failures": 5, "window_seconds": 900, "lockout_seconds": 900}


class Throttle:
    def __init__(self, storage: Storage, rules: Mapping[str, Mapping[str, Any]]) -> None:
        self.storage = storage
        self.rules = rules  # {"account": {...}, "client": {...}, "pair": {...}, "known_days": 90}

    @staticmethod
    def key(kind: str, value: str) -> str:
        return f"auth/throttle/{kind}/{digest(value)}"

    @staticmethod
    def known_key(account: str, place: str) -> str:
        return f"auth/known/{digest(account + chr(0) + place)}"

    @staticmethod
    def _subjects(account: str, address: str) -> dict[str, str]:
        return {"account": account, "client": address, "pair": account + "\0" + address}

    def _rule(self, kind: str) -> Mapping[str, Any]:
        rule = self.rules.get(kind)
        if not isinstance(rule, Mapping):  # "pair" defaults to the account rule
            rule = self.rules.get("account") if kind == "pair" else None
        return rule if isinstance(rule, Mapping) else DEFAULT_RULE

    @property
    def known_seconds(self) -> float:
        return float(self.rules.get("known_days", 90)) * 86400

    async def _read(self, key: str) -> tuple[dict[str, Any] | None, str | None]:
        try:
            record = await self.storage.get(key)
        except NotFound:
            return None, None
        return json.loads(record.data), record.version

    async def _locked_for(self, kind: str, value: str, now: float) -> float:
        body, _ = await self._read(self.key(kind, value))
        return max(0.0, body.get("locked_until", 0) - now) if body else 0.0

    async def known(self, account: str, address: str, device: str | None) -> bool:
        """Whether ``address`` or ``device`` signed in to ``account`` within ``known_days``."""
        now = time.time()
        places = [f"address:{address}"] + ([f"device:{device}"] if device else [])
        for place in places:
            body, _ = await self._read(self.known_key(account, place))
            if body and now - body.get("at", 0) <= self.known_seconds:
                return True
        return False

    async def check(self, account: str, address: str, device: str | None = None) -> None:
        """Raise 429 with Retry-After when this attempt is locked out (see the module docstring)."""
        now = time.time()
        subjects = self._subjects(account, address)
        wait = await self._locked_for("pair", subjects["pair"], now)
        if not wait:
            shared = max([await self._locked_for(kind, subjects[kind], now) for kind in ("account", "client")])
            if shared and not await self.known(account, address, device):
                wait = shared
        if wait:
            raise Problem(429, "Too many failed sign-in attempts; try again later.",
                          headers={"Retry-After": str(max(1, math.ceil(wait)))})

    async def failure(self, account: str, address: str) -> None:
        for kind, value in self._subjects(account, address).items():
            await self._count(kind, self.key(kind, value))

    async def success(self, account: str, address: str, device: str | None) -> str:
        """Remember this address and device as known for ``account``; returns the device token to keep.

        Only the ``pair`` counter is cleared: clearing the account counter would hand an attacker
        a fresh set of guesses every time the owner signs in.
        """
        device = device if device and len(device) <= 64 else secrets.token_urlsafe(32)
        body = json.dumps({"at": time.time()}).encode()
        for place in (f"address:{address}", f"device:{device}"):
            await self.storage.put(self.known_key(account, place), body)
        await self.reset("pair", account + "\0" + address)
        return device

    async def _count(self, kind: str, key: str) -> None:
        rule = self._rule(kind)
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


class RateLimit:
    """Events per key in a fixed window (registrations per address, sign-in starts per address).

    Unlike :class:`Throttle` this counts every attempt, good or bad. Records live under
    ``auth/limits/<kind>/<sha256(value)>`` with their window, so ``users prune`` can expire them.
    """

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    @staticmethod
    def key(kind: str, value: str) -> str:
        return f"auth/limits/{kind}/{digest(value)}"

    async def take(self, kind: str, value: str, *, limit: int, window: float) -> float:
        """Count one event; the seconds to wait when it is over ``limit`` in ``window`` (else 0, counted)."""
        if limit <= 0:
            return 0.0  # 0 switches the limit off
        key = self.key(kind, value)
        for attempt in range(50):
            if attempt:  # a concurrent request counted first: back off a little, at random
                await asyncio.sleep(random.uniform(0, 0.002 * min(attempt, 10)))
            now = time.time()
            try:
                record = await self.storage.get(key)
                body, version = json.loads(record.data), record.version
            except NotFound:
                body, version = None, None
            if body is None or now - body["window_start"] >= body.get("window_seconds", window):
                body = {"window_start": now, "window_seconds": window, "count": 0}
            if body["count"] >= limit:
                return max(1.0, body["window_start"] + body["window_seconds"] - now)
            body["count"] += 1
            data = json.dumps(body).encode()
            try:
                if version is None:
                    await self.storage.put(key, data, if_absent=True)
                else:
                    await self.storage.put(key, data, if_version=version)
                return 0.0
            except PreconditionFailed:
                continue
        return 1.0  # too contended to count: ask the client to come back in a moment


def too_many(detail: str, wait: float) -> Problem:
    return Problem(429, detail, headers={"Retry-After": str(max(1, math.ceil(wait)))})
