"""The kernel's own backends keep the storage contract (roleplay_core.testing)."""

import pytest

from roleplay_core.storage import FileStorage, MemoryStorage
from roleplay_core.testing import StorageContract


class TestMemoryStorage(StorageContract):
    @pytest.fixture
    async def storage(self):
        backend = MemoryStorage()
        await backend.open()
        yield backend
        await backend.close()


class TestFileStorage(StorageContract):
    @pytest.fixture(autouse=True)
    def _root(self, tmp_path):
        self.process_settings = {"storage.backend": "file", "storage.file.root": str(tmp_path / "data")}

    @pytest.fixture
    async def storage(self, tmp_path):
        backend = FileStorage(root=tmp_path / "data")
        await backend.open()
        yield backend
        await backend.close()


def test_file_writer_killed_mid_write_leaves_the_old_record_whole(tmp_path):
    """The contract's killed-writer test, with evidence that kills really land mid-write:
    a temp file left in .tmp is a write the kill interrupted; the record must still be whole."""
    import asyncio
    import hashlib
    import multiprocessing
    import os
    import signal
    import time

    from roleplay_core.testing import _torn_writer

    settings = {"storage.backend": "file", "storage.file.root": str(tmp_path / "data")}
    storage = FileStorage(root=tmp_path / "data")
    context = multiprocessing.get_context("spawn")
    interrupted = 0
    for round_ in range(12):
        ready = context.Event()
        process = context.Process(target=_torn_writer, args=(settings, "big", ready))
        process.start()
        assert ready.wait(60)
        time.sleep(0.002 * (round_ % 5))
        os.kill(process.pid, signal.SIGKILL)
        process.join(10)
        leftovers = list((tmp_path / "data" / ".tmp").iterdir())
        interrupted += bool(leftovers)
        for leftover in leftovers:
            leftover.unlink()
        record = asyncio.run(storage.get("big"))
        digest, _, payload = record.data.partition(b"\n")
        assert hashlib.sha256(payload).hexdigest().encode() == digest
        if interrupted >= 2:
            break
    assert interrupted >= 1, "no kill landed mid-write in 12 tries"
