"""Bare Starlette vs. the kernel's authenticated JSON route vs. the FastAPI way, in one run.

Three servers, each its own uvicorn process on 127.0.0.1 (a free port), all with the same
uvicorn settings (one worker, the same loop and HTTP implementation, log level warning,
no access log):

  bare     a bare Starlette app, ``GET /me`` answers ``hello`` as text/plain;
  kernel   the real kernel app (``roleplay_core.testing.make_app``, memory storage, no entry
           points, so exactly the kernel middleware stack: request id, CORS, body limit, auth)
           with a plugin route guarded by ``current_principal`` that answers ``roleplay_core.JSON``;
  fastapi  the same route the usual FastAPI way: an async dependency that decodes the JWT with
           pyjwt on every request (exp, iss, aud, required claims, HS256 allow-list) and a
           pydantic response model.

Each server is checked first (200 with the token; 401 without one and with a tampered one,
so the figures are for a route that really authenticates), warmed up, then loaded for
``--duration`` seconds with a fixed number of connections. The load generator is ``wrk``
when it is on PATH, else a bounded asyncio one in this file (fixed connections, a duration
and a request cap); the report says which. Only 127.0.0.1 is ever targeted.

Run from the repository root::

    /tmp/venv/bin/python benchmarks/kernel_auth_route.py            # 10 s per server
    /tmp/venv/bin/python benchmarks/kernel_auth_route.py --duration 5 --rounds 3

Requirements for the benchmark only: ``benchmarks/requirements.txt`` (fastapi, pydantic).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
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

HOST = "127.0.0.1"  # the only address this script ever sends load to
ROOT = Path(__file__).resolve().parent.parent
APP_DIR = Path(__file__).resolve().parent / "kernel"
sys.path.insert(0, str(APP_DIR))

from servers import AUDIENCE, ISSUER, PATH  # noqa: E402

SERVERS = ("bare", "kernel", "fastapi")
MAX_PYTHON_REQUESTS = 5_000_000  # hard cap for the Python load generator, whatever the duration


@dataclass
class Result:
    server: str
    requests_per_s: float
    requests: int
    p50_ms: float | None = None
    p99_ms: float | None = None
    errors: int = 0  # non-2xx answers plus socket errors
    cpu_us: float | None = None  # server CPU time (user + system) per request: steadier than req/s
    rounds: list[float] = field(default_factory=list)


# -- servers -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class Server:
    """One uvicorn subprocess; always stopped by :meth:`stop` (called from ``finally``)."""

    def __init__(self, name: str, args: argparse.Namespace, secret: str, cpu: str | None, log_dir: Path) -> None:
        self.name = name
        self.port = free_port()
        self.log_path = log_dir / f"{name}.log"
        command = [
            sys.executable, "-m", "uvicorn", f"servers:{name}", "--factory",
            "--app-dir", str(APP_DIR),
            "--host", HOST, "--port", str(self.port),
            "--workers", "1", "--loop", args.loop, "--http", args.http,
            "--log-level", "warning", "--no-access-log", "--lifespan", "on",
        ]
        if cpu is not None:
            command = ["taskset", "-c", cpu, *command]  # taskset execs: the pid stays uvicorn's
        self.command = command
        env = {**os.environ, "BENCH_JWT_SECRET": secret, "ROLEPLAY_ENV": "development"}
        if args.token_cache_size is not None:
            env["BENCH_TOKEN_CACHE_SIZE"] = str(args.token_cache_size)
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process has used so far."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")[-4000:]


def http_get(port: int, headers: dict[str, str], timeout: float = 2.0) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 GET of ``PATH`` on 127.0.0.1 (no client library: nothing to skew)."""
    lines = [f"GET {PATH} HTTP/1.1", f"Host: {HOST}:{port}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed = {}
    for line in header_lines:
        key, _, value = line.partition(":")
        parsed[key.strip().lower()] = value.strip()
    return int(status_line.split()[1]), parsed, body


def wait_ready(server: Server, token: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"{server.name} server exited early:\n{server.output()}")
        try:
            http_get(server.port, {"Authorization": f"Bearer {token}"}, timeout=1.0)
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{server.name} server did not answer within {timeout:.0f} s:\n{server.output()}")


def check_server(server: Server, token: str) -> None:
    """Refuse to measure a server that does not answer as its description says."""
    status, headers, body = http_get(server.port, {"Authorization": f"Bearer {token}"})
    if status != 200:
        raise RuntimeError(f"{server.name}: expected 200 with a valid token, got {status}: {body[:200]!r}")
    if server.name == "bare":
        if body != b"hello":
            raise RuntimeError(f"bare: unexpected body {body[:200]!r}")
        return
    if not headers.get("content-type", "").startswith("application/json"):
        raise RuntimeError(f"{server.name}: expected JSON, got {headers.get('content-type')!r}")
    data = json.loads(body)
    if data.get("id") != "bench-user" or list(data.get("roles", [])) != ["user"]:
        raise RuntimeError(f"{server.name}: unexpected body {data!r}")
    if server.name == "kernel" and "x-request-id" not in headers:
        raise RuntimeError("kernel: no X-Request-ID header, is the middleware stack on?")
    at = len(token) - 10  # mid-signature, where every bit of the character counts
    tampered = token[:at] + ("A" if token[at] != "A" else "B") + token[at + 1:]
    for label, extra in (("no token", {}), ("a tampered token", {"Authorization": f"Bearer {tampered}"})):
        status, _, body = http_get(server.port, extra)
        if status != 401:
            raise RuntimeError(f"{server.name}: expected 401 with {label}, got {status}: {body[:200]!r}")


# -- load: wrk -----------------------------------------------------------------

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not match:
        raise ValueError(f"cannot read wrk latency {text!r}")
    return float(match[1]) * _UNITS[match[2]]


def wrk_script(tokens: list[str], directory: Path) -> Path:
    """A wrk Lua script that cycles through ``tokens`` (used when there is more than one)."""
    path = directory / "tokens.lua"
    listed = ",\n".join(f'  "{t}"' for t in tokens)
    path.write_text(
        f"local tokens = {{\n{listed}\n}}\nlocal i = 0\n"
        "request = function()\n"
        "  i = i % #tokens + 1\n"
        f'  return wrk.format("GET", "{PATH}", {{["Authorization"] = "Bearer " .. tokens[i]}})\n'
        "end\n"
    )
    return path


def run_wrk(port: int, tokens: list[str], seconds: float, args: argparse.Namespace, cpu: str | None,
            work_dir: Path) -> Result:
    command = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{max(1, round(seconds))}s", "--latency",
               "--timeout", "5s"]
    if len(tokens) == 1:
        command += ["-H", f"Authorization: Bearer {tokens[0]}"]
    else:
        command += ["-s", str(wrk_script(tokens, work_dir))]
    command.append(f"http://{HOST}:{port}{PATH}")
    if cpu is not None:
        command = ["taskset", "-c", cpu, *command]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    out = done.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])
    total = int(re.search(r"(\d+) requests in", out)[1])
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(non2xx[1]) if non2xx else 0) + (sum(int(n) for n in sock.groups()) if sock else 0)
    return Result("", rps, total, _ms(p50[1]) if p50 else None, _ms(p99[1]) if p99 else None, errors)


