"""``roleplay serve`` as users run it, beside bare Starlette, on the paths users hit; and cold start.

Two servers on 127.0.0.1 (free ports), each one uvicorn process with one worker:

  bare      ``benchmarks/serve/bare.py``: Starlette, no middleware, the same four paths answering
            small JSON (the ceiling, 1.0x);
  roleplay  the ``roleplay serve`` command: development layer, every installed plugin (entry
            points), file storage in a fresh temporary folder (fsync on, the default), the scripted
            chat engine; ``server.log_level = "warning"`` (so no access-log lines, like bare).
  bare+headers (``--bare-headers``) bare, adding the three headers roleplay sends on every answer.
  roleplay+metrics (``--metrics``) the same with ``metrics.enabled = true``: what metrics cost
            (with ``--restart``: two processes of one server differ by 3-5% on this machine).
  roleplay+s3 (``--s3``) the same on the S3 backend, against moto's S3 server on loopback (run in
            this script's process, one request at a time, as the tests run it): what the S3 path costs.

Paths, each loaded with wrk (``--connections``, 32 by default) for ``--duration`` seconds after a
warm-up, the servers alternated path by path and round by round so drift on a shared machine hits
both alike; the figure is the median over ``--rounds``:

  GET  /healthz                          no storage
  GET  /auth/me                          a token, one stored read (the user)
  GET  /chat/sessions/{id}               a token, the session read (3 turns in it)
  POST /chat/sessions/{id}/messages      one session per connection (wrk -t N -c N), scripted engine;
                                         each POST the next distinct English learner line of the
                                         labelled practices (``--same-text``: one line every time)

It prints requests/s, the ratio to bare, p50/p99, server CPU per request and the CPU ratio
(bare's CPU per request over this server's: what the ratio of requests/s would be with a core to
itself, steadier than requests/s on a busy machine), and counts non-2xx answers as errors; then ``--cold-starts`` times the seconds from starting
``roleplay serve`` to its first 200 on ``/healthz``. Server and wrk are pinned to different cores
with taskset when there are two or more (``--pin``).

Run from the repository root, with the development venv (wrk from ``apt-get install -y wrk``)::

    .venv/bin/python benchmarks/serve_paths.py                    # 5 s per path and server, 2 rounds
    .venv/bin/python benchmarks/serve_paths.py --duration 10 --rounds 3 --metrics
    .venv/bin/python benchmarks/serve_paths.py --paths message --rates 50,100,200   # + open-loop latency
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

HOST = "127.0.0.1"  # the only address this script ever sends load to
ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from chat_messages import SCENARIO, publish_endless_script  # noqa: E402
from kernel_auth_route import _ms  # noqa: E402

PATHS = ("healthz", "me", "session", "message")
LABELS = {"healthz": "GET /healthz", "me": "GET /auth/me", "session": "GET /chat/sessions/{id}",
          "message": "POST /chat/sessions/{id}/messages"}
GOALS = {"healthz": ("ratio", 0.8), "me": ("ratio", 0.5), "message": ("p99", 15.0)}


@dataclass
class Result:
    rps: float
    requests: int
    p50: float
    p99: float
    errors: int
    cpu_us: float
    detail: str = ""  # wrk's own lines about errors, and the statuses that were not 2xx


@dataclass
class Figures:
    runs: dict[tuple[str, str], list[Result]] = field(default_factory=dict)

    def add(self, server: str, path: str, result: Result) -> None:
        self.runs.setdefault((server, path), []).append(result)

    def median(self, server: str, path: str, attr: str) -> float:
        return statistics.median(getattr(r, attr) for r in self.runs[(server, path)])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class Server:
    """One server process (its own session, stopped in ``finally``)."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], port: int, cpu: str | None,
                 log_dir: Path) -> None:
        self.name, self.port = name, port
        if cpu is not None:
            command = ["taskset", "-c", cpu, *command]  # taskset execs: the pid stays the server's
        self.log_path = log_dir / f"{name.replace('+', '-')}-{port}.log"
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)

    def wait_healthy(self, timeout: float = 60.0) -> float:
        """Seconds from the start of the process to its first 200 on /healthz."""
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=1.0) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited early:\n{self.output()}")
                try:
                    if client.get(f"http://{HOST}:{self.port}/healthz").status_code == 200:
                        return time.perf_counter() - self.started
                except httpx.HTTPError:
                    pass
                time.sleep(0.005)
        raise RuntimeError(f"{self.name} did not answer within {timeout:.0f} s:\n{self.output()}")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)  # uvicorn's quick stop (SIGTERM would drain first)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.log.close()


