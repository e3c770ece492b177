"""``roleplay_core.storage.copy`` between the file backend and S3 (moto over HTTP)."""

from __future__ import annotations

import json

import pytest
from roleplay_s3 import S3Storage

from roleplay_core.settings import build_settings
from roleplay_core.storage import FileStorage, PreconditionFailed, Storage
from roleplay_core.storage.copy import CopyError, copy_storage, verify_copy

pytestmark = pytest.mark.anyio

RECORDS = {
    **{f"users/{n:03d}": json.dumps({"n": n}).encode() for n in range(45)},
    "users/émail@example.com": "ünïcode".encode(),
    "binary/blob": bytes(range(256)) * 4,
    "empty": b"",
    "chat/sessions/s1/log/e/000000000001": b'{"seq":1}',
}


async def fill(storage: Storage, records: dict[str, bytes] = RECORDS) -> None:
    for key, data in records.items():
        await storage.put(key, data)


async def snapshot(storage: Storage) -> dict[str, bytes]:
    return {key: (await storage.get(key)).data for key in await storage.list_all()}


@pytest.fixture
async def file_source(tmp_path):
    storage = FileStorage(root=tmp_path / "source", fsync=False)
    await storage.open()
    await fill(storage)
    yield storage
    await storage.close()


@pytest.fixture
async def new_s3(moto_s3):
    opened: list[S3Storage] = []

    async def make(**extra) -> S3Storage:
        bucket = await moto_s3.create_bucket_async()
        storage = S3Storage(build_settings("development", layers={}, overrides=moto_s3.settings(bucket, **extra)))
        await storage.open()
        opened.append(storage)
        return storage

    yield make
    for storage in opened:
        await storage.close()


async def test_file_to_s3_to_file_round_trip_keeps_every_record(file_source, new_s3, tmp_path):
    s3 = await new_s3(**{"storage.s3.prefix": "prod"})
    progress: list[tuple[int, int]] = []
    result = await copy_storage(file_source, s3, state_path=tmp_path / "state.json", page_size=10,
                                verify_checksums=True, progress=lambda done, total: progress.append((done, total)))
    assert result.ok, result
    assert (result.source_count, result.destination_count, result.copied) == (len(RECORDS),) * 3
    assert await snapshot(s3) == RECORDS
    assert progress[-1] == (len(RECORDS), len(RECORDS))
    assert not (tmp_path / "state.json").exists()  # a finished copy leaves nothing to resume

    back = FileStorage(root=tmp_path / "back", fsync=False)
    await back.open()
    result = await copy_storage(s3, back, page_size=7, verify_checksums=True)
    assert result.ok and result.copied == len(RECORDS)
    assert await snapshot(back) == RECORDS


async def test_copied_records_get_destination_versions_and_cas_still_works(file_source, new_s3):
    s3 = await new_s3()
    assert (await copy_storage(file_source, s3)).ok
    source_version = (await file_source.get("users/001")).version
    record = await s3.get("users/001")
    assert record.version != source_version
    with pytest.raises(PreconditionFailed):  # a version from the old backend is a changed version here
        await s3.put("users/001", b"stale", if_version=source_version)
    new_version = await s3.put("users/001", b"fresh", if_version=record.version)
    with pytest.raises(PreconditionFailed):
        await s3.put("users/001", b"again", if_version=record.version)
    assert (await s3.get("users/001")) .version == new_version
    with pytest.raises(PreconditionFailed):  # create-only keeps its meaning for copied keys
        await s3.put("users/002", b"x", if_absent=True)


class FailingAfter(S3Storage):
    """A real S3 destination that dies after ``n`` writes, as a killed copy would."""

    def __init__(self, inner: S3Storage, n: int) -> None:
        super().__init__(options=inner.options)
        self.remaining = n

    async def _put(self, key, data, *, if_version, if_absent):
        if self.remaining == 0:
            raise ConnectionResetError("copy interrupted")
        self.remaining -= 1
        return await super()._put(key, data, if_version=if_version, if_absent=if_absent)


class CountingPuts(S3Storage):
    def __init__(self, inner: S3Storage) -> None:
        super().__init__(options=inner.options)
        self.puts: list[str] = []

    async def _put(self, key, data, *, if_version, if_absent):
        self.puts.append(key)
        return await super()._put(key, data, if_version=if_version, if_absent=if_absent)


async def test_interrupted_copy_resumes_from_the_checkpoint(file_source, new_s3, tmp_path):
    s3 = await new_s3()
    state = tmp_path / "copy.json"
    dying = FailingAfter(s3, 25)
    await dying.open()
    with pytest.raises(ConnectionResetError):
        await copy_storage(file_source, dying, state_path=state, page_size=10, concurrency=1)
    await dying.close()
    saved = json.loads(state.read_text())
    assert saved["copied"] == 20 and saved["pages"] == 2 and saved["cursor"]  # two full pages checkpointed

    counting = CountingPuts(s3)
    await counting.open()
    result = await copy_storage(file_source, counting, state_path=state, page_size=10, concurrency=1)
    await counting.close()
    assert result.ok and result.resumed
    # Page 3 had 5 records written before the failure: compared and skipped, not rewritten.
    assert result.skipped == 5
    assert result.copied == len(RECORDS) - 25 + 20  # counts include the checkpointed pages
    assert len(counting.puts) == len(RECORDS) - 25
    assert not set(counting.puts) & set(sorted(RECORDS)[:25])
    assert await snapshot(s3) == RECORDS
    assert not state.exists()


async def test_verification_fails_on_extra_or_changed_records(file_source, new_s3, tmp_path):
    s3 = await new_s3()
    await s3.put("stray/record", b"not in the source")
    result = await copy_storage(file_source, s3, state_path=tmp_path / "state.json")
    assert not result.ok
    assert result.extra == ("stray/record",)
    assert result.destination_count == len(RECORDS) + 1
    assert (tmp_path / "state.json").exists()  # kept: the rerun repairs

    await s3.delete("stray/record")
    await s3.put("users/003", b"changed behind our back")
    result = await copy_storage(file_source, s3, state_path=tmp_path / "state.json", verify_checksums=True)
    assert result.ok
    # The rerun after a finished-but-failed copy compares every key and rewrites only the changed one.
    assert (result.copied, result.skipped) == (1, len(RECORDS) - 1)
    assert (await s3.get("users/003")).data == RECORDS["users/003"]

    await s3.put("users/004", b"changed again")
    assert (await verify_copy(file_source, s3)).ok  # counts and keys alone cannot see it
    result = await verify_copy(file_source, s3, checksums=True)
    assert not result.ok and result.different == ("users/004",)


async def test_refuses_same_storage_and_foreign_state(file_source, new_s3, tmp_path):
    with pytest.raises(CopyError, match="same storage"):
        await copy_storage(file_source, file_source)
    s3 = await new_s3()
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"format": 1, "source": "elsewhere", "destination": s3.describe(), "prefix": ""}))
    with pytest.raises(CopyError, match="another copy"):
        await copy_storage(file_source, s3, state_path=state)
    assert (await copy_storage(file_source, s3, state_path=state, restart=True)).ok


async def test_prefix_copies_only_that_subtree(file_source, new_s3):
    s3 = await new_s3()
    result = await copy_storage(file_source, s3, prefix="users/")
    assert result.ok and result.copied == 46
    assert await s3.list_all() == sorted(k for k in RECORDS if k.startswith("users/"))
