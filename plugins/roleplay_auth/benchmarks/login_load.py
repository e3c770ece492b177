"""How long one login takes, and whether logins stall other requests.

Runs the app with uvicorn in a child process on 127.0.0.1 (so the load generator's
threads do not share its interpreter), then measures ``GET /healthz`` latency
alone and while ``--logins`` concurrent password logins run (argon2id at the
configured parameters, hashed in worker threads). Prints the figures.

    /tmp/venv/bin/python plugins/roleplay_auth/benchmarks/login_load.py --logins 40
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

PASSWORD = "a sturdy passphrase 42"


def probe(url: str, stop: threading.Event, out: list[float]) -> None:
    with httpx.Client(base_url=url) as client:
        while not stop.is_set():
            start = time.perf_counter()
            client.get("/healthz")
            out.append(time.perf_counter() - start)
            time.sleep(0.01)


class Server:
    """``uvicorn roleplay_core.app:create_app --factory`` in a child process, memory storage."""

    def __enter__(self) -> Server:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("ROLEPLAY_")}
        env.update({"ROLEPLAY_STORAGE__BACKEND": "memory",
                    "ROLEPLAY_AUTH__THROTTLE__ACCOUNT__MAX_FAILURES": "1000000",
                    "ROLEPLAY_AUTH__THROTTLE__CLIENT__MAX_FAILURES": "1000000"})
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "roleplay_core.app:create_app", "--factory", "--host", "127.0.0.1",
             "--port", str(port), "--log-level", "warning"], env=env, cwd=tempfile.mkdtemp())
        deadline = time.time() + 30
        while True:
            try:
                httpx.get(f"{self.url}/healthz").raise_for_status()
                return self
            except httpx.HTTPError:
                if time.time() > deadline:
                    raise
                time.sleep(0.1)

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(10)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--logins", type=int, default=40)
    args = parser.parse_args()
    with Server() as server:
        with httpx.Client(base_url=server.url) as client:
            client.post("/auth/register", json={"email": "bench@example.com", "password": PASSWORD,
                                                "display_name": "Bench"}).raise_for_status()
        idle: list[float] = []
        stop = threading.Event()
        thread = threading.Thread(target=probe, args=(server.url, stop, idle))
        thread.start()
        time.sleep(1.0)
        stop.set()
        thread.join()

        loaded: list[float] = []
        stop = threading.Event()
        thread = threading.Thread(target=probe, args=(server.url, stop, loaded))
        thread.start()
        logins: list[float] = []

        def login(_: int) -> None:
            with httpx.Client(base_url=server.url, timeout=60) as client:
                start = time.perf_counter()
                client.post("/auth/login", json={"email": "bench@example.com", "password": PASSWORD}
                            ).raise_for_status()
                logins.append(time.perf_counter() - start)

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.logins) as pool:
            list(pool.map(login, range(args.logins)))
        wall = time.perf_counter() - started
        stop.set()
        thread.join()
    print(f"logins: {args.logins} concurrent, wall {wall:.2f} s, {args.logins / wall:.1f} logins/s, "
          f"login latency p50 {pct(logins, 0.5):.0f} ms p95 {pct(logins, 0.95):.0f} ms")
    print(f"/healthz idle:        p50 {pct(idle, 0.5):.1f} ms p95 {pct(idle, 0.95):.1f} ms (n={len(idle)})")
    print(f"/healthz under login: p50 {pct(loaded, 0.5):.1f} ms p95 {pct(loaded, 0.95):.1f} ms "
          f"max {max(loaded) * 1000:.1f} ms (n={len(loaded)}, mean {statistics.mean(loaded) * 1000:.1f} ms)")


if __name__ == "__main__":
    main()
