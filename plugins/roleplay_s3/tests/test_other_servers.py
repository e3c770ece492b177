"""S3 servers other than moto, installed from a package registry (the ``test`` extra): localbucket.

localbucket is a small S3 server that stores buckets as folders and objects as
files, so its namespace is hierarchical like MinIO's: an object cannot live under
another object's name. Everything Roleplay stores works there because object
names are ``<key>!`` (see ``roleplay_s3.storage``); the tests here prove it on the
real server, and ``namespace()`` recognises it.

The full storage contract also needs ``If-Match`` on ``PutObject`` (compare-and-swap).
localbucket 1.2 honours only ``If-None-Match``, and the backend's own ``check()``
refuses a server that ignores a condition, so the contract suite here is skipped
with the reason ``check()`` gives, and would run as is on a version that honours both.
Everything is skipped with a reason where localbucket is not installed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from roleplay_s3 import S3Storage

from roleplay_core.settings import build_settings
from roleplay_core.storage import NotFound, StorageUnavailable
from roleplay_core.testing import StorageContract, free_port

_BESIDE = Path(sys.executable).with_name("localbucket")  # installed into this environment
LOCALBUCKET = str(_BESIDE) if _BESIDE.exists() else shutil.which("localbucket")
pytestmark = pytest.mark.skipif(LOCALBUCKET is None, reason="localbucket is not installed (pip install localbucket)")


class Localbucket:
    def __init__(self, root) -> None:
        #: Why the storage contract cannot run here (``check()``'s answer), once a check said so.
        self.refusal: str | None = None
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen([LOCALBUCKET, "--port", str(self.port), str(root)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(self.endpoint, timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise AssertionError("localbucket did not start") from None
                time.sleep(0.1)

    def settings(self, bucket: str) -> dict[str, Any]:
        return {"storage.backend": "s3", "storage.s3.bucket": bucket, "storage.s3.endpoint_url": self.endpoint,
                "storage.s3.region": "us-east-1", "storage.s3.access_key_id": "testing",
                "storage.s3.secret_access_key": "testing", "storage.s3.path_style": True}

    def bucket(self) -> str:
        name = f"rp-{uuid.uuid4().hex[:16]}"
        httpx.put(f"{self.endpoint}/{name}", timeout=5).raise_for_status()
        return name

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


@pytest.fixture(scope="module")
def localbucket(tmp_path_factory) -> Iterator[Localbucket]:
    server = Localbucket(tmp_path_factory.mktemp("localbucket"))
    yield server
    server.stop()


@pytest.fixture
async def plain(localbucket):
    storage = S3Storage(build_settings("development", layers={}, overrides=localbucket.settings(localbucket.bucket())))
    await storage.open()
    yield storage
    await storage.close()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_localbucket_is_recognised_as_hierarchical(plain):
    assert await plain.namespace() == "hierarchical"


@pytest.mark.anyio
async def test_a_key_and_keys_under_it_coexist_on_a_server_with_folders(plain):
    """Unconditional writes only (localbucket honours no If-Match): the layout is what is tested."""
    keys = ["chat/sessions/1/log/00000001", "chat/sessions/1/script", "chat/sessions/1", "chat/sessions/1 b"]
    for key in keys:
        await plain.put(key, key.encode())
    for key in keys:
        assert (await plain.get(key)).data == key.encode()
    assert await plain.list_all("chat/sessions/1") == sorted(keys)
    await plain.delete("chat/sessions/1")
    with pytest.raises(NotFound):
        await plain.get("chat/sessions/1")
    assert (await plain.get("chat/sessions/1/script")).data == b"chat/sessions/1/script"
    assert await plain.list_all("chat/sessions/") == sorted(k for k in keys if k != "chat/sessions/1")


class TestLocalbucketContract(StorageContract):
    @pytest.fixture
    async def storage(self, localbucket):
        # Whether the server keeps conditional writes is the server's property, not a bucket's:
        # checked once, then every contract test skips with that reason at once.
        if localbucket.refusal is not None:
            pytest.skip(localbucket.refusal)
        settings = localbucket.settings(localbucket.bucket())
        backend = S3Storage(build_settings("development", layers={}, overrides=settings))
        await backend.open()
        try:
            await backend.check()
        except StorageUnavailable as exc:
            await backend.close()
            localbucket.refusal = f"localbucket cannot keep the contract: {exc}"
            pytest.skip(localbucket.refusal)
        self.process_settings = settings
        yield backend
        await backend.close()
