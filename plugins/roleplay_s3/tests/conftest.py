"""A real S3 API on loopback: moto's standalone server app over HTTP, started once per test session.

moto checks ``If-None-Match`` / ``If-Match`` and then writes in two steps, and its
threaded server runs requests in parallel, so two racing conditional writes could
both pass the check. Real S3 decides conditional writes atomically. To test
against that guarantee, the server here runs moto's own WSGI app behind one lock
(requests are handled one at a time, connections are still concurrent). Nothing
else about moto is changed: every request still goes through HTTP, SigV4 and
moto's S3 implementation.

moto stores keys flat. Servers that teams run themselves (MinIO, SeaweedFS) store
objects as files in folders and refuse an object whose name is a folder of another
object's name, or that lies under another object. ``SerializedApp.hierarchical``
makes moto refuse those writes the same way (MinIO's error codes), and every test
here runs twice: on the flat server and on the hierarchical one (the ``moto_s3``
fixture's two params).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest


class SerializedApp:
    """Run a WSGI app one request at a time (see the module docstring for why).

    ``faults`` lets a test make the server answer like a throttled or failing S3:
    each entry ``(path_part, status, code)`` or ``(path_part, status, code, method)``
    answers the next request whose path contains ``path_part`` (and whose method
    is ``method``, if given) with that error instead of passing it to moto.
    ``seen`` counts the requests per path. With ``hierarchical`` set, a
    ``PutObject`` whose name lies under an existing object's name answers 400
    ``XMinioParentIsObject``, and one whose name is a folder of existing objects
    409 ``XMinioObjectExistsAsDirectory``, as MinIO does.
    """

    def __init__(self, app: Any, *, hierarchical: bool = False) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.faults: list[tuple] = []
        self.seen: dict[str, int] = {}
        self.hierarchical = hierarchical
        self.refused = 0

    def _folder_conflict(self, environ: dict) -> tuple[int, str, str] | None:
        if environ.get("REQUEST_METHOD") != "PUT" or environ.get("QUERY_STRING"):
            return None
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.s3.models import s3_backends

        path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace")
        bucket_name, _, name = path.lstrip("/").partition("/")
        bucket = s3_backends[DEFAULT_ACCOUNT_ID]["global"].buckets.get(bucket_name)
        if not name or bucket is None:
            return None
        for existing in list(bucket.keys.keys()):
            if name.startswith(existing + "/"):
                return 400, "XMinioParentIsObject", "Object-prefix is already an object, please choose a different " \
                                                    "object-prefix name."
            if existing.startswith(name + "/"):
                return 409, "XMinioObjectExistsAsDirectory", "Object name already exists as a directory."
        return None

    def __call__(self, environ: dict, start_response: Any) -> list[bytes]:
        with self.lock:
            path = environ.get("PATH_INFO", "")
            self.seen[path] = self.seen.get(path, 0) + 1
            conflict = self._folder_conflict(environ) if self.hierarchical else None
            if conflict is not None:
                self.refused += 1
                self.faults.insert(0, ("", *conflict[:2]))
            for fault in self.faults:
                if fault[0] in path and (len(fault) < 4 or fault[3] == environ.get("REQUEST_METHOD")):
                    self.faults.remove(fault)
                    environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
                    body = (f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{fault[2]}</Code>"
                            f"<Message>injected by the test</Message></Error>").encode()
                    start_response(f"{fault[1]} {fault[2]}", [("Content-Type", "application/xml"),
                                                              ("Content-Length", str(len(body)))])
                    return [body]
            result = self.app(environ, start_response)
            try:
                return list(result)  # consume the body inside the lock
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()


class MotoS3:
    """moto's S3 server on 127.0.0.1 and a free port, in a background thread."""

    def __init__(self, *, hierarchical: bool = False) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server

        class KeepAliveHandler(MotoRequestHandler):
            # werkzeug only switches its own handler class to HTTP/1.1; keep-alive lets the
            # client's connection pool work as it does against real S3.
            protocol_version = "HTTP/1.1"

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self.hierarchical = hierarchical
        self.app = app = SerializedApp(DomainDispatcherApplication(create_backend_app), hierarchical=hierarchical)
        self.server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=KeepAliveHandler)
        self.port = self.server.server_address[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="moto-s3", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(10)
        self.server.server_close()

    def settings(self, bucket: str, **extra: Any) -> dict[str, Any]:
        """Dotted settings that build an ``s3`` backend on ``bucket`` of this server."""
        values = {
            "storage.backend": "s3",
            "storage.s3.bucket": bucket,
            "storage.s3.endpoint_url": self.endpoint,
            "storage.s3.region": "us-east-1",
            "storage.s3.access_key_id": "testing",
            "storage.s3.secret_access_key": "testing",
        }
        values.update(extra)
        return values

    def env(self, bucket: str, **extra: Any) -> dict[str, str]:
        """The same settings as ``ROLEPLAY_*`` environment variables, for subprocesses."""
        return {
            "ROLEPLAY_" + key.upper().replace(".", "__"): str(value)
            for key, value in self.settings(bucket, **extra).items()
        }

    def create_bucket(self, name: str | None = None) -> str:
        name = name or f"rp-{uuid.uuid4().hex[:20]}"
        asyncio.run(self._create_bucket(name))
        return name

    async def create_bucket_async(self, name: str | None = None) -> str:
        name = name or f"rp-{uuid.uuid4().hex[:20]}"
        await self._create_bucket(name)
        return name

    async def _create_bucket(self, name: str) -> None:
        from aiobotocore.session import AioSession

        async with AioSession().create_client(
            "s3",
            region_name="us-east-1",
            endpoint_url=self.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        ) as client:
            await client.create_bucket(Bucket=name)


@pytest.fixture(scope="session", params=["flat", "hierarchical"])
def moto_s3(request) -> Iterator[MotoS3]:
    """moto's server, once storing keys flat (as moto does) and once refusing folder conflicts (as MinIO does)."""
    server = MotoS3(hierarchical=request.param == "hierarchical")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def shared_bucket(moto_s3: MotoS3) -> str:
    return moto_s3.create_bucket()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