# -- load: the bounded Python fallback ----------------------------------------


async def _python_load(port: int, tokens: list[str], seconds: float, connections: int, cap: int) -> Result:
    """Keep-alive HTTP/1.1 on ``connections`` sockets until ``seconds`` pass or ``cap`` requests are done."""
    requests = [
        (f"GET {PATH} HTTP/1.1\r\nHost: {HOST}:{port}\r\nAuthorization: Bearer {t}\r\n\r\n").encode()
        for t in tokens
    ]
    latencies: list[float] = []
    errors = 0
    sent = 0
    deadline = time.perf_counter() + seconds

    async def one_connection(offset: int) -> None:
        nonlocal errors, sent
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            n = offset
            while time.perf_counter() < deadline and sent < cap:
                sent += 1
                started = time.perf_counter()
                writer.write(requests[n % len(requests)])
                n += 1
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head[9:12])
                match = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
                await reader.readexactly(int(match[1]) if match else 0)
                latencies.append((time.perf_counter() - started) * 1000)
                if not 200 <= status < 400:
                    errors += 1
        except (OSError, asyncio.IncompleteReadError):
            errors += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(one_connection(i) for i in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float | None:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] if latencies else None

    return Result("", len(latencies) / elapsed, len(latencies), pct(0.50), pct(0.99), errors)


