"""What recording metrics costs per request, in one process of the app ``roleplay serve`` builds.

``serve_paths.py --metrics`` compares two server processes, and on this machine two processes of
one server differ by several per cent: the served figure for a cost of a few per cent moves from
run to run (docs/decisions.md 72). Here the app is the one ``roleplay serve`` builds
(``create_app()``: development layer, every installed plugin, file storage in a fresh folder,
``metrics.enabled = true``), driven over ASGI without a network, and recording is switched off and
on between batches of requests in the same process: what differs is only the recording (the
request observer, the storage timing), never the process.

For each path it prints the median CPU microseconds per request with recording off and on, and the
median and quartiles of the per-batch difference. Divide by the served CPU per request that
``serve_paths.py`` prints for the share.

Run:  .venv/bin/python benchmarks/metrics_recording.py [--paths healthz,me] [--batches 40] [--size 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from typing import Any

PATHS = {"healthz": "/healthz", "me": "/auth/me"}


async def call(app: Any, method: str, path: str, body: bytes = b"", headers: tuple = ()) -> list[dict]:
    """One request through the ASGI app; the messages it sent back."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"bench"), (b"content-length", str(len(body)).encode()), *headers],
             "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000)}
    pending = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict] = []

    async def receive() -> dict:
        return pending.pop() if pending else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


async def run(paths: list[str], batches: int, size: int) -> None:
    from roleplay_core import metrics
    from roleplay_core.app import create_app
    from roleplay_core.middleware import KernelMiddleware

    app = create_app()
    startup: asyncio.Queue = asyncio.Queue()
    await startup.put({"type": "lifespan.startup"})
    started: asyncio.Queue = asyncio.Queue()
    lifespan = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}}, startup.get, started.put))
    message = await started.get()
    if message["type"] != "lifespan.startup.complete":
        raise SystemExit(f"the app did not start: {message}")
    json_type = [(b"content-type", b"application/json")]
    account = {"email": "bench@example.com", "password": "correct horse battery staple", "display_name": "Bench"}
    await call(app, "POST", "/auth/register", json.dumps(account).encode(), json_type)
    login = {"email": account["email"], "password": account["password"]}
    answer = await call(app, "POST", "/auth/login", json.dumps(login).encode(), json_type)
    token = json.loads(answer[1]["body"])["access_token"]
    headers = ((b"authorization", b"Bearer " + token.encode()),)

    node = app.middleware_stack
    while not isinstance(node, KernelMiddleware):
        node = node.app
    observer = node.observe
    print(f"{size} requests a batch, {batches} batches a path, recording off and on in turn (order alternated)")
    for name in paths:
        path = PATHS[name]
        answer = await call(app, "GET", path, headers=headers)
        if answer[0]["status"] != 200:
            raise SystemExit(f"GET {path}: {answer[0]['status']}")
        figures: dict[bool, list[float]] = {False: [], True: []}
        for batch in range(batches):
            for recording in ((False, True) if batch % 2 == 0 else (True, False)):
                metrics._on = recording  # what enable() and disable() switch, without flushing
                node.observe = observer if recording else None
                begin = time.process_time()
                for _ in range(size):
                    await call(app, "GET", path, headers=headers)
                figures[recording].append((time.process_time() - begin) / size * 1e6)
        metrics._on, node.observe = True, observer
        extra = [on - off for on, off in zip(figures[True], figures[False], strict=True)]
        q1, _, q3 = statistics.quantiles(extra)
        print(f"GET {path}: off {statistics.median(figures[False]):.2f} us, on {statistics.median(figures[True]):.2f} us "
              f"of CPU per request; recording costs {statistics.median(extra):.2f} us (quartiles {q1:.2f} to {q3:.2f})")
    await startup.put({"type": "lifespan.shutdown"})
    await started.get()
    await lifespan


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paths", default="healthz,me", help="comma-separated: healthz, me")
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--size", type=int, default=5000, help="requests a batch")
    args = parser.parse_args(argv)
    paths = [p for p in args.paths.split(",") if p]
    if not paths or any(p not in PATHS for p in paths) or args.batches < 2 or args.size < 1:
        parser.error(f"--paths from {', '.join(PATHS)}; --batches >= 2; --size >= 1")
    os.environ.setdefault("ROLEPLAY_ENV", "development")
    os.environ["ROLEPLAY_METRICS__ENABLED"] = "true"
    os.environ["ROLEPLAY_STORAGE__BACKEND"] = "file"
    os.environ["ROLEPLAY_STORAGE__FILE__ROOT"] = tempfile.mkdtemp(prefix="roleplay-metrics-bench-")
    os.environ["ROLEPLAY_SERVER__LOG_LEVEL"] = "warning"
    asyncio.run(run(paths, args.batches, args.size))
    return 0


if __name__ == "__main__":
    sys.exit(main())
