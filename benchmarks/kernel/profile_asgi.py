"""Per-request cost of each benchmark app with no server and no sockets, plus an optional profile.

Calls each app's ASGI callable directly with a prepared scope, so the figure is the
app's own server time per request (the part the kernel can change); uvicorn's HTTP
parsing and the socket work come on top and are the same for all three apps.

    /tmp/venv/bin/python benchmarks/kernel/profile_asgi.py            # microseconds per request
    /tmp/venv/bin/python benchmarks/kernel/profile_asgi.py --profile kernel   # cProfile, top 25
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import secrets
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("BENCH_JWT_SECRET", secrets.token_urlsafe(48))

import servers  # noqa: E402


def scope_for(token: str) -> dict:
    return {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
        "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 50000), "scheme": "http", "method": "GET",
        "root_path": "", "path": servers.PATH, "raw_path": servers.PATH.encode(), "query_string": b"",
        "headers": [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"bench"), (b"accept", b"*/*"),
                    (b"authorization", f"Bearer {token}".encode())],
    }


async def run(app, token: str, count: int) -> float:
    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    statuses = []

    async def send(message):
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    # lifespan: the kernel opens storage and starts plugins here
    lifespan_queue: asyncio.Queue = asyncio.Queue()
    await lifespan_queue.put({"type": "lifespan.startup"})
    started = asyncio.Event()

    async def l_receive():
        return await lifespan_queue.get()

    async def l_send(message):
        if message["type"].startswith("lifespan.startup"):
            started.set()

    lifespan = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, l_receive, l_send))
    await started.wait()
    for _ in range(200):  # warm caches
        await app(scope_for(token), receive, send)
    begin = time.thread_time()  # CPU time: steadier than wall time on a busy machine
    for _ in range(count):
        await app(scope_for(token), receive, send)
    elapsed = time.thread_time() - begin
    await lifespan_queue.put({"type": "lifespan.shutdown"})
    await lifespan
    assert set(statuses) == {200}, statuses[:5]
    return elapsed / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--profile", choices=("bare", "kernel", "fastapi"))
    args = parser.parse_args()
    from roleplay_core import TokenService

    token = TokenService(secret=os.environ["BENCH_JWT_SECRET"], issuer=servers.ISSUER,
                         audience=servers.AUDIENCE).issue("bench-user")
    names = [args.profile] if args.profile else ["bare", "kernel", "fastapi"]
    for name in names:
        app = getattr(servers, name)()
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            us = asyncio.run(run(app, token, args.count))
            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        else:
            us = asyncio.run(run(app, token, args.count))
        print(f"{name:<8} {us:7.1f} us per request (ASGI app only)")


if __name__ == "__main__":
    main()