def run_python(port: int, tokens: list[str], seconds: float, args: argparse.Namespace, cpu: str | None) -> Result:
    if cpu is not None:
        os.sched_setaffinity(0, {int(c) for c in cpu.split(",")})
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    return runner(_python_load(port, tokens, seconds, args.connections, args.max_requests))


# -- the run -------------------------------------------------------------------


def issue_tokens(secret: str, count: int) -> list[str]:
    from roleplay_core import TokenService

    service = TokenService(secret=secret, issuer=ISSUER, audience=AUDIENCE, ttl=3600)
    return [service.issue("bench-user", ("user",)) for _ in range(count)]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of measured load per server (10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of unmeasured load first (2)")
    parser.add_argument("--connections", type=int, default=64, help="open connections (64)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (1)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="measure each server this many times, interleaved; report the median (1)")
    parser.add_argument("--tokens", type=int, default=1,
                        help="distinct tokens to cycle through (1; more exercises the verify cache)")
    parser.add_argument("--token-cache-size", type=int, default=None,
                        help="the kernel's security.token_cache_size (default: its setting, 4096; 0 = no cache)")
    parser.add_argument("--servers", default=",".join(SERVERS), help="which of bare,kernel,fastapi to run")
    parser.add_argument("--tool", choices=("auto", "wrk", "python"), default="auto",
                        help="load generator: wrk if found (auto), or the bounded Python one")
    parser.add_argument("--max-requests", type=int, default=MAX_PYTHON_REQUESTS,
                        help="request cap per measurement for the Python load generator")
    parser.add_argument("--loop", default=None, help="uvicorn --loop (uvloop when installed, else asyncio)")
    parser.add_argument("--http", default=None, help="uvicorn --http (httptools when installed, else h11)")
    parser.add_argument("--pin", choices=("auto", "on", "off"), default="auto",
                        help="pin server and load generator to different cores with taskset (auto: if 2+ cores)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    if args.loop is None:
        args.loop = "uvloop" if _importable("uvloop") else "asyncio"
    if args.http is None:
        args.http = "httptools" if _importable("httptools") else "h11"
    args.servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    unknown = set(args.servers) - set(SERVERS)
    if unknown:
        parser.error(f"unknown servers {sorted(unknown)}; choose from {SERVERS}")
    if args.duration <= 0 or args.duration > 600 or args.connections < 1 or args.connections > 1024:
        parser.error("--duration must be in (0, 600] and --connections in [1, 1024]")
    return args


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def choose_cpus(pin: str) -> tuple[str | None, str | None]:
    cpus = sorted(os.sched_getaffinity(0))
    if pin == "off" or (pin == "auto" and (len(cpus) < 2 or not shutil.which("taskset"))):
        return None, None
    if len(cpus) < 2:
        raise SystemExit("--pin on needs at least 2 cores")
    # The server gets one core to itself, the load generator the rest.
    return str(cpus[0]), ",".join(str(c) for c in cpus[1:])


def measure(args: argparse.Namespace) -> tuple[dict[str, Result], dict[str, str]]:
    tool = args.tool
    if tool == "auto":
        tool = "wrk" if shutil.which("wrk") else "python"
    elif tool == "wrk" and not shutil.which("wrk"):
        raise SystemExit("--tool wrk but wrk is not on PATH (apt-get install -y wrk)")
    server_cpu, load_cpu = choose_cpus(args.pin)
    secret = secrets.token_urlsafe(48)
    tokens = issue_tokens(secret, args.tokens)
    results: dict[str, list[Result]] = {name: [] for name in args.servers}
    notes = {
        "tool": tool if tool == "python" else f"wrk -t{args.threads} -c{args.connections}",
        "load": f"{args.connections} connections, {args.duration:g} s measured after {args.warmup:g} s warm-up, "
                f"{args.rounds} round(s), {args.tokens} distinct token(s)"
                + ("" if args.token_cache_size is None else f", kernel token cache size {args.token_cache_size}"),
        "uvicorn": f"workers=1 loop={args.loop} http={args.http} log-level=warning access-log=off",
        "pinning": f"server on CPU {server_cpu}, load generator on CPU {load_cpu}" if server_cpu
                   else "none (server and load generator share the cores)",
        "machine": f"{os.cpu_count()} CPUs, {platform.machine()}, {platform.system()} {platform.release()}, "
                   f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.2f} before",
    }

    def load(port: int, seconds: float) -> Result:
        if tool == "wrk":
            return run_wrk(port, tokens, seconds, args, load_cpu, Path(work_dir))
        return run_python(port, tokens, seconds, args, load_cpu)

    with tempfile.TemporaryDirectory(prefix="bench-kernel-") as work_dir:
        servers: list[Server] = []
        try:
            for name in args.servers:
                server = Server(name, args, secret, server_cpu, Path(work_dir))
                servers.append(server)
                wait_ready(server, tokens[0])
                check_server(server, tokens[0])
            for _ in range(args.rounds):
                for server in servers:  # interleaved, so drift on a shared machine hits all alike
                    if args.warmup > 0:
                        load(server.port, args.warmup)
                    cpu_before = server.cpu_seconds()
                    result = load(server.port, args.duration)
                    result.cpu_us = (server.cpu_seconds() - cpu_before) / max(1, result.requests) * 1e6
                    result.server = server.name
                    results[server.name].append(result)
                    if server.proc.poll() is not None:
                        raise RuntimeError(f"{server.name} server died under load:\n{server.output()}")
        finally:
            for server in servers:
                server.stop()
    return {name: _median(name, rounds) for name, rounds in results.items()}, notes


def _median(name: str, rounds: list[Result]) -> Result:
    middle = sorted(rounds, key=lambda r: r.requests_per_s)[len(rounds) // 2]
    cpu = statistics.median(r.cpu_us for r in rounds if r.cpu_us is not None) if rounds else None
    return Result(name, middle.requests_per_s, middle.requests, middle.p50_ms, middle.p99_ms,
                  sum(r.errors for r in rounds), cpu, [r.requests_per_s for r in rounds])


def report(results: dict[str, Result], notes: dict[str, str]) -> dict:
    bare = results.get("bare")
    print("kernel_auth_route: GET /me on 127.0.0.1")
    for key, value in notes.items():
        print(f"  {key:<8} {value}")
    print()
    print(f"{'server':<9}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'x bare':>8}{'cpu us/req':>12}"
          "  rounds (req/s)")
    figures = {"notes": notes, "servers": {}}
    for name, r in results.items():
        ratio = r.requests_per_s / bare.requests_per_s if bare else None
        p50 = f"{r.p50_ms:.2f}" if r.p50_ms is not None else "-"
        p99 = f"{r.p99_ms:.2f}" if r.p99_ms is not None else "-"
        cpu = f"{r.cpu_us:.1f}" if r.cpu_us is not None else "-"
        print(f"{name:<9}{r.requests_per_s:>10.0f}{p50:>9}{p99:>9}{r.errors:>8}"
              f"{(f'{ratio:.2f}' if ratio else '-'):>8}{cpu:>12}  {', '.join(f'{x:.0f}' for x in r.rounds)}")
        figures["servers"][name] = {"requests_per_s": r.requests_per_s, "requests": r.requests, "p50_ms": r.p50_ms,
                                    "p99_ms": r.p99_ms, "errors": r.errors, "server_cpu_us_per_request": r.cpu_us,
                                    "rounds": r.rounds, "ratio_to_bare": ratio}
    if bare:
        print()
        for name in ("kernel", "fastapi"):
            if name in results:
                ratio = results[name].requests_per_s / bare.requests_per_s
                goal = "  (goal >= 0.70: " + ("met" if ratio >= 0.7 else "MISSED") + ")" if name == "kernel" else ""
                cpu_ratio = ""
                if results[name].cpu_us and bare.cpu_us:
                    cpu_ratio = f"   (by server CPU per request: {bare.cpu_us / results[name].cpu_us:.2f})"
                print(f"{name}/bare = {ratio:.2f}{goal}{cpu_ratio}")
    if any(r.errors for r in results.values()):
        print("\nWARNING: some requests failed (non-2xx or socket errors); the figures above count only answers.")
    return figures


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so the ``finally`` that stops the servers always runs.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    results, notes = measure(args)
    figures = report(results, notes)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
