"""Unit tests of the password module: hashing threads, policy, the shipped list."""

from __future__ import annotations

import asyncio
import threading

import pytest
from roleplay_auth.passwords import Passwords, common_passwords, policy_problems


@pytest.mark.anyio
async def test_hashing_and_verifying_run_off_the_event_loop():
    passwords = Passwords({}, threads=2)
    loop_thread = threading.current_thread().name
    seen: list[str] = []

    class Spy:
        def __init__(self, inner):
            self.inner = inner

        def hash(self, password):
            seen.append(threading.current_thread().name)
            return self.inner.hash(password)

        def verify(self, stored, password):
            seen.append(threading.current_thread().name)
            return self.inner.verify(stored, password)

    passwords.hasher = Spy(passwords.hasher)
    try:
        # while two hashes run, the loop keeps turning: a ticker gets scheduled many times
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.001)

        task = asyncio.create_task(ticker())
        stored, _ = await asyncio.gather(passwords.hash("x" * 12), passwords.hash("y" * 12))
        assert await passwords.verify(stored, "x" * 12)
        assert not await passwords.verify(stored, "z" * 12)
        task.cancel()
        assert ticks >= 5
        assert seen and all(name.startswith("argon2") and name != loop_thread for name in seen)
    finally:
        passwords.close()


def test_policy():
    assert policy_problems("a sturdy passphrase 42", "ann@example.com", min_length=10, max_length=256) == []
    assert policy_problems("short", None, min_length=10, max_length=256) == ["must have at least 10 characters"]
    assert "must not contain your email address" in policy_problems(
        "xxANNABELLExx1", "annabelle@example.com", min_length=10, max_length=256)
    assert any("common" in p for p in policy_problems(" Password123 ", None, min_length=10, max_length=256))
    assert policy_problems("y" * 300, None, min_length=10, max_length=256) == ["must have at most 256 characters"]


def test_the_shipped_list_is_loaded_lower_case():
    listed = common_passwords()
    assert len(listed) > 100 and "password123" in listed and all(p == p.lower() for p in listed)
    assert not any(p.startswith("#") for p in listed)
