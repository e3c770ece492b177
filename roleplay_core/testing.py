"""Test helpers for Roleplay and its plugins, including the reusable storage contract.

A storage backend proves it keeps the contract by subclassing
:class:`StorageContract` in its own tests and providing a ``storage`` fixture::

    from roleplay_core.testing import StorageContract

    class TestMyBackend(StorageContract):
        @pytest.fixture
        async def storage(self):
            backend = MyBackend(...)
            await backend.open()
            yield backend
            await backend.close()

Backends that several processes can share also set ``process_settings`` to the
settings (dotted keys) that rebuild the same backend in a child process; the
multi-process tests (killed writer, concurrent compare-and-swap, concurrent
event-log appends) then run too.

Tests here use ``pytest.mark.anyio``; anyio's pytest plugin ships with anyio.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import multiprocessing
import os
import signal
import sys
import uuid
from collections.abc import Mapping
from typing import Any

import pytest

from .app import create_app
from .kernel import Kernel
from .storage import EventLog, InvalidKey, NotFound, PreconditionFailed, Storage


def make_kernel(overrides: Mapping[str, Any] | None = None, *, plugins: list[Any] = (), env: str = "development",
                load_entry_points: bool = True) -> Kernel:
    """A kernel on memory storage unless ``overrides`` say otherwise; ignores settings files."""
    settings = {"storage.backend": "memory"}
    settings.update(overrides or {})
    return Kernel.create(env=env, overrides=settings, plugins=list(plugins), load_entry_points=load_entry_points,
                         settings_files=[])


def make_app(overrides: Mapping[str, Any] | None = None, *, plugins: list[Any] = (), env: str = "development",
             load_entry_points: bool = True):
    """An app for ``starlette.testclient.TestClient`` (use it as a context manager to run startup)."""
    return create_app(make_kernel(overrides, plugins=plugins, env=env, load_entry_points=load_entry_points))


def auth_headers(app_or_kernel: Any, user_id: str = "u-test", roles: tuple[str, ...] = ("user",)) -> dict[str, str]:
    """``Authorization`` headers with a freshly issued access token."""
    kernel = app_or_kernel if isinstance(app_or_kernel, Kernel) else app_or_kernel.state.kernel
    return {"Authorization": f"Bearer {kernel.tokens.issue(user_id, roles)}"}


# -- the storage contract ----------------------------------------------------


def _open_backend(settings: Mapping[str, Any]) -> Storage:
    kernel = Kernel.create(env="development", overrides=dict(settings), settings_files=[])
    return kernel.storage


def _cas_worker(settings: Mapping[str, Any], key: str, increments: int) -> None:
    async def run() -> None:
        storage = _open_backend(settings)
        await storage.open()
        try:
            done = 0
            while done < increments:
                record = await storage.get(key)
                value = int(record.data)
                try:
                    await storage.put(key, str(value + 1).encode(), if_version=record.version)
                    done += 1
                except PreconditionFailed:
                    continue
        finally:
            await storage.close()

    asyncio.run(run())


def _append_worker(settings: Mapping[str, Any], prefix: str, worker: int, count: int) -> None:
    async def run() -> None:
        storage = _open_backend(settings)
        await storage.open()
        try:
            log = EventLog(storage, prefix)
            for n in range(count):
                await log.append("test", {"worker": worker, "n": n})
        finally:
            await storage.close()

    asyncio.run(run())


def _torn_writer(settings: Mapping[str, Any], key: str, ready: Any) -> None:
    async def run() -> None:
        storage = _open_backend(settings)
        await storage.open()
        n = 0
        while True:
            payload = os.urandom(16).hex().encode() * 20_000  # ~640 KB, self-describing below
            body = hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload
            await storage.put(key, body)
            n += 1
            if n == 2:
                ready.set()

    asyncio.run(run())


@pytest.mark.anyio
class StorageContract:
    """The storage contract. Subclass it and provide an async ``storage`` fixture."""

    #: Settings (dotted keys) that build the same backend in another process; ``None`` skips those tests.
    process_settings: Mapping[str, Any] | None = None

    @pytest.fixture
    def anyio_backend(self) -> str:
        return "asyncio"

    @pytest.fixture
    def prefix(self) -> str:
        return f"contract/{uuid.uuid4().hex}"

    async def test_get_missing_raises_not_found(self, storage: Storage, prefix: str) -> None:
        with pytest.raises(NotFound):
            await storage.get(f"{prefix}/missing")

    async def test_put_then_get_returns_bytes_and_version(self, storage: Storage, prefix: str) -> None:
        version = await storage.put(f"{prefix}/a", b"\x00hello\xff")
        record = await storage.get(f"{prefix}/a")
        assert record.data == b"\x00hello\xff"
        assert record.version == version

    async def test_version_changes_on_every_write_even_same_bytes(self, storage: Storage, prefix: str) -> None:
        first = await storage.put(f"{prefix}/a", b"same")
        second = await storage.put(f"{prefix}/a", b"same")
        assert first != second
        assert (await storage.get(f"{prefix}/a")).version == second

    async def test_empty_value(self, storage: Storage, prefix: str) -> None:
        await storage.put(f"{prefix}/empty", b"")
        assert (await storage.get(f"{prefix}/empty")).data == b""

    async def test_create_only(self, storage: Storage, prefix: str) -> None:
        await storage.put(f"{prefix}/c", b"1", if_absent=True)
        with pytest.raises(PreconditionFailed):
            await storage.put(f"{prefix}/c", b"2", if_absent=True)
        assert (await storage.get(f"{prefix}/c")).data == b"1"

    async def test_compare_and_swap(self, storage: Storage, prefix: str) -> None:
        v1 = await storage.put(f"{prefix}/k", b"1")
        v2 = await storage.put(f"{prefix}/k", b"2", if_version=v1)
        with pytest.raises(PreconditionFailed):
            await storage.put(f"{prefix}/k", b"3", if_version=v1)
        assert (await storage.get(f"{prefix}/k")) .data == b"2"
        assert (await storage.get(f"{prefix}/k")).version == v2

    async def test_compare_and_swap_on_missing_key_fails(self, storage: Storage, prefix: str) -> None:
        with pytest.raises(PreconditionFailed):
            await storage.put(f"{prefix}/nope", b"x", if_version="some-version")
        with pytest.raises(NotFound):
            await storage.get(f"{prefix}/nope")

    async def test_delete(self, storage: Storage, prefix: str) -> None:
        await storage.put(f"{prefix}/d", b"x")
        await storage.delete(f"{prefix}/d")
        with pytest.raises(NotFound):
            await storage.get(f"{prefix}/d")
        with pytest.raises(NotFound):
            await storage.delete(f"{prefix}/d")

    async def test_conditional_delete(self, storage: Storage, prefix: str) -> None:
        old = await storage.put(f"{prefix}/d", b"1")
        new = await storage.put(f"{prefix}/d", b"2")
        with pytest.raises(PreconditionFailed):
            await storage.delete(f"{prefix}/d", if_version=old)
        await storage.delete(f"{prefix}/d", if_version=new)
        with pytest.raises(NotFound):
            await storage.get(f"{prefix}/d")

    async def test_recreate_after_delete(self, storage: Storage, prefix: str) -> None:
        await storage.put(f"{prefix}/r", b"1", if_absent=True)
        await storage.delete(f"{prefix}/r")
        await storage.put(f"{prefix}/r", b"2", if_absent=True)
        assert (await storage.get(f"{prefix}/r")).data == b"2"

    async def test_list_by_prefix_sorted_and_paginated(self, storage: Storage, prefix: str) -> None:
        keys = [f"{prefix}/items/{n:03d}" for n in range(25)]
        for key in reversed(keys):
            await storage.put(key, b"x")
        await storage.put(f"{prefix}/other/1", b"x")
        await storage.put(f"{prefix}/items-not/1", b"x")
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            page = await storage.list(f"{prefix}/items/", limit=10, cursor=cursor)
            seen.extend(page.keys)
            pages += 1
            if page.cursor is None:
                break
            cursor = page.cursor
        assert seen == keys
        assert pages == 3
        assert await storage.list_all(f"{prefix}/items/") == keys

    async def test_list_partial_segment_prefix(self, storage: Storage, prefix: str) -> None:
        for key in ("ab/1", "abc", "abd/2", "b"):
            await storage.put(f"{prefix}/{key}", b"x")
        assert await storage.list_all(f"{prefix}/ab") == [f"{prefix}/ab/1", f"{prefix}/abc", f"{prefix}/abd/2"]

    async def test_key_can_be_record_and_prefix(self, storage: Storage, prefix: str) -> None:
        await storage.put(f"{prefix}/user", b"record")
        await storage.put(f"{prefix}/user/child", b"child")
        assert (await storage.get(f"{prefix}/user")).data == b"record"
        assert await storage.list_all(f"{prefix}/user") == [f"{prefix}/user", f"{prefix}/user/child"]

    async def test_list_empty(self, storage: Storage, prefix: str) -> None:
        page = await storage.list(f"{prefix}/nothing/")
        assert page.keys == () and page.cursor is None

    @pytest.mark.parametrize(
        "key", ["", "/abs", "a//b", "a/../b", "..", "a/./b", "a/b/", "bad\x00key", "tab\tkey", "back\\slash", ".hidden",
                "a/" + "x" * 241, "a/" + "é" * 121, "x" * 1025]
    )
    async def test_bad_keys_rejected(self, storage: Storage, key: str) -> None:
        with pytest.raises(InvalidKey):
            await storage.put(key, b"x")
        with pytest.raises(InvalidKey):
            await storage.get(key)

    async def test_unicode_and_odd_keys(self, storage: Storage, prefix: str) -> None:
        for key in ("émail@example.com", "with space", "x.rec", "a:b", "y" * 240, "é" * 120):
            await storage.put(f"{prefix}/{key}", key.encode())
            assert (await storage.get(f"{prefix}/{key}")).data == key.encode()

    async def test_concurrent_create_only_one_wins(self, storage: Storage, prefix: str) -> None:
        async def attempt(n: int) -> bool:
            try:
                await storage.put(f"{prefix}/race", str(n).encode(), if_absent=True)
                return True
            except PreconditionFailed:
                return False

        results = await asyncio.gather(*(attempt(n) for n in range(20)))
        assert sum(results) == 1

    async def test_concurrent_cas_increments_lose_nothing(self, storage: Storage, prefix: str) -> None:
        key = f"{prefix}/counter"
        await storage.put(key, b"0")

        async def increment(times: int) -> None:
            done = 0
            while done < times:
                record = await storage.get(key)
                try:
                    await storage.put(key, str(int(record.data) + 1).encode(), if_version=record.version)
                    done += 1
                except PreconditionFailed:
                    await asyncio.sleep(0)

        await asyncio.gather(*(increment(10) for _ in range(5)))
        assert int((await storage.get(key)).data) == 50

    async def test_event_log_append_and_read_in_order(self, storage: Storage, prefix: str) -> None:
        log = EventLog(storage, f"{prefix}/log")
        assert await log.last_seq() == 0
        for n in range(70):
            event = await log.append("note", {"n": n})
            assert event.seq == n + 1
        events = await log.read()
        assert [e.seq for e in events] == list(range(1, 71))
        assert [e.data["n"] for e in events] == list(range(70))
        assert [e.seq for e in await log.read(after=65)] == [66, 67, 68, 69, 70]
        assert [e.seq for e in await log.read(after=10, limit=3)] == [11, 12, 13]
        assert await log.last_seq() == 70

    async def test_event_log_exact_seq_append_detects_race(self, storage: Storage, prefix: str) -> None:
        log = EventLog(storage, f"{prefix}/log")
        await log.append("a", seq=1)
        with pytest.raises(PreconditionFailed):
            await log.append("b", seq=1)
        assert (await log.get(1)).type == "a"

    async def test_event_log_concurrent_appenders(self, storage: Storage, prefix: str) -> None:
        log = EventLog(storage, f"{prefix}/log")
        await asyncio.gather(*(log.append("x", {"n": n}) for n in range(30)))
        events = await log.read()
        assert [e.seq for e in events] == list(range(1, 31))
        assert sorted(e.data["n"] for e in events) == list(range(30))

    async def test_event_log_recovers_from_stale_head_hint(self, storage: Storage, prefix: str) -> None:
        log = EventLog(storage, f"{prefix}/log")
        for _ in range(40):
            await log.append("x")
        await storage.put(f"{prefix}/log/head", json.dumps({"seq": 3}).encode())  # a lagging hint
        assert await log.last_seq() == 40
        assert (await log.append("y")).seq == 41

    # -- several processes ----------------------------------------------------

    def _need_processes(self) -> Mapping[str, Any]:
        if self.process_settings is None:
            pytest.skip("this backend is not shared between processes")
        return self.process_settings

    async def test_processes_cas_increments_lose_nothing(self, storage: Storage, prefix: str) -> None:
        settings = self._need_processes()
        key = f"{prefix}/counter"
        await storage.put(key, b"0")
        workers, each = 4, 25
        await asyncio.to_thread(_run_processes, [(_cas_worker, (settings, key, each)) for _ in range(workers)])
        assert int((await storage.get(key)).data) == workers * each

    async def test_processes_append_event_log_no_loss_no_duplicates(self, storage: Storage, prefix: str) -> None:
        settings = self._need_processes()
        workers, each = 3, 20
        log_prefix = f"{prefix}/log"
        await asyncio.to_thread(
            _run_processes, [(_append_worker, (settings, log_prefix, w, each)) for w in range(workers)]
        )
        events = await EventLog(storage, log_prefix).read()
        assert [e.seq for e in events] == list(range(1, workers * each + 1))
        pairs = sorted((e.data["worker"], e.data["n"]) for e in events)
        assert pairs == sorted((w, n) for w in range(workers) for n in range(each))

    async def test_killed_writer_leaves_no_torn_record(self, storage: Storage, prefix: str) -> None:
        settings = self._need_processes()
        key = f"{prefix}/big"
        context = multiprocessing.get_context("spawn")
        for round_ in range(3):
            ready = context.Event()
            process = context.Process(target=_torn_writer, args=(settings, key, ready))
            process.start()
            assert ready.wait(60), "writer did not start"
            await asyncio.sleep(0.01 * (round_ + 1))
            os.kill(process.pid, signal.SIGKILL)  # mid-write, with luck: no cleanup runs
            process.join(10)
            record = await storage.get(key)
            digest, _, payload = record.data.partition(b"\n")
            assert hashlib.sha256(payload).hexdigest().encode() == digest, "torn record"
            assert len(payload) == 640_000


def _run_processes(jobs: list[tuple[Any, tuple]]) -> None:
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=target, args=args) for target, args in jobs]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
    failed = [p.exitcode for p in processes if p.exitcode != 0]
    if failed:
        raise AssertionError(f"worker processes failed with exit codes {failed}")


__all__ = ["StorageContract", "auth_headers", "make_app", "make_kernel"]

if sys.platform == "win32":  # pragma: no cover - flock and SIGKILL are POSIX
    StorageContract.process_settings = None
