"""Races: concurrent messages to one session never leave gaps or duplicates, in one process or several."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from chat_support import FlakyPlugin, build_app, file_app
from roleplay_chat import sessions

from roleplay_core.testing import auth_headers


def check_consistent(stored: list[dict], accepted: list[dict]) -> None:
    """Stored messages are 1..N; every accepted turn is stored exactly once, reply right after message."""
    assert [m["seq"] for m in stored] == list(range(1, len(stored) + 1))
    by_seq = {m["seq"]: m for m in stored}
    learner_seqs = [body["message"]["seq"] for body in accepted]
    assert len(set(learner_seqs)) == len(learner_seqs), "two requests got the same message number"
    for body in accepted:
        seq = body["message"]["seq"]
        assert by_seq[seq]["role"] == "learner" and by_seq[seq]["text"] == body["message"]["text"]
        assert body["reply"]["seq"] == seq + 1 and by_seq[seq + 1]["role"] == "character"
    assert sum(m["role"] == "learner" for m in stored) == len(accepted)


@pytest.mark.anyio
async def test_concurrent_messages_in_one_process(tmp_path):
    plugin = FlakyPlugin()
    plugin.provider.mode = "delayed"  # a 0.4 s reply keeps the turn open while the others arrive
    app = build_app({"chat.model": "flaky", "storage.backend": "file", "storage.file.root": str(tmp_path),
                     "storage.file.fsync": False}, plugins=[plugin])
    kernel = app.state.kernel
    await kernel.start()
    try:
        headers = auth_headers(app, "alice")
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://chat") as client:
            sid = (await client.post("/chat/sessions", json={"scenario_id": "test-quiet"}, headers=headers)).json()["id"]

            async def send(n: int) -> httpx.Response:
                return await client.post(f"/chat/sessions/{sid}/messages", json={"text": f"message {n}"},
                                         headers=headers)

            responses = await asyncio.gather(*(send(n) for n in range(8)))
            statuses = sorted(r.status_code for r in responses)
            assert statuses.count(201) >= 1 and set(statuses) <= {201, 409}
            assert statuses.count(409) >= 1, "the race did not happen"
            for response in responses:
                if response.status_code == 409:
                    # Retry-After is the time left on the holder's lease (6 s, renewed while it works).
                    assert response.json()["code"] == "session_busy"
                    assert 1 <= int(response.headers["Retry-After"]) <= 6
                    assert response.json()["retry_after"] == int(response.headers["Retry-After"])
            accepted = [r.json() for r in responses if r.status_code == 201]
            stored = (await client.get(f"/chat/sessions/{sid}", headers=headers)).json()["messages"]
            check_consistent(stored, accepted)
            # Voice turns (the voice endpoint's path) race with text turns too.
            plugin.provider.mode = "ok"
            results = await asyncio.gather(
                *(send(n) for n in range(8, 12)),
                *(sessions.append_turn(kernel, sid, role="learner", text=f"spoken {n}", voice=True, duration_ms=900)
                  for n in range(4)),
                return_exceptions=True)
            assert not [r for r in results if isinstance(r, Exception)], results
            stored = (await client.get(f"/chat/sessions/{sid}", headers=headers)).json()["messages"]
            assert [m["seq"] for m in stored] == list(range(1, len(stored) + 1))
            assert sum(m["voice"] for m in stored) == 4
    finally:
        await kernel.stop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_server(root: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "CHAT_TEST_ROOT": str(root), "PYTHONPATH": str(Path(__file__).parent)}
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "chat_support:server_app", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_ready(base: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(process.stderr.read().decode())
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError(f"{base} did not start")


def test_two_server_processes_racing_on_one_session(tmp_path):
    """Two uvicorn processes on one file-storage root; threads hammer one session through both."""
    ports = [_free_port(), _free_port()]
    servers = [_start_server(tmp_path, port) for port in ports]
    try:
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        for base, process in zip(bases, servers, strict=True):
            _wait_ready(base, process)
        headers = auth_headers(file_app(tmp_path), "alice")  # same development signing key in every process
        sid = httpx.post(f"{bases[0]}/chat/sessions", json={"scenario_id": "test-quiet"}, headers=headers).json()["id"]
        accepted: list[httpx.Response] = []
        refused: list[httpx.Response] = []
        lock = threading.Lock()
        start = threading.Barrier(6)

        def worker(n: int) -> None:
            with httpx.Client(base_url=bases[n % 2], headers=headers, timeout=30) as client:
                start.wait()
                for k in range(4):
                    while True:  # a client told "busy" sends again, as Retry-After invites (sooner, to race more)
                        response = client.post(f"/chat/sessions/{sid}/messages", json={"text": f"w{n} m{k}"})
                        with lock:
                            (accepted if response.status_code == 201 else refused).append(response)
                        if response.status_code != 409:
                            break
                        time.sleep(0.005 * (1 + n))

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert all(r.status_code == 409 and r.json()["code"] == "session_busy" for r in refused), \
            [r.text for r in refused if r.status_code != 409][:3]
        assert len(refused) > 0, "the requests never raced"
        assert len(accepted) == 6 * 4
        accepted = [r.json() for r in accepted]
        stored = httpx.get(f"{bases[1]}/chat/sessions/{sid}", headers=headers).json()["messages"]
        assert len(stored) == 2 * 24
        check_consistent(stored, accepted)
        assert httpx.get(f"{bases[0]}/chat/sessions/{sid}", headers=headers).json()["messages"] == stored
    finally:
        for process in servers:
            process.terminate()
        for process in servers:
            process.wait(10)