VARIANT_ENV: dict[str, str] = {}  # --variant KEY=VALUE: a third server, roleplay with these settings
BASELINE_ENV: dict[str, str] = {}  # --baseline REV: roleplay running that revision's code
S3_ENV: dict[str, str] = {}  # --s3: a server on the S3 backend (moto on loopback, set up in main)


def roleplay_env(root: Path, metrics: bool, variant: bool = False) -> dict[str, str]:
    env = {
        **os.environ,
        "ROLEPLAY_ENV": "development",
        "ROLEPLAY_STORAGE__BACKEND": "file",
        "ROLEPLAY_STORAGE__FILE__ROOT": str(root),
        "ROLEPLAY_SERVER__LOG_LEVEL": "warning",
        "ROLEPLAY_CHAT__MODEL": "scripted",
        "ROLEPLAY_CHAT__LIMITS__MESSAGES_PER_MINUTE": "0",
        "ROLEPLAY_CHAT__LIMITS__SESSIONS_PER_DAY": "0",
        "ROLEPLAY_CHAT__LIMITS__TURNS_PER_SESSION": "1000000",
    }
    # A server as installed keeps its modules' bytecode: with PYTHONDONTWRITEBYTECODE set (some
    # sandboxes and CI images set it) every start compiles the project's ~120 modules again,
    # about 0.3 s of a cold start that no deployment pays.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if metrics:
        env["ROLEPLAY_METRICS__ENABLED"] = "true"
    if variant:
        env.update(VARIANT_ENV)
    return env


def start_moto_bucket() -> tuple[dict[str, str], object]:
    """moto's S3 server in this process (one request at a time, as the tests run it) and a new bucket.

    Returns the ``ROLEPLAY_STORAGE__*`` variables of a server on it, and the moto server to shut down.
    """
    import uuid

    import boto3
    from chat_s3_requests import start_moto

    endpoint, moto, _ = start_moto()
    bucket = f"bench-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                 aws_secret_access_key="testing").create_bucket(Bucket=bucket)
    env = {"ROLEPLAY_STORAGE__BACKEND": "s3", "ROLEPLAY_STORAGE__S3__BUCKET": bucket,
           "ROLEPLAY_STORAGE__S3__ENDPOINT_URL": endpoint, "ROLEPLAY_STORAGE__S3__REGION": "us-east-1",
           "ROLEPLAY_STORAGE__S3__ACCESS_KEY_ID": "testing", "ROLEPLAY_STORAGE__S3__SECRET_ACCESS_KEY": "testing"}
    return env, moto


async def publish_on_s3() -> None:
    from roleplay_core import Kernel

    overrides = {k.removeprefix("ROLEPLAY_").lower().replace("__", "."): v for k, v in S3_ENV.items()}
    kernel = Kernel.create(env="development", settings_files=[], overrides=overrides)
    await kernel.open()
    try:
        await publish_endless_script(None, kernel.storage)
    finally:
        await kernel.stop()


def start_roleplay(name: str, root: Path, cpu: str | None, log_dir: Path, metrics: bool = False) -> Server:
    roleplay = Path(sys.executable).with_name("roleplay")
    port = free_port()
    env = roleplay_env(root, metrics, variant=name == "roleplay+variant")
    if name == "roleplay+s3":
        env.update(S3_ENV)
    if name == "roleplay@baseline":
        env.update(BASELINE_ENV)
    return Server(name, [str(roleplay), "serve", "--host", HOST, "--port", str(port)], env, port, cpu, log_dir)


