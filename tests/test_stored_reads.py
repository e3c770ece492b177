"""The stored-read path: event logs ask for the events they have, small file records skip the thread hop."""

import json

import pytest

from roleplay_core.storage import FileStorage, threads
from roleplay_core.storage.eventlog import BATCH, EventLog
from roleplay_core.storage.memory import MemoryStorage


class CountingStorage(MemoryStorage):
    """Memory storage that counts reads (a real backend: the contract tests cover it)."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    async def _get(self, key):
        self.reads += 1
        return await super()._get(key)


@pytest.mark.anyio
async def test_a_short_log_is_read_with_the_reads_it_needs():
    storage = CountingStorage()
    log = EventLog(storage, "chat/sessions/s1/log")
    for n in range(7):
        await log.append("message", {"n": n})
    storage.reads = 0
    events = await log.read()
    assert [e.data["n"] for e in events] == list(range(7))
    assert storage.reads == 1 + 7 + 1 < BATCH  # the head hint, the events, one past the end
    storage.reads = 0
    assert [e.seq for e in await log.read(after=5)] == [6, 7] and storage.reads == 1 + 2 + 1


@pytest.mark.anyio
async def test_a_log_without_head_hint_writes_once_per_event_and_reads_from_the_owners_count():
    storage = CountingStorage()
    writes = []
    real_put = storage._put

    async def counting_put(key, data, **options):
        writes.append(key)
        return await real_put(key, data, **options)

    storage._put = counting_put
    log = EventLog(storage, "chat/sessions/s1/log", head_hint=False)
    for n in range(7):
        await log.append("message", {"n": n}, seq=n + 1)
    assert len(writes) == 7 and not any(key.endswith("/head") for key in writes)
    storage.reads = 0
    assert [e.data["n"] for e in await log.read(known_last=7)] == list(range(7))
    assert storage.reads == 7 + 1  # the events and one past the end: no hint to read
    storage.reads = 0
    # The owner's count may lag (a writer died before updating its record): later events are still read.
    assert [e.seq for e in await log.read(after=2, known_last=5)] == [3, 4, 5, 6, 7]
    # Without a hint or a count, a read and an append gallop from the start.
    assert [e.seq for e in await log.read()] == list(range(1, 8))
    assert await log.last_seq() == 7
    assert (await log.append("message", {"n": 7})).seq == 8


@pytest.mark.anyio
async def test_a_stale_head_hint_still_reads_every_event():
    storage = CountingStorage()
    log = EventLog(storage, "log")
    for n in range(40):
        await log.append("message", {"n": n})
    await storage.put("log/head", json.dumps({"seq": 3}).encode())  # a slow writer's old hint
    assert [e.data["n"] for e in await log.read()] == list(range(40))
    assert [e.seq for e in await log.read(after=2, limit=5)] == [3, 4, 5, 6, 7]


@pytest.mark.anyio
async def test_file_reads_small_records_on_the_loop_and_big_ones_in_a_thread(tmp_path, monkeypatch):
    storage = FileStorage(root=tmp_path, fsync=False)
    storage.inline_read_bytes = 1024
    await storage.open()
    await storage.put("small", b"s" * 100)
    await storage.put("big", b"b" * 5000)
    hops = []
    real = threads.run

    async def counting(function, *args):
        hops.append(function.__name__)
        return await real(function, *args)

    monkeypatch.setattr(threads, "run", counting)
    assert (await storage.get("small")).data == b"s" * 100
    assert hops == []
    assert (await storage.get("big")).data == b"b" * 5000
    assert hops == ["_read"]
    version = await storage.put("small", b"t" * 10)  # another process's write replaces the file
    assert (await storage.get("small")).data == b"t" * 10 and (await storage.get("small")).version == version
    with pytest.raises(Exception, match="small-missing"):
        await storage.get("small-missing")
    await storage.put("middling", b"m" * 2000)  # under the first read's 4 KiB, over this limit
    hops.clear()
    assert (await storage.get("middling")).data == b"m" * 2000 and hops == ["_read"]

    default = FileStorage(root=tmp_path, fsync=False)  # 64 KiB: one read, or sized first beyond 4 KiB
    hops.clear()
    for size in (10, 4000, 4096, 4097, 20_000, 65_000):
        await default.put(f"sized-{size}", bytes([size % 251]) * size)
        assert (await default.get(f"sized-{size}")).data == bytes([size % 251]) * size
    await default.put("huge", b"h" * 70_000)
    assert (await default.get("huge")).data == b"h" * 70_000
    assert [hop for hop in hops if hop == "_read"] == ["_read"]  # only the record over 64 KiB went to a thread
