"""``roleplay_core.storage.copy`` on the kernel's own backends (file to memory and back).

S3 pairs are proven in roleplay_s3's tests; these need nothing but the kernel.
"""

from __future__ import annotations

import json

import pytest

from roleplay_core.storage import FileStorage, MemoryStorage
from roleplay_core.storage.copy import (
    CopyError,
    CopyResult,
    CopyState,
    copy_storage,
    count_keys,
    describe_result,
    verify_copy,
)

pytestmark = pytest.mark.anyio

RECORDS = {
    **{f"users/{n:03d}": json.dumps({"n": n}).encode() for n in range(23)},
    "chat/sessions/s1": b'{"id": "s1"}',
    "empty": b"",
    "binary/blob": bytes(range(256)),
}


@pytest.fixture
async def source(tmp_path):
    storage = FileStorage(root=tmp_path / "source", fsync=False)
    await storage.open()
    for key, data in RECORDS.items():
        await storage.put(key, data)
    yield storage
    await storage.close()


@pytest.fixture
async def destination():
    storage = MemoryStorage()
    await storage.open()
    yield storage
    await storage.close()


async def snapshot(storage) -> dict[str, bytes]:
    return {key: (await storage.get(key)).data for key in await storage.list_all()}


async def test_count_keys_pages_through_the_listing(source):
    assert await count_keys(source, page_size=4) == len(RECORDS)
    assert await count_keys(source, "users/", page_size=5) == 23
    assert await count_keys(source, "nothing/") == 0


async def test_copy_moves_every_record_with_its_bytes_and_reports_progress(source, destination):
    seen: list[tuple[int, int]] = []
    result = await copy_storage(source, destination, page_size=7, concurrency=3, verify_checksums=True,
                                progress=lambda done, total: seen.append((done, total)))
    assert result.ok and result.checksums_verified
    assert (result.copied, result.skipped, result.vanished, result.resumed) == (len(RECORDS), 0, 0, False)
    assert await snapshot(destination) == RECORDS
    assert seen[0] == (0, len(RECORDS)) and seen[-1] == (len(RECORDS), len(RECORDS))
    assert "checksums: every record's bytes match" in describe_result(result)


async def test_a_prefix_copies_only_what_is_under_it(source, destination):
    result = await copy_storage(source, destination, prefix="users/")
    assert result.ok and result.copied == 23
    assert sorted(await destination.list_all()) == sorted(k for k in RECORDS if k.startswith("users/"))


async def test_skip_identical_writes_only_what_differs(source, destination):
    await destination.put("users/000", RECORDS["users/000"])
    await destination.put("users/001", b"stale")
    result = await copy_storage(source, destination, skip_identical=True)
    assert (result.copied, result.skipped) == (len(RECORDS) - 1, 1)
    assert await snapshot(destination) == RECORDS


async def test_verify_names_missing_extra_and_different_keys(source, destination):
    for key, data in RECORDS.items():
        if key != "empty":
            await destination.put(key, data)
    await destination.put("binary/blob", b"changed")
    await destination.put("only/here", b"x")
    result = await verify_copy(source, destination, checksums=True)
    assert not result.ok
    assert (result.missing, result.extra, result.different) == (("empty",), ("only/here",), ("binary/blob",))
    lines = describe_result(result)
    assert any(line.startswith("missing at the destination (first 1): empty") for line in lines)
    assert any(line.startswith("only at the destination (first 1): only/here") for line in lines)
    assert any(line.startswith("different bytes (first 1): binary/blob") for line in lines)
    assert not any(line.startswith("checksums:") for line in lines)


async def test_without_checksums_different_bytes_pass_unnoticed_but_counts_do_not(source, destination):
    for key, data in RECORDS.items():
        await destination.put(key, b"other " + data)
    assert (await verify_copy(source, destination)).ok
    assert not (await verify_copy(source, destination, checksums=True)).ok


async def test_the_same_storage_on_both_sides_is_refused(source):
    with pytest.raises(CopyError, match="same storage"):
        await copy_storage(source, source)


async def test_bad_sizes_are_refused(source, destination):
    with pytest.raises(ValueError, match="at least 1"):
        await copy_storage(source, destination, concurrency=0)
    with pytest.raises(ValueError, match="at least 1"):
        await copy_storage(source, destination, page_size=0)


async def test_a_state_file_resumes_where_the_copy_stopped_and_is_removed_when_done(source, destination, tmp_path):
    state_path = tmp_path / "state" / "copy.json"
    # A copy that stopped after its first page of 10 keys: the saved cursor points at the second page.
    first = await source.list("", limit=10)
    for key in first.keys:
        await destination.put(key, (await source.get(key)).data)
    CopyState(source.describe(), destination.describe(), "", cursor=first.cursor, copied=10, pages=1).save(state_path)

    result = await copy_storage(source, destination, state_path=state_path, page_size=10)
    assert result.ok and result.resumed
    assert result.copied == len(RECORDS)  # 10 before the stop, the rest now
    assert await snapshot(destination) == RECORDS
    assert not state_path.exists()


async def test_a_state_file_of_another_copy_or_unreadable_is_refused(source, destination, tmp_path):
    state_path = tmp_path / "copy.json"
    CopyState("somewhere else", destination.describe(), "").save(state_path)
    with pytest.raises(CopyError, match="belongs to another copy"):
        await copy_storage(source, destination, state_path=state_path)
    result = await copy_storage(source, destination, state_path=state_path, restart=True)
    assert result.ok and not result.resumed

    state_path.write_text("{not json")
    with pytest.raises(CopyError, match="cannot read the copy state file"):
        await copy_storage(source, destination, state_path=state_path)
    state_path.write_text(json.dumps({"format": 99, "source": "a", "destination": "b", "prefix": ""}))
    with pytest.raises(CopyError, match="unknown format"):
        CopyState.load(state_path)


async def test_a_finished_copy_that_failed_verification_goes_over_every_key_again(source, destination, tmp_path):
    state_path = tmp_path / "copy.json"
    await copy_storage(source, destination)
    await destination.put("users/005", b"damaged")
    CopyState(source.describe(), destination.describe(), "", copied=len(RECORDS), finished=True).save(state_path)
    result = await copy_storage(source, destination, state_path=state_path, verify_checksums=True)
    assert result.ok and result.resumed
    assert (result.copied, result.skipped) == (1, len(RECORDS) - 1)
    assert (await destination.get("users/005")).data == RECORDS["users/005"]


def test_copy_state_round_trips_through_json(tmp_path):
    state = CopyState("a", "b", "p/", cursor="c", copied=3, skipped=2, vanished=1, pages=4, finished=True)
    path = tmp_path / "s.json"
    state.save(path)
    assert json.loads(path.read_text())["format"] == 1
    assert CopyState.load(path) == state


def test_a_result_is_ok_only_when_counts_match_and_nothing_differs():
    base = CopyResult(source_count=2, destination_count=2, copied=2, skipped=0, vanished=0, resumed=False)
    assert base.ok
    assert not CopyResult(source_count=2, destination_count=3, copied=2, skipped=0, vanished=0, resumed=False).ok
    assert not CopyResult(source_count=2, destination_count=2, copied=2, skipped=0, vanished=0, resumed=False,
                          different=("k",)).ok
    assert describe_result(base)[0] == "copied 2, already identical 0, vanished during copy 0"
    resumed = CopyResult(source_count=0, destination_count=0, copied=0, skipped=0, vanished=0, resumed=True)
    assert describe_result(resumed)[0].endswith("(resumed)")
