"""The roleplay command, run as a real subprocess.

Test home of ``roleplay_core.__main__``, ``roleplay_core.cli``, ``roleplay_core.logs`` (request ids in the access log).
"""

import json
import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

STRONG = "k3Jf9-Qz7Lw2Xv8Rt5Yp1Hn6Bm4Cd0Ae"


def run(*args, env=None, cwd, timeout=60):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("ROLEPLAY_")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "roleplay_core", *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd, timeout=timeout)


def test_plugins_lists_core_and_installed_plugins(tmp_path):
    result = run("plugins", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    assert plugins["core"]["routes"] == ["/healthz", "/readyz", "/plugins", "/openapi.json", "/asyncapi.json", "/docs",
                                         "/docs/{name}"]
    for info in plugins.values():
        assert {"name", "distribution", "version", "enabled", "status", "hooks", "routes"} <= info.keys()


def test_plugins_shows_why_a_plugin_is_off(tmp_path):
    result = run("plugins", "--json", env={"ROLEPLAY_PLUGINS__CHAT__ENABLED": "false"}, cwd=tmp_path)
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    if "chat" not in plugins:
        pytest.skip("roleplay-chat is not installed in this environment")
    assert plugins["chat"]["enabled"] is False and plugins["chat"]["status"] == "disabled in settings"


def test_settings_are_printed_with_secrets_masked(tmp_path):
    result = run("settings", env={"ROLEPLAY_SECURITY__JWT_SECRET": STRONG}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert STRONG not in result.stdout
    body = json.loads(result.stdout.split("\n", 1)[1])
    assert body["security"]["jwt_secret"] == "***"
    assert body["storage"]["backend"] == "file"


def test_check_production_names_each_problem(tmp_path):
    result = run("check", "--env", "production", cwd=tmp_path)
    assert result.returncode == 1
    assert "security.jwt_secret" in result.stderr and "storage.backend" in result.stderr


def test_check_production_passes_with_real_settings(tmp_path):
    (tmp_path / "settings.toml").write_text(
        '[production]\ncors = { allow_origins = ["https://app.example.org"] }\n'
        "[production.storage.file]\nallow_in_production = true\n"
    )
    env = {"ROLEPLAY_SECURITY__JWT_SECRET": STRONG,
           "ROLEPLAY_AUTH__OAUTH_REDIRECT_BASE": "https://api.example.org"}
    result = run("check", "--env", "production", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "production: settings are valid" in result.stdout


def test_storage_check(tmp_path):
    result = run("storage", "check", env={"ROLEPLAY_STORAGE__FILE__ROOT": str(tmp_path / "data")}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert str(tmp_path / "data") in result.stdout
    (tmp_path / "blocker").write_text("")
    result = run("storage", "check", env={"ROLEPLAY_STORAGE__FILE__ROOT": str(tmp_path / "blocker" / "d")},
                 cwd=tmp_path)
    assert result.returncode == 1 and "FAILED" in result.stderr


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_runs_uvicorn_on_the_app_factory(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROLEPLAY_")}
    env["ROLEPLAY_STORAGE__FILE__ROOT"] = str(tmp_path / "data")
    process = subprocess.Popen([sys.executable, "-m", "roleplay_core", "serve", "--port", str(port)],
                               cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    output = process.stdout.read().decode() if process.poll() is not None else "timeout"
                    raise AssertionError(output) from None
                time.sleep(0.2)
        assert response.status_code == 200 and response.json()["status"] == "ready"
        assert response.headers["x-request-id"]
        assert "server" not in response.headers  # uvicorn's "server: uvicorn" is switched off
        assert response.headers["date"]  # HTTP wants a Date from a server with a clock: kept
        assert (tmp_path / "data").is_dir()  # the embedded default: file storage under the data folder
        request_id = "trace-me-42"
        httpx.get(f"http://127.0.0.1:{port}/healthz", headers={"X-Request-ID": request_id}, timeout=5)
    finally:
        process.terminate()
        process.wait(15)
    output = process.stdout.read().decode()
    assert f"[{request_id}]" in output and "/healthz" in output  # request ids in the access log


def test_uvicorn_builds_access_lines_only_where_they_are_written():
    from roleplay_core.cli import access_lines

    assert access_lines("info", "text") and access_lines("debug", "text") and access_lines("trace", "text")
    # Dropped by the level, or replaced by the kernel's own line in json: uvicorn is told not to build them.
    assert not access_lines("warning", "text") and not access_lines("error", "text")
    assert not access_lines("info", "json")


def test_set_disables_a_plugin_and_its_commands(tmp_path):
    listed = run("plugins", "--json", cwd=tmp_path)
    if "auth" not in {p["name"] for p in json.loads(listed.stdout)}:
        pytest.skip("roleplay-auth is not installed in this environment")
    assert run("users", "--help", cwd=tmp_path).returncode == 0
    off = run("--set", "plugins.auth.enabled=false", "users", "--help", cwd=tmp_path)
    assert off.returncode == 2 and "invalid choice: 'users'" in off.stderr
    again = run("users", "--help", "--set", "plugins.auth.enabled=false", cwd=tmp_path)  # after the command too
    assert again.returncode == 2
