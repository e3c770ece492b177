"""The kernel's own backends keep the storage contract (roleplay_core.testing).

Test home of ``roleplay_core.storage.base``, ``roleplay_core.storage.eventlog``, ``roleplay_core.storage.memory``.
"""

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
    import os
    import signal
    import time

    from roleplay_core.testing import _torn_writer, _worker_processes

    settings = {"storage.backend": "file", "storage.file.root": str(tmp_path / "data")}
    storage = FileStorage(root=tmp_path / "data")
    context = _worker_processes()
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
        if interrupted:
            break
    assert interrupted >= 1, "no kill landed mid-write in 12 tries"


class LikeStorage(MemoryStorage):
    """A backend written the way the contract used to allow: SQLite, ``LIKE 'prefix%'``, its default order.

    ``LIKE`` treats ``_`` and ``%`` as wildcards and folds ASCII case. It exists to show
    that the contract's prefix and order tests catch such a backend.
    """

    name = "like"

    async def open(self) -> None:
        import sqlite3

        self.db = sqlite3.connect(":memory:")
        self.db.execute("create table records (key text primary key collate nocase)")

    async def _put(self, key, data, *, if_version, if_absent):
        version = await super()._put(key, data, if_version=if_version, if_absent=if_absent)
        self.db.execute("insert or ignore into records values (?)", (key,))
        return version

    async def _delete(self, key, *, if_version):
        await super()._delete(key, if_version=if_version)
        self.db.execute("delete from records where key = ?", (key,))

    async def _list(self, prefix, *, limit, cursor):
        from roleplay_core.storage import Page

        rows = self.db.execute("select key from records where key like ? order by key", (prefix + "%",))
        keys = [row[0] for row in rows]
        start = keys.index(cursor) + 1 if cursor else 0
        chunk = keys[start:start + limit]
        return Page(tuple(chunk), chunk[-1] if start + limit < len(keys) and chunk else None)


@pytest.mark.anyio
@pytest.mark.parametrize("test", ["test_prefixes_are_plain_case_sensitive_strings",
                                  "test_listing_is_in_code_point_order"])
async def test_the_contract_catches_a_like_backend(test):
    backend = LikeStorage()
    await backend.open()
    with pytest.raises(AssertionError):
        await getattr(StorageContract, test)(StorageContract(), backend, "p")


@pytest.fixture
def anyio_backend():
    return "asyncio"
