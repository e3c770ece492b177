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
import importlib.metadata
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
from .hookspecs import hookimpl
from .kernel import Kernel
from .models import ModelProvider, Reply, ReplyDelta, ReplyRequest
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


def _worker_processes() -> Any:
    """The multiprocessing context the contract's writer processes start from.

    A fresh interpreter per writer (``spawn``) spends seconds importing the kernel and every
    plugin before its first write. Where the platform has it, a fork server, started once with
    those modules imported, forks each writer instead: a fresh single-threaded parent, so none of
    the test process's threads or locks are inherited, and a writer starts in milliseconds.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    modules = {"roleplay_core.testing"} | {ep.module for ep in importlib.metadata.entry_points(group="roleplay")}
    context.set_forkserver_preload(sorted(modules))
    return context


def _open_backend(settings: Mapping[str, Any]) -> Storage:
    kernel = Kernel.create(env="development", overrides=dict(settings), settings_files=[])
    return kernel.storage


def _cas_worker(settings: Mapping[str, Any], key: str, increments: int, go: Any) -> None:
    async def run() -> None:
        storage = _open_backend(settings)
        await storage.open()
        try:
            go.wait(60)  # every worker starts writing at once (storage open): the increments really contend
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


def _append_worker(settings: Mapping[str, Any], prefix: str, worker: int, count: int, go: Any) -> None:
    async def run() -> None:
        storage = _open_backend(settings)
        await storage.open()
        try:
            go.wait(60)
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

    @pytest.mark.parametrize("parent_first", [True, False], ids=["parent-first", "child-first"])
    async def test_a_key_and_keys_under_it_coexist(self, storage: Storage, prefix: str, parent_first: bool) -> None:
        """``k`` and ``k/...`` are independent records, whatever the server does with folders."""
        parent, child, grandchild = f"{prefix}/k", f"{prefix}/k/c", f"{prefix}/k/c/g"
        order = [parent, child, grandchild] if parent_first else [grandchild, child, parent]
        for key in order:
            assert await storage.put(key, key.encode(), if_absent=True)
        for key in order:
            assert (await storage.get(key)).data == key.encode()
        assert await storage.list_all(f"{prefix}/k") == [parent, child, grandchild]
        assert await storage.list_all(f"{prefix}/k/") == [child, grandchild]
        version = (await storage.get(child)).version
        await storage.put(child, b"again", if_version=version)
        # Delete in the same order: each removal leaves the others readable and listed.
        for n, key in enumerate(order):
            await storage.delete(key)
            with pytest.raises(NotFound):
                await storage.get(key)
            for rest in order[n + 1:]:
                assert (await storage.get(rest)).data in (rest.encode(), b"again")
            assert await storage.list_all(f"{prefix}/k") == sorted(order[n + 1:])
        for key in reversed(order):  # and they can be written again
            await storage.put(key, b"back", if_absent=True)
        assert await storage.list_all(f"{prefix}/k") == [parent, child, grandchild]

    async def test_prefixes_are_plain_case_sensitive_strings(self, storage: Storage, prefix: str) -> None:
        """No wildcards (``_`` and ``%`` are literal, as a ``LIKE`` query would not have them) and no case folding."""
        names = ["Ab/1", "ab/1", "aB/1", "AB", "a_b/1", "axb/1", "a%b/1", "a%25b/1", "aXb", "é/1", "É/1", "e/1",
                 "ß/1", "ss/1", "日本/1", "日/1", "😀/1", "a b/1", "a!b/1"]
        for name in names:
            await storage.put(f"{prefix}/{name}", b"x")

        async def under(start: str) -> list[str]:
            return [key[len(prefix) + 1:] for key in await storage.list_all(f"{prefix}/{start}")]

        assert await under("ab") == ["ab/1"]
        assert await under("Ab") == ["Ab/1"]
        assert await under("AB") == ["AB"]
        assert await under("a_") == ["a_b/1"]
        assert await under("a%") == ["a%25b/1", "a%b/1"]
        assert await under("a%b") == ["a%b/1"]
        assert await under("é") == ["é/1"]
        assert await under("É") == ["É/1"]
        assert await under("ß") == ["ß/1"]
        assert await under("日") == ["日/1", "日本/1"]
        assert await under("日本/") == ["日本/1"]
        assert await under("😀") == ["😀/1"]
        assert await under("a ") == ["a b/1"]
        assert await under("a!") == ["a!b/1"]
        for name in names:
            assert (await storage.get(f"{prefix}/{name}")).data == b"x"

    async def test_listing_is_in_code_point_order(self, storage: Storage, prefix: str) -> None:
        """Code points, not a collation: uppercase before lowercase, ``/`` after ``-`` and ``.``, astral last."""
        tails = ["k", "k k", "k!", "k-x", "k.x", "k/x", "k/x/y", "k0", "kA", "kZ", "k_", "ka", "kz", "k~", "k\u00e9",
                 "k\u00c9", "k\u65e5", "k\U0001f600", "k\uff41", "kk", "k k/z"]
        keys = [f"{prefix}/o/{t}" for t in tails]
        for key in reversed(keys):
            await storage.put(key, b"x")
        expected = sorted(keys)  # Python compares strings by code point
        assert expected[:3] == [f"{prefix}/o/k", f"{prefix}/o/k k", f"{prefix}/o/k k/z"]
        assert await storage.list_all(f"{prefix}/o/") == expected
        seen, cursor = [], None
        while True:  # the same order across pages
            page = await storage.list(f"{prefix}/o/", limit=4, cursor=cursor)
            seen.extend(page.keys)
            if page.cursor is None:
                break
            cursor = page.cursor
        assert seen == expected

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
        workers, each = 4, 12
        await asyncio.to_thread(_run_processes, [(_cas_worker, (settings, key, each)) for _ in range(workers)])
        assert int((await storage.get(key)).data) == workers * each

    async def test_processes_append_event_log_no_loss_no_duplicates(self, storage: Storage, prefix: str) -> None:
        settings = self._need_processes()
        workers, each = 3, 12
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
        context = _worker_processes()
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
    """Run each ``(target, args)`` in its own process, with a last argument: a barrier all of them wait at.

    Starting a process takes longer than its writes: without the common start, one worker
    could finish before the next one begins, and nothing would contend.
    """
    context = _worker_processes()
    go = context.Barrier(len(jobs))
    processes = [context.Process(target=target, args=(*args, go)) for target, args in jobs]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
    failed = [p.exitcode for p in processes if p.exitcode != 0]
    if failed:
        raise AssertionError(f"worker processes failed with exit codes {failed}")


# -- real server processes ----------------------------------------------------------


class SlowModel(ModelProvider):
    """A model provider for crash and restart tests: ``test_model.delay`` seconds, then a short reply.

    It yields a first delta at once (the turn is visibly under way), waits, then answers
    with the learner's words. Registered as ``test-slow`` by :class:`SlowModelPlugin`.
    """

    name = "test-slow"
    capabilities = frozenset({"reply"})

    def __init__(self, kernel: Any) -> None:
        self.delay = float(kernel.settings.get("test_model.delay", 0.0))

    async def reply(self, request: ReplyRequest):
        said = request.history[-1].text if request.history else ""
        yield ReplyDelta("Hm, ")
        await asyncio.sleep(self.delay)
        yield Reply(text=f"Hm, you said {said!r}.", state=dict(request.state))


class SlowModelPlugin:
    """Registers :class:`SlowModel` as ``test-slow``."""

    @hookimpl
    def register_model_providers(self):
        return {"test-slow": SlowModel}


def server_app():
    """``uvicorn --factory roleplay_core.testing:server_app``: an app for a test's server process.

    Its settings are the JSON object of dotted keys in ``$ROLEPLAY_TEST_SETTINGS``;
    ``$ROLEPLAY_TEST_PLUGINS`` names extra plugin objects as ``module:attribute``
    (comma-separated; classes are instantiated). :class:`SlowModelPlugin` is always added.
    """
    import importlib

    overrides = json.loads(os.environ.get("ROLEPLAY_TEST_SETTINGS") or "{}")
    plugins: list[Any] = [SlowModelPlugin()]
    for spec in filter(None, (os.environ.get("ROLEPLAY_TEST_PLUGINS") or "").split(",")):
        module, _, attribute = spec.strip().partition(":")
        value = getattr(importlib.import_module(module), attribute)
        plugins.append(value() if isinstance(value, type) else value)
    return make_app(overrides, plugins=plugins)


def metric_sample(exposition: str, name: str, **labels: str) -> float:
    """The sample ``name{labels}`` in a Prometheus text exposition (labels in any order, others
    ignored), 0 when absent: what a metrics test compares before and after."""
    import re

    for line in exposition.splitlines():
        if not line.startswith(name + "{") and line.split(" ")[0] != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.rpartition("} ")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ServerProcess:
    """One uvicorn process serving :func:`server_app` on a free port of 127.0.0.1.

    ``settings`` are dotted keys; ``pythonpath`` folders are added for plugins
    named in ``plugins`` (``module:attribute``). ``kill()`` is ``kill -9``: no
    shutdown hook runs, exactly like a crashed host.
    """

    def __init__(self, settings: Mapping[str, Any], *, plugins: tuple[str, ...] = (),
                 pythonpath: tuple[str, ...] = (), env: Mapping[str, str] | None = None) -> None:
        import subprocess

        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        paths = [*pythonpath, os.environ.get("PYTHONPATH", "")]
        environment = {**os.environ, **(env or {}), "ROLEPLAY_TEST_SETTINGS": json.dumps(dict(settings)),
                       "ROLEPLAY_TEST_PLUGINS": ",".join(plugins), "PYTHONPATH": os.pathsep.join(filter(None, paths))}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "roleplay_core.testing:server_app", "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "warning", "--timeout-graceful-shutdown", "60"],
            env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def wait_ready(self, seconds: float = 60.0) -> ServerProcess:
        import time

        import httpx

        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited: {self.process.stderr.read().decode()[-3000:]}")
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{self.base} did not start")

    def kill(self) -> None:
        """``kill -9``."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)

    def terminate(self, seconds: float = 60.0) -> int:
        """SIGTERM, then wait for the exit; returns the exit code."""
        if self.process.poll() is None:
            self.process.terminate()
        return self.process.wait(seconds)

    def stop(self) -> None:
        try:
            self.terminate(15)
        except Exception:
            self.kill()