def start_bare(cpu: str | None, log_dir: Path, headers: bool = False) -> Server:
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "bare:app", "--app-dir", str(HERE / "serve"), "--host", HOST,
               "--port", str(port), "--workers", "1", "--log-level", "warning", "--no-access-log"]
    if headers:
        return Server("bare+headers", command, {**os.environ, "BARE_HEADERS": "1"}, port, cpu, log_dir)
    return Server("bare", command, {**os.environ}, port, cpu, log_dir)


# -- fixtures on the real server ---------------------------------------------------


def prepare(port: int, connections: int) -> dict[str, object]:
    """A registered user, one session with 3 turns (for GET), one fresh session per connection (for POST)."""
    base = f"http://{HOST}:{port}"
    with httpx.Client(base_url=base, timeout=30) as client:
        password = secrets.token_urlsafe(18)
        response = client.post("/auth/register", json={"email": f"bench-{secrets.token_hex(4)}@example.org",
                                                       "password": password, "display_name": "Bench"})
        if response.status_code != 201:
            raise RuntimeError(f"register: {response.status_code} {response.text}")
        token = response.json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        if client.get("/auth/me").status_code != 200:
            raise RuntimeError("GET /auth/me does not answer 200 with the new token")

        def new_session() -> str:
            created = client.post("/chat/sessions", json={"scenario_id": SCENARIO})
            if created.status_code != 201:
                raise RuntimeError(f"create session: {created.status_code} {created.text}")
            return created.json()["id"]

        read = new_session()
        for text in ("Hello, how can I help you today?", "I am sorry to hear that.", "Let me check the order."):
            sent = client.post(f"/chat/sessions/{read}/messages", json={"text": text})
            if sent.status_code != 201:
                raise RuntimeError(f"message: {sent.status_code} {sent.text}")
        return {"token": token, "read": read, "post": [new_session() for _ in range(connections)]}


# Every wrk thread counts the statuses that are not 2xx; done() prints them ("status 409: 3").
STATUS_LUA = """
local threads = {}
function setup(thread) table.insert(threads, thread) if setup_session then setup_session(thread) end end
bad = {}
response = function(status, headers, body)
  if status >= 300 then bad[status] = (bad[status] or 0) + 1 end
end
function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("bad")) do total[status] = (total[status] or 0) + n end
  end
  for status, n in pairs(total) do io.write(string.format("status %d: %d\\n", status, n)) end
end
"""


#: The line every chat POST sends with ``--same-text`` (the figures before 2026-12-01 13:00 UTC).
SAME_TEXT = "I understand, let me look into the refund for you."


def learner_lines() -> list[str]:
    """Every distinct English learner line of the labelled practices (tests/practices): what people
    type to a character, each said once. The engine's text caches (tokens, concepts) would answer a
    line sent again from memory, which no learner's new message is."""
    from chat_engine import conversations

    return list(dict.fromkeys(line for script, turns in conversations() if script.language == "en" for line in turns))


def lua_script(path: str, fixtures: dict[str, object], directory: Path, lines: list[str] | None = None) -> Path:
    """wrk's script for ``path``; chat POSTs send ``lines`` in turn (each connection from its own
    place in the list), or :data:`SAME_TEXT` every time when ``lines`` is None."""
    token = fixtures["token"]
    if path == "message":
        sessions = ", ".join(f'"{s}"' for s in fixtures["post"])
        bodies = [json.dumps({"text": line}) for line in (lines or [SAME_TEXT])]
        table = ",\n".join(f"[==[{body}]==]" for body in bodies)
        step = max(1, len(bodies) // max(1, len(fixtures["post"])))
        text = (f'local sessions = {{{sessions}}}\nlocal bodies = {{\n{table}\n}}\nlocal n = 0\n'
                'function setup_session(thread)\n  n = n + 1\n'
                '  thread:set("sid", sessions[(n - 1) % #sessions + 1])\n'
                f'  thread:set("at", (n - 1) * {step})\nend\n'
                'request = function()\n'
                '  at = at + 1\n'
                '  return wrk.format("POST", "/chat/sessions/" .. sid .. "/messages", '
                f'{{["Authorization"] = "Bearer {token}", ["Content-Type"] = "application/json"}}, '
                'bodies[(at - 1) % #bodies + 1])\n'
                'end\n' + STATUS_LUA)
    else:
        target = {"healthz": "/healthz", "me": "/auth/me", "session": f"/chat/sessions/{fixtures['read']}"}[path]
        text = (f'request = function()\n  return wrk.format("GET", "{target}", '
                f'{{["Authorization"] = "Bearer {token}"}})\nend\n' + STATUS_LUA)
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / f"{path}.lua"
    script.write_text(text)
    return script


def run_wrk(server: Server, script: Path, path: str, seconds: float, connections: int, cpu: str | None) -> Result:
    threads = connections if path == "message" else 1  # one session per connection: one wrk thread each
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency",
               "--timeout", "5s", "-s", str(script), f"http://{HOST}:{server.port}"]
    if cpu is not None:
        command = ["taskset", "-c", cpu, *command]
    before = server.cpu_seconds()
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=False)
    cpu_used = server.cpu_seconds() - before
    if path == "message":
        time.sleep(0.5)  # turns wrk cut off at the end finish, so the next run finds no session busy (409)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    import re

    out = done.stdout
    total = int(re.search(r"(\d+) requests in", out)[1])
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(non2xx[1]) if non2xx else 0) + (sum(int(n) for n in sock.groups()) if sock else 0)
    detail = "; ".join(line.strip() for line in out.splitlines() if "error" in line.lower() or "status" in line)
    return Result(float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1]), total,
                  _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M)[1]), _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M)[1]),
                  errors, cpu_used / max(1, total) * 1e6, detail)


