"""Several nodes on one bucket: two real ``roleplay serve`` processes serve the same users and data.

Both servers are separate OS processes started with the ``roleplay`` command on
their own ports, configured only through ``ROLEPLAY_*`` environment variables,
sharing one bucket of the moto S3 server. Nothing is shared between them except
that bucket (and the development JWT secret, as a real deployment shares its
secret). The concurrent event-log appends of two processes are in the contract
suite (``test_processes_append_event_log_no_loss_no_duplicates``).

The servers load every installed plugin plus ``probe``, a tiny plugin written
below into the servers' working folder and found through ``PYTHONPATH`` and a
``.dist-info`` entry point, exactly as an installed third-party plugin would be.
It proves sharing with nothing but roleplay-core and roleplay-s3 installed (the
isolation run); the auth and chat tests run where those plugins are installed.
"""

from __future__ import annotations

import concurrent.futures
import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from roleplay_core import TokenService
from roleplay_core.settings import DEV_JWT_SECRET

ROLEPLAY = str(Path(sys.executable).with_name("roleplay"))
PASSWORD = "correct horse battery staple 42"


PROBE_PLUGIN = '''
"""A test plugin: notes written create-only and a counter incremented with compare-and-swap."""
import json

from starlette.routing import Route

from roleplay_core import JSON, NotFound, PreconditionFailed, hookimpl


async def put_note(request):
    data = await request.body()
    try:
        await request.app.state.kernel.storage.put("probe/notes/" + request.path_params["name"], data, if_absent=True)
    except PreconditionFailed:
        return JSON({"created": False}, status_code=409)
    return JSON({"created": True}, status_code=201)


async def get_note(request):
    try:
        record = await request.app.state.kernel.storage.get("probe/notes/" + request.path_params["name"])
    except NotFound:
        return JSON({"found": False}, status_code=404)
    return JSON({"text": record.data.decode(), "pid": __import__("os").getpid()})


async def increment(request):
    storage = request.app.state.kernel.storage
    while True:
        try:
            record = await storage.get("probe/counter")
            value, version = json.loads(record.data), record.version
        except NotFound:
            value, version = 0, None
        try:
            if version is None:
                await storage.put("probe/counter", json.dumps(value + 1).encode(), if_absent=True)
            else:
                await storage.put("probe/counter", json.dumps(value + 1).encode(), if_version=version)
            return JSON({"value": value + 1})
        except PreconditionFailed:
            continue


@hookimpl
def register_routes(kernel):
    return [
        Route("/probe/notes/{name}", put_note, methods=["PUT"]),
        Route("/probe/notes/{name}", get_note, methods=["GET"]),
        Route("/probe/counter", increment, methods=["POST"]),
    ]
'''


def install_probe_plugin(folder: Path) -> None:
    """Write the probe plugin as an importable module with an entry point in group ``roleplay``."""
    (folder / "rp_nodes_probe.py").write_text(PROBE_PLUGIN)
    dist = folder / "rp_nodes_probe-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: rp-nodes-probe\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[roleplay]\nprobe = rp_nodes_probe\n")


def needs(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed in this environment; test_probe_* cover sharing without it")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, name: str, env: dict[str, str], cwd: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = cwd / f"{name}.log"
        self.process = subprocess.Popen(
            [ROLEPLAY, "serve", "--port", str(self.port)],
            cwd=cwd, env=env, stdout=self.log.open("wb"), stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited with {self.process.returncode}:\n{self.log.read_text()}")
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"server not ready in {timeout}s:\n{self.log.read_text()}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


@pytest.fixture(scope="module")
def servers(moto_s3, tmp_path_factory) -> Iterator[tuple[Server, Server]]:
    bucket = moto_s3.create_bucket()
    cwd = tmp_path_factory.mktemp("nodes")  # no settings.toml: only the environment below configures them
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ROLEPLAY_", "AWS_"))}
    env.update(moto_s3.env(bucket, **{"storage.s3.prefix": "shared"}))
    env["ROLEPLAY_SERVER__LOG_LEVEL"] = "warning"
    install_probe_plugin(cwd)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(cwd), env.get("PYTHONPATH")]))
    pair = (Server("a", env, cwd), Server("b", env, cwd))
    try:
        for server in pair:
            server.wait_ready()
        yield pair
    finally:
        for server in pair:
            server.stop()