def send_until_accepted(base: str, headers: Mapping[str, str], session_id: str, text: str, *,
                        seconds: float = 60.0) -> tuple[dict[str, Any], list[int]]:
    """Send ``text`` to a chat session as a well-behaved client does, until it is accepted.

    409 ``session_busy``: wait ``Retry-After`` seconds and send again. 409
    ``reply_pending``: ``POST .../retry`` (the earlier message gets its reply),
    then send again. Returns the accepted body and the ``Retry-After`` values it
    was given. Raises ``AssertionError`` on anything else or after ``seconds``.
    """
    import time

    import httpx

    waits: list[int] = []
    deadline = time.monotonic() + seconds
    with httpx.Client(base_url=base, headers=dict(headers), timeout=seconds) as client:
        path = f"/chat/sessions/{session_id}/messages"
        body: dict[str, Any] | None = {"text": text}
        while time.monotonic() < deadline:
            response = client.post(path, json=body) if body is not None else client.post(path)
            if response.status_code == 201:
                if path.endswith("/retry"):
                    path, body = f"/chat/sessions/{session_id}/messages", {"text": text}
                    continue
                return response.json(), waits
            problem = response.json() if response.headers.get("content-type", "").endswith("json") else {}
            code = problem.get("code")
            if response.status_code == 409 and code == "session_busy":
                waits.append(int(response.headers["Retry-After"]))
                time.sleep(waits[-1])
            elif response.status_code == 409 and code == "reply_pending":
                path, body = f"/chat/sessions/{session_id}/retry", None
            elif response.status_code == 409 and code == "nothing_to_retry":
                path, body = f"/chat/sessions/{session_id}/messages", {"text": text}
            else:
                raise AssertionError(f"{response.status_code} {response.text}")
    raise AssertionError(f"session {session_id} did not accept a message within {seconds} s (waits {waits})")


