"""Benchmark: POST /chat/sessions/{id}/messages against a real uvicorn on loopback.

The server runs as its own process (``uvicorn --factory roleplay_core.app:create_app``,
configured through ROLEPLAY_* environment variables) with FILE storage in a fresh
temporary folder and the built-in ``scripted`` provider. It measures:

1. throughput and latency: ``--clients`` threads, each in its own session, each
   sending ``--messages`` messages; messages per second and p50/p99 latency;
2. growth: the latency of message ``--long`` of one session against message 10 (goal:
   within 1.2x), timed in alternation (see :func:`growth`).

Run:  /tmp/venv/bin/python benchmarks/chat_messages.py [--clients 4] [--messages 200] [--long 1000] [--no-fsync]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import attrs
import httpx

from roleplay_core import script_from_dict, script_to_dict
from roleplay_core.catalog import ScriptCatalog, load_pack_paths
from roleplay_core.storage import FileStorage
from roleplay_core.testing import make_kernel

SCENARIO = "bench-endless-refund"
# Learner lines cycling through on-script and off-script input, so every branch of the engine runs.
LINES = [
    "Hello, how can I help you today?",
    "I'm really sorry, that sounds frustrating.",
    "What happened with the machine?",
    "Could I see the receipt, please?",
    "I can give you a full refund.",
    "It will be back on your card in five business days.",
    "Did you see the match yesterday?",
    "Let me check something in the system.",
    "Would a voucher help?",
    "Is there anything else I can do for you?",
]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def publish_endless_script(root: Path | None, storage: Any = None) -> None:
    """The shipped angry-customer script without end conditions, so a session can run to any length.

    Published in the file storage at ``root``, or in ``storage`` (open) when given.
    """
    import importlib.resources

    starter = importlib.resources.files("roleplay_chat") / "packs" / "starter"
    script = load_pack_paths([starter])["refund-angry-customer"]
    data = script_to_dict(script)
    data["id"] = SCENARIO
    data["translation_group"] = None
    endless = script_from_dict(data)
    endless = attrs.evolve(endless, scripted=attrs.evolve(endless.scripted, end_conditions=()))
    if storage is not None:
        await ScriptCatalog(storage).publish(endless, "1")
        return
    storage = FileStorage(root=root)
    await storage.open()
    await ScriptCatalog(storage).publish(endless, "1")
    await storage.close()


def start_server(root: Path, port: int, fsync: bool) -> subprocess.Popen:
    env = {
        **os.environ,
        "ROLEPLAY_ENV": "development",
        "ROLEPLAY_STORAGE__BACKEND": "file",
        "ROLEPLAY_STORAGE__FILE__ROOT": str(root),
        "ROLEPLAY_STORAGE__FILE__FSYNC": "true" if fsync else "false",
        "ROLEPLAY_CHAT__MODEL": "scripted",
        "ROLEPLAY_CHAT__LIMITS__MESSAGES_PER_MINUTE": "0",
        "ROLEPLAY_CHAT__LIMITS__SESSIONS_PER_DAY": "0",
        "ROLEPLAY_CHAT__LIMITS__TURNS_PER_SESSION": "1000000",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "roleplay_core.app:create_app", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", "--no-access-log"],
        env=env, cwd=root.parent, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def wait_ready(base: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited: {process.stderr.read().decode()}")
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit("server did not become ready")


def new_session(client: httpx.Client) -> str:
    response = client.post("/chat/sessions", json={"scenario_id": SCENARIO})
    response.raise_for_status()
    return response.json()["id"]


def send(client: httpx.Client, session_id: str, n: int) -> float:
    started = time.perf_counter()
    response = client.post(f"/chat/sessions/{session_id}/messages", json={"text": LINES[n % len(LINES)]})
    elapsed = time.perf_counter() - started
    if response.status_code != 201:
        raise SystemExit(f"message {n} failed: {response.status_code} {response.text}")
    return elapsed


def throughput(base: str, headers: dict[str, str], clients: int, messages: int) -> None:
    latencies: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)

    def worker() -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            session_id = new_session(client)
            send(client, session_id, 0)  # warm the connection and the script cache
            barrier.wait()
            mine = [send(client, session_id, n) for n in range(1, messages + 1)]
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    total = len(latencies)
    print(f"throughput: {clients} clients x {messages} messages = {total} messages in {wall:.2f} s "
          f"-> {total / wall:.1f} messages/s")
    print(f"latency:    p50 {percentile(latencies, 50) * 1000:.2f} ms, p99 {percentile(latencies, 99) * 1000:.2f} ms, "
          f"max {max(latencies) * 1000:.2f} ms")


def growth(base: str, headers: dict[str, str], long: int, rounds: int = 20) -> None:
    """Message ``long`` against message 10, measured in alternation so machine noise hits both alike.

    One session is taken to ``long - rounds // 2`` messages. Then, ``rounds`` times: a fresh
    session gets 9 messages and its 10th is timed, and the long session's next message is timed.
    """
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        session_id = new_session(client)
        build = long - rounds // 2
        latencies = [send(client, session_id, n) for n in range(build)]
        tenth: list[float] = []
        late: list[float] = []
        for r in range(rounds):
            fresh = new_session(client)
            for n in range(9):
                send(client, fresh, n)
            tenth.append(send(client, fresh, 9))
            late.append(send(client, session_id, build + r))
        last_seq = client.get(f"/chat/sessions/{session_id}", params={"after_seq": 10**9}).json()["last_seq"]
    ten, thousand = statistics.median(tenth), statistics.median(late)
    ratio = thousand / ten
    print(f"growth:     message 10 of {rounds} fresh sessions, median {ten * 1000:.2f} ms; "
          f"messages {build + 1}-{build + rounds} of one session (last seq {last_seq}), median {thousand * 1000:.2f} ms")
    print(f"            ratio {ratio:.2f}x (goal <= 1.2x: {'met' if ratio <= 1.2 else 'NOT met'})")
    step = max(1, build // 10)
    medians = [f"{statistics.median(latencies[i: i + step]) * 1000:.1f}" for i in range(0, build - step + 1, step)]
    print(f"            building the long session, median ms per {step} messages: {' '.join(medians)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--messages", type=int, default=200, help="messages per client in the throughput run")
    parser.add_argument("--long", type=int, default=1000, help="messages in the growth run's session")
    parser.add_argument("--no-fsync", action="store_true", help="file storage without fsync (faster, less durable)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="chat-bench-") as tmp:
        root = Path(tmp) / "data"
        asyncio.run(publish_endless_script(root))
        port = free_port()
        server = start_server(root, port, fsync=not args.no_fsync)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_ready(base, server)
            token = make_kernel({"storage.backend": "memory"}).tokens.issue("bench-user", ["user"])
            headers = {"Authorization": f"Bearer {token}"}
            print(f"server:     uvicorn (1 worker) on {base}, file storage (fsync {'off' if args.no_fsync else 'on'}) "
                  f"at {root}, chat.model = scripted, {os.cpu_count()} CPUs")
            throughput(base, headers, args.clients, args.messages)
            growth(base, headers, args.long)
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()
