"""File-backend specifics beyond the contract.

Test home of ``roleplay_core.storage.file``.
"""

import os

import pytest

from roleplay_core.storage import FileStorage, StorageUnavailable

pytestmark = pytest.mark.anyio


async def test_records_are_files_under_root_and_temp_files_are_cleaned(tmp_path):
    storage = FileStorage(root=tmp_path)
    await storage.open()
    await storage.put("users/42/profile", b"{}")
    assert (tmp_path / "users" / "42" / "profile.rec").is_file()
    assert os.listdir(tmp_path / ".tmp") == []


async def test_corrupt_file_is_reported_not_returned(tmp_path):
    storage = FileStorage(root=tmp_path)
    await storage.open()
    await storage.put("a", b"x")
    (tmp_path / "a.rec").write_bytes(b"garbage")
    # The writer keeps what it wrote (the change board saw no change); a process reading the file finds the damage.
    assert (await storage.get("a")).data == b"x"
    reader = FileStorage(root=tmp_path)
    await reader.open()
    with pytest.raises(StorageUnavailable):
        await reader.get("a")
    uncached = FileStorage(root=tmp_path, read_cache_bytes=0)
    await uncached.open()
    with pytest.raises(StorageUnavailable):
        await uncached.get("a")


async def test_check_fails_on_unwritable_root(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    storage = FileStorage(root=blocker / "data")
    with pytest.raises(StorageUnavailable) as info:
        await storage.check()
    assert str(blocker) in str(info.value)


async def test_root_from_settings(tmp_path):
    from roleplay_core.testing import make_kernel

    kernel = make_kernel({"storage.backend": "file", "storage.file.root": str(tmp_path / "rp")})
    assert isinstance(kernel.storage, FileStorage)
    assert kernel.storage.root == tmp_path / "rp"


@pytest.mark.parametrize("value", ["abc", "a.b@example.com", ".hidden", "..", "a/b", "tab\there", "é", "100%"])
async def test_key_segment_makes_any_string_one_valid_segment(tmp_path, value):
    from roleplay_core.storage import key_segment, validate_key

    segment = key_segment(value)
    assert "/" not in segment
    validate_key(f"users/{segment}")
    storage = FileStorage(root=tmp_path)
    await storage.open()
    await storage.put(f"users/{segment}", value.encode())
    assert (await storage.get(f"users/{segment}")).data == value.encode()


def test_key_segment_is_injective_on_tricky_inputs():
    from roleplay_core.storage import key_segment

    values = ["a.b", "a%2Eb", ".a", "%2Ea", "a/b", "a%2Fb", "a b", "a+b"]
    assert len({key_segment(v) for v in values}) == len(values)