def crash_and_recover(dying: ServerProcess, living: ServerProcess, headers: dict, scenario: str,
                      *, in_flight: int = 3) -> dict:
    """Start ``in_flight`` turns on ``dying``, kill -9 it mid-reply, then send to every session through ``living``.

    Returns the seconds from the kill until every session had accepted a new message,
    the Retry-After values the clients were given, and the final transcripts.
    """
    import threading
    import time

    import httpx

    create = lambda: httpx.post(f"{living.base}/chat/sessions", json={"scenario_id": scenario},  # noqa: E731
                                headers=headers, timeout=30).json()["id"]
    busy = [create() for _ in range(in_flight)]
    idle = create()

    def doomed(sid: str) -> None:
        try:
            httpx.post(f"{dying.base}/chat/sessions/{sid}/messages", json={"text": f"cut off {sid}"},
                       headers=headers, timeout=120)
        except httpx.HTTPError:
            pass  # the server died under it: this message was never acknowledged

    threads = [threading.Thread(target=doomed, args=(sid,), daemon=True) for sid in busy]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    for sid in busy:  # every learner message is stored and its reply under way
        while not any(m["text"] == f"cut off {sid}" for m in httpx.get(
                f"{living.base}/chat/sessions/{sid}", headers=headers, timeout=10).json()["messages"]):
            assert time.monotonic() < deadline, "the turns did not start"
            time.sleep(0.05)
    dying.kill()
    killed = time.monotonic()
    done: dict[str, float] = {}
    waits: dict[str, list[int]] = {}
    errors: list[BaseException] = []

    def recover(sid: str) -> None:
        try:
            _, waits[sid] = send_until_accepted(living.base, headers, sid, "after the crash", seconds=60)
            done[sid] = time.monotonic()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    workers = [threading.Thread(target=recover, args=(sid,)) for sid in [*busy, idle]]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(90)
    assert not errors, errors
    transcripts = {sid: httpx.get(f"{living.base}/chat/sessions/{sid}", headers=headers, timeout=10).json()["messages"]
                   for sid in [*busy, idle]}
    return {"seconds": max(done.values()) - killed, "waits": waits, "busy": busy, "idle": idle,
            "transcripts": transcripts}


