"""The ``s3`` backend against moto's S3 server on loopback: latency per operation and copy speed.

    /tmp/venv/bin/python benchmarks/s3_storage.py [--ops 300] [--records 2000]

Starts moto's S3 app (one request at a time, as the tests run it, so conditional
writes are atomic) on a free port of 127.0.0.1, then measures sequential
``put``, ``get``, create-only and compare-and-swap writes, 32 concurrent writes,
event-log appends, listing, and ``copy_storage`` from the file backend. The
figures are dominated by moto (a Python server) and say little about AWS, where a
request costs 10-30 ms; they show what the backend itself adds and catch
regressions such as an extra request per operation.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import tempfile
import threading
import time
import uuid

from roleplay_s3 import S3Storage

from roleplay_core.settings import build_settings
from roleplay_core.storage import EventLog, FileStorage
from roleplay_core.storage.copy import copy_storage


def start_moto() -> tuple[str, object]:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    class KeepAlive(MotoRequestHandler):
        protocol_version = "HTTP/1.1"

    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def serialized(environ, start_response):
        with lock:
            return list(app(environ, start_response))

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = make_server("127.0.0.1", 0, serialized, threaded=True, request_handler=KeepAlive)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server


def report(name: str, samples: list[float]) -> None:
    samples = sorted(samples)
    p95 = samples[int(len(samples) * 0.95) - 1]
    print(f"{name:<28} {len(samples):>6} ops  mean {statistics.mean(samples) * 1000:6.2f} ms  "
          f"p50 {samples[len(samples) // 2] * 1000:6.2f} ms  p95 {p95 * 1000:6.2f} ms  "
          f"{len(samples) / sum(samples):7.0f} ops/s")


async def timed(samples: list[float], coroutine) -> object:
    started = time.perf_counter()
    result = await coroutine
    samples.append(time.perf_counter() - started)
    return result


async def run(endpoint: str, ops: int, records: int) -> None:
    settings = {"storage.backend": "s3", "storage.s3.bucket": f"bench-{uuid.uuid4().hex[:12]}",
                "storage.s3.endpoint_url": endpoint, "storage.s3.region": "us-east-1",
                "storage.s3.access_key_id": "testing", "storage.s3.secret_access_key": "testing"}
    storage = S3Storage(build_settings("development", layers={}, overrides=settings))
    await storage.open()
    await storage.client.create_bucket(Bucket=storage.bucket)
    payload = b"x" * 512
    try:
        samples: list[float] = []
        for n in range(ops):
            await timed(samples, storage.put(f"bench/put/{n}", payload))
        report("put (512 B)", samples)

        samples = []
        for n in range(ops):
            await timed(samples, storage.get(f"bench/put/{n}"))
        report("get", samples)

        samples = []
        for n in range(ops):
            await timed(samples, storage.put(f"bench/create/{n}", payload, if_absent=True))
        report("put if_absent", samples)

        version = await storage.put("bench/cas", b"0")
        samples = []
        for n in range(ops):
            version = await timed(samples, storage.put("bench/cas", str(n).encode(), if_version=version))
        report("put if_version (CAS)", samples)

        started = time.perf_counter()
        await asyncio.gather(*(storage.put(f"bench/concurrent/{n}", payload) for n in range(ops)))
        elapsed = time.perf_counter() - started
        print(f"{'put, 32 connections':<28} {ops:>6} ops  {ops / elapsed:7.0f} ops/s overall")

        log = EventLog(storage, "bench/log")
        samples = []
        for n in range(min(ops, 200)):
            await timed(samples, log.append("bench", {"n": n}))
        report("EventLog.append", samples)

        samples = []
        for _ in range(20):
            await timed(samples, storage.list("bench/put/", limit=1000))
        report(f"list page ({ops} keys)", samples)

        with tempfile.TemporaryDirectory() as folder:
            source = FileStorage(root=folder, fsync=False)
            await source.open()
            for n in range(records):
                await source.put(f"copy/{n:06d}", payload)
            started = time.perf_counter()
            result = await copy_storage(source, storage, prefix="copy/", concurrency=16, verify_checksums=True)
            elapsed = time.perf_counter() - started
            assert result.ok, result
            print(f"{'copy file -> s3 (verified)':<28} {records:>6} recs {records / elapsed:7.0f} records/s "
                  f"({elapsed:.1f} s, checksums included)")
    finally:
        await storage.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ops", type=int, default=300, help="operations per measurement (default 300)")
    parser.add_argument("--records", type=int, default=2000, help="records for the copy (default 2000)")
    args = parser.parse_args()
    endpoint, server = start_moto()
    try:
        asyncio.run(run(endpoint, args.ops, args.records))
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
