"""What metrics cost per request served by ``roleplay serve``, counted in instructions.

``serve_paths.py --metrics`` times two server processes, and on this VM two processes of one server
differ by several per cent from run to run: a cost of a few per cent comes out anywhere between +2%
and +13% (docs/decisions.md 72). valgrind's callgrind counts the instructions a process executes,
which does not depend on what else the machine is doing. This runs the real server (``roleplay
serve``, development layer, every installed plugin, file storage in a fresh folder) under callgrind,
once with ``metrics.enabled = false`` and once with ``true``. For each path it warms up, zeroes the
counters, sends ``--requests`` requests one after the other on one keep-alive connection from this
(uncounted) process, dumps the counters and divides: instructions per request, off and on, and the
difference.

An instruction is not a nanosecond (cache misses and branches are not counted), so this is the
cost in work, not in time. Under callgrind the server runs some 50 times slower, so the one-second
flush of recorded figures to prometheus-client comes once per hundred-odd requests instead of once
per tens of thousands: the figure includes more flushing than a real server does, an upper bound.

Needs valgrind (Debian: ``apt-get install valgrind``). Run:

    .venv/bin/python benchmarks/metrics_instructions.py [--paths healthz,me] [--requests 1500] [--rounds 1]
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HOST = "127.0.0.1"
PATHS = {"healthz": "/healthz", "me": "/auth/me"}
WARM_UP = 300


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def dumped_total(folder: str, before: set[str]) -> int:
    """The instruction total of the dump callgrind writes after ``callgrind_control -d``."""
    for _ in range(600):
        new = set(glob.glob(f"{folder}/cg.*.*")) - before
        if new and os.path.getsize(next(iter(new))) > 0:
            time.sleep(1.0)  # callgrind writes the file in pieces
            text = Path(next(iter(new))).read_text()
            found = re.search(r"^(?:summary|totals):\s+(\d+)", text, re.MULTILINE)
            if found:
                return int(found.group(1))
        time.sleep(0.2)
    raise RuntimeError("callgrind wrote no dump")


def instructions_per_request(metrics: bool, paths: list[str], requests: int) -> dict[str, float]:
    root = tempfile.mkdtemp(prefix="roleplay-cg-")
    folder = tempfile.mkdtemp(prefix="roleplay-cg-out-")
    port = free_port()
    env = {**os.environ, "ROLEPLAY_ENV": "development", "ROLEPLAY_STORAGE__BACKEND": "file",
           "ROLEPLAY_STORAGE__FILE__ROOT": root, "ROLEPLAY_SERVER__LOG_LEVEL": "warning",
           "ROLEPLAY_METRICS__ENABLED": "true" if metrics else "false", "PYTHONHASHSEED": "0"}
    roleplay = str(Path(sys.executable).with_name("roleplay"))
    server = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={folder}/cg.%p",
                               roleplay, "serve", "--host", HOST, "--port", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with httpx.Client(base_url=f"http://{HOST}:{port}", timeout=120) as client:
            for _ in range(600):
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.5)
            else:
                raise RuntimeError("the server did not answer /healthz")
            registered = client.post("/auth/register", json={
                "email": f"cg-{secrets.token_hex(4)}@example.org", "password": secrets.token_urlsafe(18),
                "display_name": "Bench"})
            token = registered.json()["access_token"]
            results = {}
            for path in paths:
                headers = {"Authorization": f"Bearer {token}"} if path == "/auth/me" else {}
                for _ in range(WARM_UP):
                    if client.get(path, headers=headers).status_code != 200:
                        raise RuntimeError(f"{path} did not answer 200")
                subprocess.run(["callgrind_control", "-z", str(server.pid)], check=True, capture_output=True)
                for _ in range(requests):
                    client.get(path, headers=headers)
                before = set(glob.glob(f"{folder}/cg.*.*"))
                subprocess.run(["callgrind_control", "-d", str(server.pid)], check=True, capture_output=True)
                results[path] = dumped_total(folder, before) / requests
            return results
    finally:
        server.terminate()
        server.wait(timeout=120)
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--paths", default="healthz,me", help="comma-separated: " + ", ".join(PATHS))
    parser.add_argument("--requests", type=int, default=1500, help="requests counted per path")
    parser.add_argument("--rounds", type=int, default=1, help="servers started per setting")
    args = parser.parse_args()
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        sys.exit("valgrind is not installed (Debian: apt-get install valgrind)")
    paths = [PATHS[name] for name in args.paths.split(",")]
    print(f"roleplay serve under callgrind, {args.requests} requests per path, {args.rounds} round(s)")
    for round_ in range(args.rounds):
        off = instructions_per_request(False, paths, args.requests)
        on = instructions_per_request(True, paths, args.requests)
        for path in paths:
            print(f"round {round_ + 1} {path}: metrics off {off[path]:,.0f}, on {on[path]:,.0f} instructions "
                  f"per request: {on[path] / off[path] - 1:+.2%}", flush=True)


if __name__ == "__main__":
    main()
