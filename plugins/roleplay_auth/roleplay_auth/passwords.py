"""Password hashing (argon2id, off the event loop) and the server-side password policy."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Awaitable, Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from importlib import resources
from typing import Any

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from .config import ARGON2_FLOOR


def make_hasher(argon2: Mapping[str, Any]) -> PasswordHasher:
    """An argon2id hasher; parameters below OWASP's minimum are raised to it."""
    params = {name: max(int(argon2.get(name, floor)), floor) for name, floor in ARGON2_FLOOR.items()}
    return PasswordHasher(type=Type.ID, hash_len=32, salt_len=16, **params)


class Passwords:
    """Hash and verify passwords in worker threads so a login never stalls other requests.

    The threads are a pool of their own, ``threads`` wide (default: one per CPU): more
    would not hash faster, only crowd the event loop's CPU share, and hashing must never
    take the default pool's threads that storage I/O runs on.
    """

    def __init__(self, argon2: Mapping[str, Any], threads: int | None = None) -> None:
        self.hasher = make_hasher(argon2)
        self._dummy: str | None = None
        self.threads = max(1, int(threads or os.cpu_count() or 1))
        self._pool: ThreadPoolExecutor | None = None

    def _run(self, func: Any, *args: Any) -> Awaitable[Any]:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="argon2")
        return asyncio.get_running_loop().run_in_executor(self._pool, func, *args)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None

    async def hash(self, password: str) -> str:
        return await self._run(self.hasher.hash, password)

    async def verify(self, stored_hash: str, password: str) -> bool:
        return await self._run(self._verify, stored_hash, password)

    def _verify(self, stored_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(stored_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        """True when ``stored_hash`` was made with other parameters than today's settings."""
        try:
            return self.hasher.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return True

    async def warm_up(self) -> None:
        """Compute the dummy hash once, so the first unknown-email login is not faster or slower."""
        if self._dummy is None:
            self._dummy = await self.hash(secrets.token_urlsafe(24))

    async def verify_dummy(self, password: str) -> bool:
        """Spend the same time as a real verification, for an account that does not exist."""
        await self.warm_up()
        assert self._dummy is not None
        await self.verify(self._dummy, password)
        return False


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    text = resources.files(__package__).joinpath("common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def policy_problems(password: str, email: str | None, *, min_length: int, max_length: int) -> list[str]:
    """Why ``password`` is refused (empty when it is acceptable)."""
    found = []
    if len(password) < min_length:
        found.append(f"must have at least {min_length} characters")
    if len(password) > max_length:
        found.append(f"must have at most {max_length} characters")
    lowered = password.strip().lower()
    if lowered in common_passwords():
        found.append("is one of the most common passwords; choose another")
    if email:
        local = email.split("@", 1)[0]
        if email in lowered or (len(local) >= 3 and local in lowered):
            found.append("must not contain your email address")
    return found
