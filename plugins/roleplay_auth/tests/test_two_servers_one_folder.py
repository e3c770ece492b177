"""Two ``roleplay serve`` processes on one file-storage folder: a change made through one is what
the other answers next, although each keeps the records it read (decision 51's change board)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROLEPLAY = str(Path(sys.executable).with_name("roleplay"))
PASSWORD = "correct horse battery staple 42"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(folder: Path, workdir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROLEPLAY_")}
    env.update({"ROLEPLAY_ENV": "development", "ROLEPLAY_STORAGE__BACKEND": "file",
                "ROLEPLAY_STORAGE__FILE__ROOT": str(folder), "ROLEPLAY_SERVER__LOG_LEVEL": "warning"})
    workdir.mkdir()
    process = subprocess.Popen([ROLEPLAY, "serve", "--host", "127.0.0.1", "--port", str(port)], cwd=workdir,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return process, f"http://127.0.0.1:{port}"


def wait_ready(process: subprocess.Popen, base: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(process.stdout.read().decode() if process.poll() is not None else "no start")
        time.sleep(0.1)


def test_a_change_through_one_server_is_what_the_other_answers_next(tmp_path):
    folder = tmp_path / "data"
    (one, base_one), (two, base_two) = start(folder, tmp_path / "one"), start(folder, tmp_path / "two")
    try:
        wait_ready(one, base_one)
        wait_ready(two, base_two)
        with httpx.Client(base_url=base_one, timeout=30) as first, httpx.Client(base_url=base_two, timeout=30) as second:
            registered = first.post("/auth/register", json={"email": "both@example.org", "password": PASSWORD,
                                                            "display_name": "Name 0"})
            assert registered.status_code == 201, registered.text
            auth = {"Authorization": f"Bearer {registered.json()['access_token']}"}
            for n in range(1, 16):
                assert second.get("/auth/me", headers=auth).json()["display_name"] == f"Name {n - 1}"
                assert second.get("/auth/me", headers=auth).json()["display_name"] == f"Name {n - 1}"  # kept
                # Alternate which server writes: each must see the other's change at once.
                writer, reader = (first, second) if n % 2 else (second, first)
                changed = writer.patch("/users/me", headers=auth, json={"display_name": f"Name {n}"})
                assert changed.status_code == 200, changed.text
                assert reader.get("/auth/me", headers=auth).json()["display_name"] == f"Name {n}"
            assert second.get("/auth/me", headers=auth).status_code == 200
            deleted = first.request("DELETE", "/users/me", headers=auth, json={"current_password": PASSWORD})
            assert deleted.status_code == 204, deleted.text
            assert second.get("/auth/me", headers=auth).status_code == 401  # gone on the other server at once
    finally:
        for process in (one, two):
            process.terminate()
            process.wait(30)