def checkout(revision: str, folder: Path) -> str:
    """The kernel and every plugin of ``revision`` in ``folder``; returns the PYTHONPATH that runs them.

    The editable installs are path entries from .pth files, which come after PYTHONPATH, so this
    code is imported instead of the working tree's; entry points (plugin names) are the installed ones.
    """
    folder.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return os.pathsep.join([str(folder), *(str(p) for p in sorted((folder / "plugins").iterdir()) if p.is_dir())])


def publish_with_baseline(root: Path, folder: Path) -> None:
    """The endless script as the baseline's code writes it: a script of this revision may carry a field
    the older code rejects (a stored script is read strictly; docs/deployment.md, rolling upgrades)."""
    code = ("import asyncio, sys; from pathlib import Path; import chat_messages; "
            "asyncio.run(chat_messages.publish_endless_script(Path(sys.argv[1])))")
    path = os.pathsep.join([BASELINE_ENV["PYTHONPATH"], str(folder / "benchmarks")])
    subprocess.run([sys.executable, "-c", code, str(root)], env={**os.environ, "PYTHONPATH": path}, check=True)


def run_open_loop(server: Server, fixtures: dict[str, object], rate: float, seconds: float,
                  cpu: str | None) -> dict[str, object]:
    """``open_loop.py`` on the load core: messages due at ``rate`` per second over the fixture sessions."""
    command = [sys.executable, str(HERE / "open_loop.py"), "--port", str(server.port), "--token",
               str(fixtures["token"]), "--sessions", ",".join(fixtures["post"]), "--rate", str(rate),
               "--seconds", str(seconds)]
    if cpu is not None:
        command = ["taskset", "-c", cpu, *command]
    before = server.cpu_seconds()
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"open_loop.py failed ({done.returncode}): {done.stderr}")
    row = json.loads(done.stdout)
    row["cpu_us"] = round((server.cpu_seconds() - before) / max(1, int(row["sent"])) * 1e6, 1)
    time.sleep(0.5)
    return row


