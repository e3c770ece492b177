"""File storage keeps records it read or wrote, and the change board tells every process when one changed.

Test home of ``roleplay_core.storage.changes``. The other processes here are real ones
(``python -c`` on the same folder), since the board is shared memory between processes.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap

import pytest

from roleplay_core.storage import FileStorage, NotFound, PreconditionFailed
from roleplay_core.storage import file as file_module
from roleplay_core.storage.changes import OPEN, ChangeBoard, is_settled, slot_of

pytestmark = pytest.mark.anyio


async def opened(root, **options) -> FileStorage:
    storage = FileStorage(root=root, **options)
    await storage.open()
    return storage


def other_process(root, code: str) -> str:
    """Run ``code`` (async body; ``storage`` is a FileStorage on ``root``) in a new Python process."""
    program = textwrap.dedent("""
        import asyncio, sys
        from roleplay_core.storage import FileStorage, NotFound

        async def main():
            storage = FileStorage(root=sys.argv[1])
            await storage.open()
        {body}
            await storage.close()

        asyncio.run(main())
    """).format(body=textwrap.indent(textwrap.dedent(code), "    "))
    done = subprocess.run([sys.executable, "-c", program, str(root)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_a_kept_record_is_read_without_touching_the_disk(tmp_path, monkeypatch):
    storage = await opened(tmp_path)
    await storage.put("users/a", b"written")
    await storage.put("users/b", b"read")
    other = await opened(tmp_path)
    assert (await other.get("users/b")).data == b"read"  # read once from the file, then kept
    with pytest.raises(NotFound):
        await other.get("users/missing")

    def no_disk(*args, **kwargs):
        raise AssertionError("a kept record was read from the disk")

    monkeypatch.setattr(file_module.os, "open", no_disk)
    monkeypatch.setattr(file_module.os, "read", no_disk)
    assert (await storage.get("users/a")).data == b"written"  # what this process wrote
    assert (await other.get("users/b")).data == b"read"
    with pytest.raises(NotFound):  # missing keys are kept too
        await other.get("users/missing")


async def test_another_process_writing_deleting_and_creating_is_seen_at_once(tmp_path):
    storage = await opened(tmp_path)
    first = await storage.put("chat/s1", b"1")
    assert (await storage.get("chat/s1")).version == first

    other_process(tmp_path, 'await storage.put("chat/s1", b"2")')
    record = await storage.get("chat/s1")
    assert record.data == b"2" and record.version != first

    other_process(tmp_path, 'await storage.delete("chat/s1")')
    with pytest.raises(NotFound):
        await storage.get("chat/s1")

    other_process(tmp_path, 'await storage.put("chat/s1", b"3", if_absent=True)')
    assert (await storage.get("chat/s1")).data == b"3"


async def test_reads_never_go_back_while_another_process_writes(tmp_path):
    """A counter another process increments 300 times: every read here is at least the last one."""
    storage = await opened(tmp_path)
    await storage.put("n", b"0")
    program = textwrap.dedent("""
        import asyncio, sys
        from roleplay_core.storage import FileStorage

        async def main():
            storage = FileStorage(root=sys.argv[1], fsync=False)
            await storage.open()
            for _ in range(300):
                record = await storage.get("n")
                await storage.put("n", str(int(record.data) + 1).encode(), if_version=record.version)
            await storage.close()

        asyncio.run(main())
    """)
    writer = await asyncio.create_subprocess_exec(sys.executable, "-c", program, str(tmp_path),
                                                  stderr=subprocess.PIPE)
    seen = [0]
    while writer.returncode is None:
        value = int((await storage.get("n")).data)
        assert value >= seen[-1], f"read {value} after {seen[-1]}"
        if value != seen[-1]:
            seen.append(value)
        await asyncio.sleep(0.0005)
    _, errors = await writer.communicate()
    assert writer.returncode == 0, errors
    assert int((await storage.get("n")).data) == 300
    assert len(seen) > 2, "the reader saw no write in progress: the test proved nothing"


async def test_a_writer_that_died_mid_change_leaves_its_slot_untrusted(tmp_path, monkeypatch):
    storage = await opened(tmp_path)
    await storage.put("k", b"old")
    assert (await storage.get("k")).data == b"old"

    # A writer marks the slot open, replaces the file, and dies before the slot's new value.
    board = ChangeBoard(tmp_path / ".changes")
    board.open()
    board.begin(slot_of("k"))
    writer = await opened(tmp_path)
    writer._board.close()  # so that only the file changes, as the dead writer's rename did
    await writer.put("k", b"new")

    reads = []
    real = FileStorage._read_small
    monkeypatch.setattr(FileStorage, "_read_small", lambda self, path: reads.append(path) or real(self, path))
    assert (await storage.get("k")).data == b"new"
    assert (await storage.get("k")).data == b"new"
    assert len(reads) == 2, "a record read while its slot was open was kept"

    await storage.put("k", b"newer")  # the next whole write settles the slot
    reads.clear()
    assert (await storage.get("k")).data == b"newer"
    assert reads == []
    board.close()


async def test_a_compare_and_swap_on_a_kept_record_reads_no_file_until_another_process_writes(tmp_path, monkeypatch):
    """A chat turn's lease and release are compare-and-swaps on the record this process just wrote:
    the version to compare is the kept one while the slot has not moved, and the file otherwise."""
    storage = await opened(tmp_path)
    version = await storage.put("chat/s1", b"1")
    reads = []
    real = FileStorage._read
    monkeypatch.setattr(FileStorage, "_read", lambda self, path: reads.append(path) or real(self, path))
    version = await storage.put("chat/s1", b"2", if_version=version)
    version = await storage.put("chat/s1", b"3", if_version=version)
    with pytest.raises(PreconditionFailed):
        await storage.put("chat/s1", b"stale", if_version="0" * 32)
    with pytest.raises(PreconditionFailed):
        await storage.put("chat/s1", b"again", if_absent=True)
    await storage.delete("chat/s1", if_version=version)
    assert reads == [], "a compare-and-swap on a record this process wrote read its file"

    other_process(tmp_path, 'await storage.put("chat/s1", b"theirs", if_absent=True)')
    with pytest.raises(PreconditionFailed):  # kept as missing, but the slot moved: the file says it exists
        await storage.put("chat/s1", b"mine", if_absent=True)
    assert len(reads) == 1
    theirs = (await storage.get("chat/s1")).version
    other_process(tmp_path, f'await storage.put("chat/s1", b"later", if_version="{theirs}")')
    with pytest.raises(PreconditionFailed):
        await storage.put("chat/s1", b"mine", if_version=theirs)
    assert (await storage.get("chat/s1")).data == b"later"


async def test_a_compare_and_swap_after_a_writer_died_mid_change_reads_the_file(tmp_path):
    storage = await opened(tmp_path)
    old = await storage.put("k", b"old")
    board = ChangeBoard(tmp_path / ".changes")
    board.open()
    board.begin(slot_of("k"))  # the dead writer marked the slot open and replaced the file
    writer = await opened(tmp_path)
    writer._board.close()
    await writer.put("k", b"new")
    with pytest.raises(PreconditionFailed):
        await storage.put("k", b"mine", if_version=old)
    board.close()


def test_only_whole_values_are_trusted(tmp_path):
    board_value = bytes(8)
    assert is_settled(board_value)  # a slot never written
    assert not is_settled(OPEN)
    board = ChangeBoard(tmp_path / ".changes")
    board.open()
    values = [board.end(7) for _ in range(200)]
    assert all(is_settled(v) for v in values)
    assert len(set(values)) == 200
    assert board.value(7) == values[-1]
    board.begin(7)
    assert board.value(7) == OPEN
    # Half of one value and half of the next: what a read racing a write could see.
    assert not any(is_settled(a[:4] + b[4:]) for a, b in zip(values, values[1:], strict=False))
    assert not is_settled(bytes(4) + values[0][4:])  # half written over a fresh slot
    board.close()


async def test_kept_records_stay_within_read_cache_bytes(tmp_path):
    storage = await opened(tmp_path, read_cache_bytes=8192)
    for n in range(100):
        await storage.put(f"items/{n:03}", b"x" * 100)
    assert 0 < storage._kept_bytes <= 8192
    assert len(storage._kept) < 100
    assert "items/099" in storage._kept and "items/000" not in storage._kept  # the oldest go first
    for n in range(100):
        assert (await storage.get(f"items/{n:03}")).data == b"x" * 100
    assert storage._kept_bytes <= 8192


async def test_zero_read_cache_bytes_keeps_nothing_but_still_tells_others(tmp_path):
    keeper = await opened(tmp_path)
    storage = await opened(tmp_path, read_cache_bytes=0)
    await storage.put("a", b"1")
    assert (await keeper.get("a")).data == b"1"  # kept by the process that keeps
    assert (await storage.get("a")).data == b"1"
    assert storage._kept == {}
    await storage.put("a", b"2")  # a process that keeps nothing still marks its writes
    assert (await keeper.get("a")).data == b"2"
    assert (await storage.list("")).keys == ("a",)  # the board and other dot-files are not keys


def test_read_cache_bytes_is_validated():
    from roleplay_core.settings import build_settings, kernel_problems

    for bad in (-1, "lots", True, 1.5):
        settings = build_settings("development", layers={}, overrides={"storage.file.read_cache_bytes": bad})
        assert any("storage.file.read_cache_bytes" in problem for problem in kernel_problems(settings)), bad
    settings = build_settings("development", layers={}, overrides={"storage.file.read_cache_bytes": 0})
    assert not any("read_cache_bytes" in problem for problem in kernel_problems(settings))


async def test_a_board_that_cannot_be_mapped_leaves_storage_working_without_it(tmp_path, caplog):
    (tmp_path / ".changes").mkdir()  # not a file: the map fails as on a full disk
    with caplog.at_level("WARNING", logger="roleplay.storage.file"):
        storage = await opened(tmp_path)
    assert "change board" in caplog.text
    await storage.put("a", b"1")
    assert (await storage.get("a")).data == b"1"
    assert storage._kept == {}
    other_process(tmp_path, 'await storage.put("a", b"2")')  # the other process has no board either
    assert (await storage.get("a")).data == b"2"


def test_the_board_is_allocated_not_a_hole(tmp_path):
    board = ChangeBoard(tmp_path / ".changes")
    board.open()
    board.close()
    status = (tmp_path / ".changes").stat()
    assert status.st_size == 65_536 * 8
    assert status.st_blocks * 512 >= status.st_size  # blocks on disk: no SIGBUS on a full disk later


async def test_a_record_that_outgrew_inline_reads_is_no_longer_kept(tmp_path):
    reader = await opened(tmp_path)
    writer = await opened(tmp_path)
    await writer.put("big", b"small")
    assert (await reader.get("big")).data == b"small"
    assert "big" in reader._kept
    grown = b"x" * (reader.inline_read_bytes + 1)
    await writer.put("big", grown)
    assert (await reader.get("big")).data == grown  # read in a thread, not kept
    assert "big" not in reader._kept and "big" not in writer._kept
    assert reader._kept_bytes == sum(len(k) + 200 + (len(r.data) if r else 0) for k, (_, _, r) in reader._kept.items())