def check_recovered(result: dict, lease: float) -> None:
    assert result["seconds"] < 10, f"sessions took {result['seconds']:.1f} s to take messages again"
    assert result["waits"][result["idle"]] == [], "a session with no turn in flight made its client wait"
    for sid in result["busy"]:
        waits = result["waits"][sid]
        assert waits, "the crashed turn's lease was not in force"
        assert all(1 <= w <= lease for w in waits), waits
        messages = result["transcripts"][sid]
        assert [m["seq"] for m in messages] == list(range(1, len(messages) + 1))
        texts = [(m["role"], m["text"]) for m in messages]
        cut = texts.index(("learner", f"cut off {sid}"))
        # The orphaned message got its reply (through retry), then the new message and its reply.
        assert texts[cut + 1][0] == "character" and "cut off" in texts[cut + 1][1]
        assert texts[cut + 2] == ("learner", "after the crash") and texts[cut + 3][0] == "character"
        assert len(texts) == cut + 4


__all__ = ["ServerProcess", "SlowModel", "SlowModelPlugin", "StorageContract", "auth_headers", "check_recovered",
           "crash_and_recover", "free_port", "metric_sample",
           "make_app", "make_kernel", "send_until_accepted", "server_app"]

if sys.platform == "win32":  # pragma: no cover - flock and SIGKILL are POSIX
    StorageContract.process_settings = None
