"""``roleplay storage check`` / ``roleplay storage copy``, ``/readyz`` and the settings checks, against moto."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from roleplay_s3 import S3Storage
from roleplay_s3 import plugin as s3_plugin
from starlette.testclient import TestClient

from roleplay_core.cli import main
from roleplay_core.kernel import Kernel, SettingsError
from roleplay_core.settings import build_settings
from roleplay_core.storage import FileStorage
from roleplay_core.testing import auth_headers, make_app

ROLEPLAY = str(Path(sys.executable).with_name("roleplay"))


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No settings.toml, no ROLEPLAY_* or AWS_* from the outside: only what each test passes."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(("ROLEPLAY_", "AWS_")):
            monkeypatch.delenv(name)


def sets(settings: dict) -> list[str]:
    return [f"{key}={value}" for key, value in settings.items()]


def side(flag: str, settings: dict) -> list[str]:
    return [part for item in sets(settings) for part in (flag, item)]


def s3_args(moto_s3, bucket: str, **extra) -> list[str]:
    return [part for item in sets(moto_s3.settings(bucket, **extra)) for part in ("--set", item)]


def fill_file(root: Path, count: int) -> dict[str, bytes]:
    records = {f"data/{n:05d}": os.urandom(40) for n in range(count)}

    async def write() -> None:
        storage = FileStorage(root=root, fsync=False)
        await storage.open()
        for key, data in records.items():
            await storage.put(key, data)

    asyncio.run(write())
    return records


def read_all(storage) -> dict[str, bytes]:
    async def read() -> dict[str, bytes]:
        await storage.open()
        try:
            return {key: (await storage.get(key)).data for key in await storage.list_all()}
        finally:
            await storage.close()

    return asyncio.run(read())


def s3_storage(moto_s3, bucket: str, **extra) -> S3Storage:
    return S3Storage(build_settings("development", layers={}, overrides=moto_s3.settings(bucket, **extra)))


# -- storage check ----------------------------------------------------------------


def test_storage_check_passes_on_a_reachable_bucket(moto_s3, capsys):
    bucket = moto_s3.create_bucket()
    assert main([*s3_args(moto_s3, bucket), "storage", "check"]) == 0
    out = capsys.readouterr().out
    assert "storage: ok" in out and bucket in out and moto_s3.endpoint in out


def test_storage_check_names_bucket_and_endpoint_never_the_secret(moto_s3, capsys):
    args = s3_args(moto_s3, "no-such-bucket-here", **{"storage.s3.secret_access_key": "sup3r-s3cret-value"})
    assert main([*args, "storage", "check"]) == 1
    err = capsys.readouterr().err
    assert "FAILED" in err and "'no-such-bucket-here'" in err and moto_s3.endpoint in err
    assert "the bucket does not exist" in err
    assert "sup3r-s3cret-value" not in err


def test_storage_check_reports_an_unreachable_endpoint(moto_s3, capsys):
    closed = "http://127.0.0.1:9"  # discard port: nothing listens
    args = s3_args(moto_s3, "rp-bucket", **{"storage.s3.endpoint_url": closed, "storage.s3.max_attempts": 1,
                                           "storage.s3.connect_timeout": 1})
    assert main([*args, "storage", "check"]) == 1
    err = capsys.readouterr().err
    assert "unreachable" in err and "'rp-bucket'" in err and closed in err


def test_readyz_reports_a_missing_bucket_and_recovers_when_it_exists(moto_s3):
    bucket = f"rp-later-{os.urandom(4).hex()}"
    # Only this plugin: other plugins' startup hooks would fail on the missing bucket and stay failed.
    app = make_app(moto_s3.settings(bucket), plugins=[s3_plugin], load_entry_points=False)
    admin = auth_headers(app, "root", ("admin",))  # the checks are for admins
    with TestClient(app) as client:
        response = client.get("/readyz", headers=admin)
        assert response.status_code == 503
        storage = response.json()["checks"]["storage"]
        assert storage["ok"] is False and bucket in storage["error"] and moto_s3.endpoint in storage["error"]
        assert "the bucket does not exist" in storage["error"]
        assert client.get("/healthz").status_code == 200  # alive, only not ready
        moto_s3.create_bucket(bucket)
        response = client.get("/readyz", headers=admin)
        assert response.status_code == 200, response.text
        assert response.json()["checks"]["storage"]["backend"].startswith(f"s3 bucket {bucket!r}")


def test_check_refuses_a_server_that_ignores_conditional_writes(moto_s3):
    """A server that silently ignores If-None-Match would break create-only; check() must say so."""

    class IgnoresConditions(S3Storage):
        async def _put(self, key, data, *, if_version, if_absent):
            return await super()._put(key, data, if_version=None, if_absent=False)  # as such a server would

    bucket = moto_s3.create_bucket()
    storage = IgnoresConditions(build_settings("development", layers={}, overrides=moto_s3.settings(bucket)))

    async def run() -> str:
        await storage.open()
        try:
            await storage.check()
        except Exception as exc:
            return str(exc)
        finally:
            await storage.close()
        return "passed"

    message = asyncio.run(run())
    assert "If-None-Match" in message and bucket in message


# -- settings -------------------------------------------------------------------------


def test_settings_masks_s3_credentials(moto_s3, capsys):
    args = s3_args(moto_s3, "rp-bucket", **{"storage.s3.access_key_id": "AKIAEXAMPLEKEYID1234",
                                           "storage.s3.secret_access_key": "sup3r-s3cret-value"})
    assert main([*args, "settings"]) == 0
    out = capsys.readouterr().out
    assert "sup3r-s3cret-value" not in out and "AKIAEXAMPLEKEYID1234" not in out
    s3 = json.loads(out.split("\n", 1)[1])["storage"]["s3"]
    assert s3["secret_access_key"] == "***" and s3["access_key_id"] == "***" and s3["bucket"] == "rp-bucket"


def test_production_settings_are_checked():
    base = {"security.jwt_secret": "a-real-secret-with-plenty-of-entropy-0123456789",
            "storage.backend": "s3", "cors.allow_origins": []}
    with pytest.raises(SettingsError) as missing:
        Kernel.create(env="production", overrides={**base, "storage.s3.bucket": ""}, settings_files=[])
    assert "storage.s3.bucket must be set" in str(missing.value)
    with pytest.raises(SettingsError) as insecure:
        Kernel.create(env="production", settings_files=[], overrides={
            **base, "storage.s3.bucket": "rp-prod", "storage.s3.endpoint_url": "http://minio.internal:9000",
            "storage.s3.access_key_id": "only-the-id"})
    assert "plain http" in str(insecure.value)
    assert "access_key_id and storage.s3.secret_access_key must be set together" in str(insecure.value)
    kernel = Kernel.create(env="production", settings_files=[], overrides={
        **base, "storage.s3.bucket": "rp-prod", "storage.s3.endpoint_url": "http://minio.internal:9000",
        "storage.s3.allow_http": True})
    assert isinstance(kernel.storage, S3Storage) and kernel.storage.options.path_style is True


# -- storage copy -------------------------------------------------------------------


def test_cli_copy_file_to_s3_and_back(moto_s3, tmp_path, capsys):
    records = fill_file(tmp_path / "old", 60)
    bucket = moto_s3.create_bucket()
    s3_side = {k: v for k, v in moto_s3.settings(bucket, **{"storage.s3.prefix": "rp"}).items()
               if k != "storage.backend"}
    code = main(["storage", "copy", "--from", "file", "--to", "s3", "--page-size", "16", "--verify-checksums",
                 *side("--from-set", {"storage.file.root": tmp_path / "old"}), *side("--to-set", s3_side)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "\r[" in captured.err and "60/60 100%" in captured.err  # the progress bar, on stderr
    assert "copied 60" in captured.out and "source has 60 keys, destination has 60" in captured.out
    assert read_all(s3_storage(moto_s3, bucket, **{"storage.s3.prefix": "rp"})) == records

    code = main(["storage", "copy", "--from", "s3", "--to", "file", "--no-progress",
                 *side("--from-set", s3_side), *side("--to-set", {"storage.file.root": tmp_path / "new"})])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "\r[" not in captured.err
    assert read_all(FileStorage(root=tmp_path / "new")) == records


def test_cli_copy_exits_non_zero_when_verification_fails(moto_s3, tmp_path, capsys):
    fill_file(tmp_path / "old", 5)
    bucket = moto_s3.create_bucket()
    asyncio.run(_put(s3_storage(moto_s3, bucket), "leftover/key", b"x"))
    s3_side = {k: v for k, v in moto_s3.settings(bucket).items() if k != "storage.backend"}
    code = main(["storage", "copy", "--from", "file", "--to", "s3", "--no-progress",
                 *side("--from-set", {"storage.file.root": tmp_path / "old"}), *side("--to-set", s3_side)])
    captured = capsys.readouterr()
    assert code == 1
    assert "only at the destination" in captured.out and "leftover/key" in captured.out
    assert "FAILED verification" in captured.err


def test_cli_copy_unknown_backend_is_a_usage_error(capsys):
    assert main(["storage", "copy", "--from", "file", "--to", "nosuch"]) == 2
    assert "'nosuch'" in capsys.readouterr().err


async def _put(storage: S3Storage, key: str, data: bytes) -> None:
    await storage.open()
    try:
        await storage.put(key, data)
    finally:
        await storage.close()


def test_killed_copy_process_resumes_where_it_stopped(moto_s3, tmp_path):
    """A real ``roleplay storage copy`` killed with SIGKILL mid-copy, then run again."""
    records = fill_file(tmp_path / "old", 600)
    bucket = moto_s3.create_bucket()
    state = tmp_path / "copy-state.json"
    s3_side = {k: v for k, v in moto_s3.settings(bucket).items() if k != "storage.backend"}
    command = [ROLEPLAY, "storage", "copy", "--from", "file", "--to", "s3", "--page-size", "25",
               "--concurrency", "2", "--state", str(state),
               *side("--from-set", {"storage.file.root": tmp_path / "old"}), *side("--to-set", s3_side)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ROLEPLAY_", "AWS_"))}
    first = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    copied_before = 0
    while time.monotonic() < deadline and first.poll() is None:
        if state.exists():
            try:
                copied_before = json.loads(state.read_text())["copied"]
            except (ValueError, KeyError):
                copied_before = 0  # caught between write and rename: read again
            if copied_before >= 100:
                break
        time.sleep(0.02)
    assert first.poll() is None, "the copy finished before it could be interrupted"
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    assert 100 <= copied_before < 600

    second = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    assert "(resumed)" in second.stdout and "source has 600 keys, destination has 600" in second.stdout
    # Only what was not checkpointed is rewritten: the summary counts both runs' work.
    summary = next(line for line in second.stdout.splitlines() if line.startswith("storage copy: copied"))
    copied = int(summary.split("copied ")[1].split(",")[0])
    skipped = int(summary.split("already identical ")[1].split(",")[0])
    assert copied + skipped == 600 and skipped <= 25
    assert read_all(s3_storage(moto_s3, bucket)) == records
    assert not state.exists()


def test_cli_copy_to_s3_without_a_bucket_says_which_setting(tmp_path, capsys):
    fill_file(tmp_path / "old", 1)
    code = main(["storage", "copy", "--from", "file", "--to", "s3", "--no-progress",
                 "--from-set", f"storage.file.root={tmp_path / 'old'}"])
    assert code == 1
    assert "storage.s3.bucket is not set" in capsys.readouterr().err