def test_both_servers_are_ready_on_the_same_bucket(servers):
    backends = set()
    # the checks are for admins: a token signed with the development secret both servers share
    admin = TokenService(secret=DEV_JWT_SECRET).issue("root", ("admin",))
    for server in servers:
        response = httpx.get(server.url + "/readyz", headers={"Authorization": f"Bearer {admin}"})
        assert response.status_code == 200, response.text
        backends.add(response.json()["checks"]["storage"]["backend"])
    assert len(backends) == 1 and backends.pop().startswith("s3 bucket")
    assert servers[0].process.pid != servers[1].process.pid


def test_probe_note_written_on_one_server_is_read_on_the_other(servers):
    a, b = servers
    name = f"note-{os.urandom(4).hex()}"
    assert httpx.get(f"{b.url}/probe/notes/{name}").status_code == 404
    assert httpx.put(f"{a.url}/probe/notes/{name}", content=b"written by A").status_code == 201
    read = httpx.get(f"{b.url}/probe/notes/{name}")
    assert read.status_code == 200 and read.json() == {"text": "written by A", "pid": b.process.pid}
    assert httpx.put(f"{b.url}/probe/notes/{name}", content=b"B tries too").status_code == 409
    assert httpx.get(f"{a.url}/probe/notes/{name}").json()["text"] == "written by A"


def test_probe_counter_incremented_on_both_servers_at_once_loses_nothing(servers):
    """Compare-and-swap across two server processes: 60 increments from 4 clients at once, none lost."""
    with httpx.Client(timeout=60) as client, concurrent.futures.ThreadPoolExecutor(4) as pool:
        start = client.post(servers[0].url + "/probe/counter").json()["value"]
        urls = [servers[n % 2].url + "/probe/counter" for n in range(60)]
        values = list(pool.map(lambda url: client.post(url).json()["value"], urls))
        final = client.post(servers[1].url + "/probe/counter").json()["value"]
    assert sorted(values) == list(range(start + 1, start + 61))  # every increment saw its own value
    assert final == start + 61


def test_user_registered_on_one_server_logs_in_on_the_other(servers):
    needs("roleplay_auth")
    a, b = servers
    email = f"nodes-{os.urandom(4).hex()}@example.com"
    registered = httpx.post(a.url + "/auth/register", json={"email": email, "password": PASSWORD,
                                                           "display_name": "Node Tester"})
    assert registered.status_code == 201, registered.text
    user_id = registered.json()["user"]["id"]

    login = httpx.post(b.url + "/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    token = login.json()["access_token"]
    me = httpx.get(a.url + "/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and json.dumps(me.json()).count(user_id) >= 1

    wrong = httpx.post(a.url + "/auth/login", json={"email": email, "password": "not the password at all"})
    assert wrong.status_code == 401


def test_racing_registrations_of_one_email_on_two_servers_create_one_account(servers):
    """Create-only writes decide across processes: exactly one server creates the account."""
    needs("roleplay_auth")
    email = f"race-{os.urandom(4).hex()}@example.com"
    body = {"email": email, "password": PASSWORD, "display_name": "Racer"}
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        codes = sorted(pool.map(lambda s: httpx.post(s.url + "/auth/register", json=body, timeout=30).status_code,
                                [*servers, *servers]))
    assert codes == [201, 409, 409, 409], codes


def test_chat_session_started_on_one_server_continues_on_the_other(servers):
    needs("roleplay_auth")
    needs("roleplay_chat")
    a, b = servers
    email = f"chat-{os.urandom(4).hex()}@example.com"
    registered = httpx.post(b.url + "/auth/register", json={"email": email, "password": PASSWORD,
                                                           "display_name": "Chatter"})
    assert registered.status_code == 201, registered.text
    headers = {"Authorization": f"Bearer {registered.json()['access_token']}"}

    scenarios = httpx.get(a.url + "/chat/scenarios", headers=headers)
    assert scenarios.status_code == 200 and scenarios.json()["items"], scenarios.text
    created = httpx.post(a.url + "/chat/sessions", headers=headers,
                         json={"scenario_id": scenarios.json()["items"][0]["id"]}, timeout=30)
    assert created.status_code == 201, created.text
    session_id = created.json()["id"]

    said = "Hello, I would like some help with my order please."
    posted = httpx.post(f"{b.url}/chat/sessions/{session_id}/messages", headers=headers, json={"text": said},
                        timeout=30)
    assert posted.status_code == 201, posted.text

    seen = httpx.get(f"{a.url}/chat/sessions/{session_id}", headers=headers)
    assert seen.status_code == 200, seen.text
    texts = [m["text"] for m in seen.json()["messages"]]
    assert said in texts
    assert len(texts) >= 2  # the character answered too, and server A reads that from the bucket
    listed = httpx.get(f"{b.url}/chat/sessions", headers=headers)
    assert [item["id"] for item in listed.json()["items"]] == [session_id]