def report_open_loop(rows: list[tuple[str, dict[str, object]]], connections: int) -> None:
    print()
    print(f"POST /chat/sessions/{{id}}/messages open-loop on {connections} connections (latency from when each "
          "message was due):")
    print("| server | offered msg/s | achieved msg/s | p50 ms | p90 ms | p99 ms | max ms | server CPU us/msg | not 201 |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, row in rows:
        print(f"| {name} | {row['rate']:g} | {row['achieved']} | {row['p50_ms']} | {row['p90_ms']} | {row['p99_ms']} | "
              f"{row['max_ms']} | {row['cpu_us']} | {row['other_statuses'] or 0} |")


def choose_cpus(pin: str) -> tuple[str | None, str | None]:
    cpus = sorted(os.sched_getaffinity(0))
    if pin == "off" or (pin == "auto" and (len(cpus) < 2 or not shutil.which("taskset"))):
        return None, None
    return str(cpus[0]), ",".join(str(c) for c in cpus[1:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=5.0, help="measured seconds per path and server (5)")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds first (1)")
    parser.add_argument("--rounds", type=int, default=2, help="alternated rounds; medians are reported (2)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (32)")
    parser.add_argument("--paths", default=",".join(PATHS), help=f"which of {','.join(PATHS)}")
    parser.add_argument("--cold-starts", type=int, default=3, help="cold starts of roleplay serve to time (3)")
    parser.add_argument("--metrics", action="store_true", help="also run roleplay with metrics.enabled = true")
    parser.add_argument("--variant", action="append", default=[], metavar="KEY=VALUE",
                        help="also run roleplay with this setting (dotted key), e.g. storage.file.inline_read_bytes=0")
    parser.add_argument("--s3", action="store_true",
                        help="also run roleplay on the S3 backend, against moto's server on loopback in this process")
    parser.add_argument("--rates", default="",
                        help="also send chat messages open-loop at these messages/s (comma-separated, e.g. 50,100,200) "
                             "on --connections sessions of each roleplay server: latency at a given traffic, "
                             "not saturated (benchmarks/open_loop.py)")
    parser.add_argument("--bare-headers", action="store_true",
                        help="also run bare Starlette adding the three headers roleplay sends on every answer "
                             "(Vary: Origin, X-Content-Type-Options, X-Request-ID): their share of the gap")
    parser.add_argument("--baseline", metavar="REV",
                        help="also run roleplay on this git revision's code (git archive into a temporary folder, "
                             "put first on PYTHONPATH), alternated with the others: before and after in one run")
    parser.add_argument("--restart", action="store_true",
                        help="start every server afresh before each round after the first: two processes of "
                             "the same server differ by a few per cent, and this averages that out")
    parser.add_argument("--pin", choices=("auto", "on", "off"), default="auto",
                        help="server and wrk on different cores with taskset (auto: if 2+ cores)")
    parser.add_argument("--same-text", action="store_true",
                        help="every chat POST sends the same line (as before 2026-12-01 13:00 UTC): the engine's "
                             "text caches answer it from memory; by default each POST sends the next distinct "
                             "English learner line of tests/practices")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not on PATH: apt-get install -y wrk")
    if not (0 < args.duration <= 120 and 1 <= args.connections <= 256 and 1 <= args.rounds <= 60):
        parser.error("--duration in (0, 120], --connections in [1, 256], --rounds in [1, 60]")
    paths = [p for p in args.paths.split(",") if p]
    server_cpu, load_cpu = choose_cpus(args.pin)
    for item in args.variant:
        key, _, value = item.partition("=")
        VARIANT_ENV["ROLEPLAY_" + key.upper().replace(".", "__")] = value
    names = ["bare", "roleplay"] + (["bare+headers"] if args.bare_headers else []) \
        + (["roleplay+metrics"] if args.metrics else []) \
        + (["roleplay+variant"] if VARIANT_ENV else []) + (["roleplay+s3"] if args.s3 else []) \
        + (["roleplay@baseline"] if args.baseline else [])
    moto = None
    if args.s3:
        env, moto = start_moto_bucket()
        S3_ENV.update(env)
        asyncio.run(publish_on_s3())
    figures = Figures()
    lines = None if args.same_text else learner_lines()
    if "message" in paths:
        print("chat POSTs send " + ("one line every time (--same-text)" if lines is None else
                                    f"{len(lines):,} distinct learner lines in turn (tests/practices, English)"))
    rates = [float(r) for r in args.rates.split(",") if r]
    open_loop: list[tuple[str, dict[str, object]]] = []
    cold: list[float] = []
    cold_baseline: list[float] = []
    print(f"load: wrk, {args.connections} connections, {args.duration:g} s after {args.warmup:g} s warm-up, "
          f"{args.rounds} round(s); pinning: "
          + (f"server on CPU {server_cpu}, wrk on CPU {load_cpu}" if server_cpu else "none")
          + f"; load average {os.getloadavg()[0]:.2f} before")
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        work = Path(tmp)
        if args.baseline:
            BASELINE_ENV["PYTHONPATH"] = checkout(args.baseline, work / "baseline")
            print(f"roleplay@baseline: the code of {args.baseline} (same installed dependencies)")
        servers: dict[str, Server] = {}
        try:
            roots = {name: work / f"data-{i}" for i, name in enumerate(names)}
            roleplays = [name for name in names if name.startswith("roleplay")]
            for name in roleplays:
                if name == "roleplay@baseline":
                    publish_with_baseline(roots[name], work / "baseline")
                elif name != "roleplay+s3":
                    asyncio.run(publish_endless_script(roots[name]))

            def start(name: str) -> Server:
                if name.startswith("bare"):
                    return start_bare(server_cpu, work, headers=name == "bare+headers")
                return start_roleplay(name, roots[name], server_cpu, work, metrics=name.endswith("metrics"))

            for name in names:
                servers[name] = start(name)
            if VARIANT_ENV:
                print(f"roleplay+variant: {' '.join(f'{k}={v}' for k, v in VARIANT_ENV.items())}")
            for server in servers.values():
                server.wait_healthy()
            fixtures = {name: prepare(servers[name].port, args.connections) for name in roleplays}
            fixtures["bare"] = fixtures["bare+headers"] = {
                "token": "x", "read": "s1", "post": [f"s{i}" for i in range(args.connections)]}
            import importlib.metadata

            installed = sorted(e.name for e in importlib.metadata.entry_points(group="roleplay"))
            print(f"plugins installed (roleplay serves every one): {', '.join(installed)}")
            for round_number in range(args.rounds):
                if args.restart and round_number:
                    # New processes on the same data (the fixtures stay good): each round is a new draw
                    # of whatever makes one process of a server a few per cent faster than another.
                    for name in names:
                        servers[name].stop()
                        servers[name] = start(name)
                    for name in names:
                        servers[name].wait_healthy()
                for path in paths:
                    order = names if round_number % 2 == 0 else list(reversed(names))
                    for name in order:
                        script = lua_script(path, fixtures[name], work / name.replace("+", "-"), lines)
                        if args.warmup > 0:
                            run_wrk(servers[name], script, path, args.warmup, args.connections, load_cpu)
                        figures.add(name, path, run_wrk(servers[name], script, path, args.duration,
                                                        args.connections, load_cpu))
            for rate in rates:
                for name in roleplays:
                    open_loop.append((name, run_open_loop(servers[name], fixtures[name], rate, args.duration,
                                                          load_cpu)))
        finally:
            for server in servers.values():
                server.stop()
            if moto is not None:
                moto.shutdown()
        # With --baseline, the baseline's cold starts alternate with these: a machine's load drifts
        # by more than a startup change between two runs minutes apart. One unmeasured start of each
        # first writes the bytecode an installed server has.
        series = [("cold", cold)] + ([("roleplay@baseline", cold_baseline)] if args.baseline else [])

        def time_start(name: str, run: str) -> float:
            server = start_roleplay(name, work / f"cold-{name.replace('@', '-')}-{run}", server_cpu, work)
            try:
                return server.wait_healthy()
            finally:
                server.stop()

        if args.cold_starts:
            for name, _ in series:
                time_start(name, "warm")
        for n in range(args.cold_starts):
            for name, times in series:
                times.append(time_start(name, str(n)))
    report(figures, names, paths, cold)
    if cold_baseline:
        print(f"cold start of roleplay@baseline ({args.baseline}), alternated with the above: median "
              f"{statistics.median(cold_baseline):.2f} s ({', '.join(f'{c:.2f}' for c in cold_baseline)})")
    if open_loop:
        report_open_loop(open_loop, args.connections)
    if args.json:
        args.json.write_text(json.dumps({
            "runs": {f"{s} {p}": [r.__dict__ for r in rs] for (s, p), rs in figures.runs.items()},
            "open_loop": [{"server": name, **row} for name, row in open_loop],
            "cold_start_s": cold, "cold_start_baseline_s": cold_baseline}, indent=2))
    return 0


def report(figures: Figures, names: list[str], paths: list[str], cold: list[float]) -> None:
    notes: list[str] = []
    print()
    print("| path | server | requests/s | ratio to bare | p50 ms | p99 ms | server CPU us/request | CPU ratio | errors |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for path in paths:
        bare_rps = figures.median("bare", path, "rps")
        bare_cpu = figures.median("bare", path, "cpu_us")
        for name in names:
            rps = figures.median(name, path, "rps")
            errors = sum(r.errors for r in figures.runs[(name, path)])
            if errors:
                notes.append(f"{LABELS[path]} on {name}: " + " | ".join(r.detail for r in figures.runs[(name, path)]))
            print(f"| {LABELS[path]} | {name} | {rps:,.0f} | {rps / bare_rps:.2f}x | "
                  f"{figures.median(name, path, 'p50'):.2f} | {figures.median(name, path, 'p99'):.2f} | "
                  f"{figures.median(name, path, 'cpu_us'):.1f} | {bare_cpu / figures.median(name, path, 'cpu_us'):.2f}x | "
                  f"{errors} |")
    for note in notes:
        print(f"errors: {note}")
    print()
    for path in paths:
        goal = GOALS.get(path)
        if goal is None:
            continue
        kind, target = goal
        if kind == "ratio":
            value = figures.median("roleplay", path, "rps") / figures.median("bare", path, "rps")
            cpu = figures.median("bare", path, "cpu_us") / figures.median("roleplay", path, "cpu_us")
            print(f"goal {LABELS[path]} >= {target}x bare: {value:.2f}x by requests/s "
                  f"({'met' if value >= target else 'NOT met'}), {cpu:.2f}x by CPU per request "
                  f"({'met' if cpu >= target else 'NOT met'}; the steadier figure on a shared machine)")
        else:
            value = figures.median("roleplay", path, "p99")
            print(f"goal {LABELS[path]} p99 <= {target} ms: {value:.2f} ms, {'met' if value <= target else 'NOT met'}")
    if "roleplay+metrics" in names:
        for path in paths:
            plain = figures.median("roleplay", path, "cpu_us")
            metered = figures.median("roleplay+metrics", path, "cpu_us")
            rps = figures.median("roleplay+metrics", path, "rps") / figures.median("roleplay", path, "rps")
            print(f"metrics cost {LABELS[path]}: CPU per request {metered / plain - 1:+.1%}, "
                  f"requests/s {rps - 1:+.1%} (goal <= 5%)")
            print(f"  paired by round: {paired_cost(figures, path)}")
    if cold:
        print(f"cold start of roleplay serve to the first 200 on /healthz: median {statistics.median(cold):.2f} s "
              f"({', '.join(f'{c:.2f}' for c in cold)}); goal <= 1.5 s: "
              f"{'met' if statistics.median(cold) <= 1.5 else 'NOT met'}")


def paired_cost(figures: Figures, path: str, resamples: int = 4000) -> str:
    """What metrics cost, from the rounds paired: each round's two servers ran one after the other, so
    a round's ratio of CPU per request is free of the drift between rounds. The median of those
    ratios, and a 95% interval for it by resampling the rounds (seeded: the same runs print the same
    interval). The goal is shown met when the interval's top is within it."""
    import random

    ratios = [metered.cpu_us / plain.cpu_us - 1 for plain, metered in
              zip(figures.runs[("roleplay", path)], figures.runs[("roleplay+metrics", path)], strict=True)]
    if len(ratios) < 5:
        return f"median {statistics.median(ratios):+.1%} over {len(ratios)} rounds (5 or more give an interval)"
    draw = random.Random(0)
    medians = sorted(statistics.median(draw.choices(ratios, k=len(ratios))) for _ in range(resamples))
    low, high = medians[int(0.025 * resamples)], medians[int(0.975 * resamples) - 1]
    verdict = "met" if high <= 0.05 else "NOT met" if low > 0.05 else "not shown either way"
    return (f"median {statistics.median(ratios):+.1%} of CPU per request over {len(ratios)} rounds, "
            f"95% interval {low:+.1%} to {high:+.1%}; goal <= 5%: {verdict}")


if __name__ == "__main__":
    raise SystemExit(main())
