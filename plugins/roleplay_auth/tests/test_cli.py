"""``roleplay users create`` / ``roleplay users set-role`` as real subprocesses on file storage.

Test home of ``roleplay_auth.cli``, ``roleplay_auth.prune``.
"""

from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from auth_helpers import PASSWORD, bearer, login
from roleplay_auth.refresh import RefreshTokens
from starlette.testclient import TestClient

from roleplay_core import cli
from roleplay_core.testing import make_app

ROLEPLAY = str(Path(sys.executable).with_name("roleplay"))


def run(tmp_path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROLEPLAY_")}
    command = [ROLEPLAY, "--set", f"storage.file.root={tmp_path / 'data'}", "--set", "storage.file.fsync=false",
               "users", *args]
    return subprocess.run(command, input=stdin, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60)


def app_on(tmp_path: Path):
    return make_app({"storage.backend": "file", "storage.file.root": str(tmp_path / "data"),
                     "storage.file.fsync": False})


def main(tmp_path: Path, monkeypatch, capsys, *args: str, stdin: str = "") -> tuple[int, str, str]:
    """``roleplay_core.cli.main(argv)`` in this process, stdin a pipe-like stream (not a terminal)."""
    for key in [k for k in os.environ if k.startswith("ROLEPLAY_")]:
        monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = cli.main(["--set", f"storage.file.root={tmp_path / 'data'}", "--set", "storage.file.fsync=false",
                     "users", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_create_admin_from_stdin_then_set_roles(tmp_path, monkeypatch, capsys):
    # one real subprocess with a pipe on stdin, as a deployment script would run it
    created = run(tmp_path, "create", "--email", "Boss@Example.com", "--role", "admin", stdin=PASSWORD + "\n")
    assert created.returncode == 0, created.stderr
    assert "boss@example.com roles=admin" in created.stdout
    assert PASSWORD not in created.stdout + created.stderr
    code, _, err = main(tmp_path, monkeypatch, capsys, "create", "--email", "boss@example.com", stdin=PASSWORD)
    assert code == 1 and "already exists" in err
    code, _, err = main(tmp_path, monkeypatch, capsys, "create", "--email", "weak@example.com", stdin="short\n")
    assert code == 2 and "at least 10 characters" in err
    code, _, _ = main(tmp_path, monkeypatch, capsys, "create", "--email", "worker@example.com", stdin=PASSWORD + "\n")
    assert code == 0
    code, out, _ = main(tmp_path, monkeypatch, capsys, "set-role", "--email", "worker@example.com", "--role", "scripter")
    assert code == 0 and "roles=scripter" in out
    code, _, err = main(tmp_path, monkeypatch, capsys, "set-role", "--email", "boss@example.com", "--role", "user")
    assert code == 1 and "last admin" in err
    code, _, _ = main(tmp_path, monkeypatch, capsys, "set-role", "--email", "nobody@example.com", "--role", "admin")
    assert code == 1
    with TestClient(app_on(tmp_path)) as client:
        boss = login(client, "boss@example.com")
        assert client.get("/users/me", headers=bearer(boss)).json()["roles"] == ["admin"]
        worker = login(client, "worker@example.com")
        assert client.get("/users/me", headers=bearer(worker)).json()["roles"] == ["scripter"]
        events = client.get("/users/audit", headers=bearer(boss)).json()["items"]
        assert any(e["type"] == "user.roles_changed" and e["data"]["by"] == "cli" for e in events)


def test_create_asks_for_the_password_twice_on_a_terminal(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROLEPLAY_")}
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [ROLEPLAY, "--set", f"storage.file.root={tmp_path / 'data'}", "users", "create", "--email",
         "tty@example.com"], stdin=slave, stdout=slave, stderr=slave, cwd=tmp_path, env=env, start_new_session=True)
    os.close(slave)
    seen = b""
    try:
        for prompt in (b"Password: ", b"Repeat the password: "):
            seen += _read_until(master, prompt)
            time.sleep(0.2)  # let getpass switch echo off (its TCSAFLUSH would drop early input)
            os.write(master, PASSWORD.encode() + b"\n")
        seen += _read_until(master, b"created")
        assert process.wait(60) == 0
    finally:
        process.kill() if process.poll() is None else None
        os.close(master)
    assert b"Password: " in seen and b"Repeat the password: " in seen
    assert PASSWORD.encode() not in seen  # not echoed
    with TestClient(app_on(tmp_path)) as client:
        login(client, "tty@example.com")


def _read_until(fd: int, marker: bytes) -> bytes:
    """Read from the terminal until ``marker`` shows up in what this call read."""
    got = b""
    deadline = time.time() + 30
    while marker not in got:
        if time.time() > deadline:
            raise AssertionError(f"no {marker!r} in {got!r}")
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(fd, 1024)
            except OSError:
                break
            if not chunk:
                break
            got += chunk
    return got


def test_prune_deletes_only_expired_records(tmp_path, monkeypatch, capsys):
    import json as json_

    app = app_on(tmp_path)
    with TestClient(app) as client:
        first = client.post("/auth/register", json={"email": "p@example.com", "password": PASSWORD,
                                                    "display_name": "P"}).json()
        live = login(client, "p@example.com")
        client.post("/auth/login", json={"email": "p@example.com", "password": "wrong password"})
        storage = app.state.kernel.storage
        # age one refresh token and the throttle counter into the past
        keys = client.portal.call(storage.list_all, "auth/refresh/")
        old_key = RefreshTokens.token_key(first["refresh_token"])
        assert old_key in keys
        record = client.portal.call(storage.get, old_key)
        body = json_.loads(record.data)
        body["expires_at"] = 0
        client.portal.call(lambda: storage.put(old_key, json_.dumps(body).encode()))
        counter = client.portal.call(storage.list_all, "auth/throttle/account/")[0]
        stale = {"window_start": 0, "failures": 1, "locked_until": 0}
        client.portal.call(lambda: storage.put(counter, json_.dumps(stale).encode()))
    code, out, _ = main(tmp_path, monkeypatch, capsys, "prune")
    assert code == 0 and "refresh_tokens=1" in out and "throttle=1" in out, out
    with TestClient(app_on(tmp_path)) as client:
        remaining = client.portal.call(client.app.state.kernel.storage.list_all, "auth/refresh/")
        assert old_key not in remaining and len(remaining) == len(keys) - 1
        assert client.post("/auth/refresh", json={"refresh_token": live["refresh_token"]}).status_code == 200
        assert client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]}).status_code == 401
        login(client, "p@example.com")  # nothing a live account needs was deleted
