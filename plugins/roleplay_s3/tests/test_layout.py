"""Object names: data written before the key encoding is refused with the command that moves it, and moved.

Before, an object was named by its key alone, so ``chat/sessions/1`` and
``chat/sessions/1/script`` could not both exist on servers with folders. Now every
name is the key and a final ``!``. Records in the old layout stop the backend
from opening with a message naming ``roleplay storage migrate``, which renames
them, shows progress and resumes after an interruption.
"""

from __future__ import annotations

import asyncio
import os

import pytest
from roleplay_s3 import S3Storage
from roleplay_s3.storage import MIGRATE_COMMAND, OldLayout, object_name, wrap

from roleplay_core.cli import main
from roleplay_core.settings import build_settings


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(("ROLEPLAY_", "AWS_")):
            monkeypatch.delenv(name)


def args(moto_s3, bucket: str) -> list[str]:
    return [part for key, value in moto_s3.settings(bucket).items() for part in ("--set", f"{key}={value}")]


async def _raw(moto_s3, bucket: str, objects: dict[str, bytes]) -> None:
    from aiobotocore.session import AioSession

    async with AioSession().create_client("s3", region_name="us-east-1", endpoint_url=moto_s3.endpoint,
                                          aws_access_key_id="testing", aws_secret_access_key="testing") as client:
        for name, body in objects.items():
            await client.put_object(Bucket=bucket, Key=name, Body=body)


def old_layout(moto_s3, bucket: str, count: int) -> dict[str, bytes]:
    """``count`` records as the previous version wrote them: named by key, in the RP1 envelope."""
    records = {f"chat/users/u{n % 7}/sessions/{n:05d}": os.urandom(24) for n in range(count)}
    asyncio.run(_raw(moto_s3, bucket, {key: wrap(data) for key, data in records.items()}))
    return records


def read_all(moto_s3, bucket: str) -> dict[str, bytes]:
    async def read() -> dict[str, bytes]:
        storage = S3Storage(build_settings("development", layers={}, overrides=moto_s3.settings(bucket)))
        await storage.open()
        try:
            return {key: (await storage.get(key)).data for key in await storage.list_all()}
        finally:
            await storage.close()

    return asyncio.run(read())


def test_names_are_the_key_and_a_final_mark_and_keep_the_order():
    keys = ["a", "a b", "a!", "a!b", "a-b", "a/b", "a/b/c", "a0", "é"]
    names = [object_name(k) for k in keys]
    assert names[:3] == ["a!", "a!0b!", "a!1!"] and names[5] == "a/b!"
    assert sorted(names) == names  # the same order as the keys
    # No name is a folder of another name: servers with folders can store them all.
    assert not any(other.startswith(name + "/") for name in names for other in names)


def test_old_layout_data_is_refused_with_the_migration_command(moto_s3, capsys):
    bucket = moto_s3.create_bucket()
    old_layout(moto_s3, bucket, 3)

    async def open_it() -> None:
        storage = S3Storage(build_settings("development", layers={}, overrides=moto_s3.settings(bucket)))
        await storage.open()

    with pytest.raises(OldLayout, match=MIGRATE_COMMAND) as caught:
        asyncio.run(open_it())
    assert "chat/users/u0/sessions/00000" in str(caught.value) and bucket in str(caught.value)
    assert main([*args(moto_s3, bucket), "storage", "check"]) == 1
    err = capsys.readouterr().err
    assert "old layout" in err and "roleplay storage migrate" in err


def test_migrate_moves_every_record_with_progress_and_leaves_foreign_objects(moto_s3, capsys):
    bucket = moto_s3.create_bucket()
    records = old_layout(moto_s3, bucket, 230)
    asyncio.run(_raw(moto_s3, bucket, {"notes/readme.txt": b"not a record"}))
    assert main([*args(moto_s3, bucket), "storage", "migrate"]) == 0
    captured = capsys.readouterr()
    assert "100 looked at" in captured.err and "200 looked at" in captured.err
    assert "left alone (not a Roleplay record): notes/readme.txt" in captured.err
    assert "230 moved" in captured.out and "1 foreign" in captured.out
    assert read_all(moto_s3, bucket) == records
    assert main([*args(moto_s3, bucket), "storage", "check"]) == 0
    out = capsys.readouterr().out
    assert f"namespace: {'hierarchical' if moto_s3.hierarchical else 'flat'}" in out
    # Running it again is harmless.
    assert main([*args(moto_s3, bucket), "storage", "migrate"]) == 0
    assert "0 moved" in capsys.readouterr().out
    assert read_all(moto_s3, bucket) == records


def test_an_interrupted_migration_blocks_servers_and_resumes(moto_s3, capsys):
    bucket = moto_s3.create_bucket()
    records = old_layout(moto_s3, bucket, 60)
    # The delete of one old object fails for good (no retry helps): the run stops half way.
    moto_s3.app.faults.append(("/chat/users/u2/sessions/00030", 403, "AccessDenied", "DELETE"))
    assert main([*args(moto_s3, bucket), "storage", "migrate"]) == 1
    assert "run the command again to resume" in capsys.readouterr().err
    assert main([*args(moto_s3, bucket), "storage", "check"]) == 1
    assert "did not finish" in capsys.readouterr().err and MIGRATE_COMMAND
    assert main([*args(moto_s3, bucket), "storage", "migrate"]) == 0
    out = capsys.readouterr().out
    assert "1 already moved" in out  # the record whose old copy could not be deleted
    assert read_all(moto_s3, bucket) == records


def test_file_storage_has_nothing_to_migrate(tmp_path, capsys):
    assert main(["--set", "storage.backend=file", "--set", f"storage.file.root={tmp_path}", "storage", "migrate"]) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert main(["--set", "storage.backend=file", "--set", f"storage.file.root={tmp_path}", "storage", "check"]) == 0
    assert "namespace: hierarchical" in capsys.readouterr().out


def test_fsck_on_s3_reports_gaps_and_foreign_objects_and_repairs_hints(moto_s3, capsys):
    import json

    from roleplay_core.storage import EventLog

    bucket = moto_s3.create_bucket()

    async def fill() -> None:
        storage = S3Storage(build_settings("development", layers={}, overrides=moto_s3.settings(bucket)))
        await storage.open()
        log = EventLog(storage, "probe/log")
        for n in range(3):
            await log.append("note", {"n": n})
        await storage.put("probe/log/head", json.dumps({"seq": 1}).encode())  # a slow writer's old hint
        await storage.put("probe/gappy/e/000000000002", json.dumps(
            {"seq": 2, "type": "note", "data": {}, "created_at": "2026-01-01T00:00:00+00:00"}).encode())
        await storage.close()

    asyncio.run(fill())
    asyncio.run(_raw(moto_s3, bucket, {"probe/uploaded!": b"by hand"}))
    assert main([*args(moto_s3, bucket), "storage", "fsck", "--repair"]) == 1
    captured = capsys.readouterr()
    assert "event log probe/log head hint 1 is behind the last event 3" in captured.err
    assert "event log probe/gappy has a gap: events 1..1 are missing" in captured.err
    assert "foreign (left alone): probe/uploaded" in captured.err
    assert "1 repaired, 1 left; 1 foreign object(s)" in captured.out
    assert main([*args(moto_s3, bucket), "storage", "fsck"]) == 1
    assert "1 problem(s), 0 repaired, 1 left" in capsys.readouterr().out
