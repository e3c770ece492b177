"""Voice relay benchmark: N concurrent calls through ``WS /chat/sessions/{id}/voice`` to a local Live server.

Three processes on loopback:

- the local Gemini server (``roleplay_gemini.testserver``, TLS), answering each learner
  turn with a paced reply (real time: 40 ms of 24 kHz audio every 40 ms);
- the Roleplay app (this process), served by uvicorn with ``chat.model = "gemini"``;
- a load generator (this script with ``--clients``) that opens N voice calls, each
  streaming 48 kHz PCM16 in 20 ms frames at real-time pace: 0.6 s of tone, 0.6 s of
  silence, repeated, and reading everything the relay sends back.

Figures:

- per-frame latency the relay adds, measured inside the relay (``app.state.voice_latency``):
  upstream = a client frame received -> its audio handed to the provider (down-mix,
  48 -> 16 kHz soxr resampling, chunking, buffering, the google-genai send);
  downstream = a provider audio chunk received -> sent to the client (24 -> 48 kHz, buffering,
  the WebSocket send);
- relay memory per call: the app process's RSS with all N calls running minus its RSS
  with the app warm and no call, divided by N (and tracemalloc's Python-heap view with
  ``--tracemalloc``, which slows everything down).

Run: ``.venv/bin/python benchmarks/voice_relay.py --sessions 100 --seconds 12 [--provider openai] [--loop asyncio]
[--set gemini.live.direct_audio=false]``
(the relay runs on the event loop and WebSocket implementation ``roleplay serve`` gets: uvloop when
installed, uvicorn's ``ws="auto"``; ``--loop``/``--ws`` pick others to compare.)
(``--provider openai``: the local OpenAI Realtime server, ``roleplay_openai.testserver``, and
``chat.model = chat.voice.model = "openai"``; upstream then resamples 48 -> 24 kHz.)
(``--phase``: callers start together, each at a random point of the speak-pause cycle by default;
``aligned`` has every call end its turn in the same frame, the worst burst.)
(``--pin``, on by default with 2+ CPUs: the relay on CPU 0 and the load generator and Live server on
CPU 1, as a server has its own cores; ``--pin off`` lets the three share every CPU, as before.)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
import tracemalloc
from typing import Any

import numpy as np

RATE = 48_000
#: The command prefix that puts the load generator and the Live server on their own CPU (--pin).
LOAD_CPU: list[str] = []
FRAME_MS = 20


def rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


# -- the load generator (child process) -------------------------------------------------


def utterance() -> list[bytes]:
    t = np.arange(int(RATE * 0.6)) / RATE
    speech = (np.sin(2 * np.pi * 300 * t) * 0.4 * 32767).astype("<i2").tobytes()
    pcm = speech + bytes(len(speech))
    step = RATE * FRAME_MS // 1000 * 2
    return [pcm[i:i + step] for i in range(0, len(pcm), step)]


async def one_call(url: str, session_id: str, token: str, seconds: float, stats: dict[str, Any],
                   offset: int = 0) -> None:
    import websockets

    frames = utterance()
    frames = frames[offset:] + frames[:offset]  # where in its speak-pause cycle this caller starts
    # No permessage-deflate: PCM barely compresses, and docs/voice.md advises serving voice without it.
    async with websockets.connect(f"{url}/chat/sessions/{session_id}/voice", max_size=None, compression=None) as ws:
        await ws.send(json.dumps({"type": "auth", "token": token}))
        await ws.recv()
        await ws.send(json.dumps({"type": "start", "sample_rate": RATE, "output_sample_rate": RATE}))
        started = json.loads(await ws.recv())
        if started.get("type") != "started":
            stats["errors"].append(started)
            return
        stats["started"] += 1

        async def read() -> None:
            async for message in ws:
                if isinstance(message, bytes):
                    stats["audio_bytes"] += len(message)
                else:
                    frame = json.loads(message)
                    if frame["type"] == "transcript" and frame["final"]:
                        stats["finals"] += 1
                    elif frame["type"] == "error":
                        stats["errors"].append(frame)
                    elif frame["type"] == "stopped":
                        return

        reader = asyncio.create_task(read())
        begin = time.monotonic()
        n = 0
        while time.monotonic() - begin < seconds:
            await ws.send(frames[n % len(frames)])
            n += 1
            stats["frames_sent"] += 1
            # Real-time pace against the call's own clock, so a late loop catches up instead of drifting.
            await asyncio.sleep(max(0.0, begin + n * FRAME_MS / 1000 - time.monotonic()))
        await ws.send(json.dumps({"type": "stop"}))
        try:
            await asyncio.wait_for(reader, 15)
        except TimeoutError:
            reader.cancel()


async def clients(plan: dict[str, Any]) -> dict[str, Any]:
    stats: dict[str, Any] = {"started": 0, "frames_sent": 0, "audio_bytes": 0, "finals": 0, "errors": []}
    offsets = plan.get("offsets") or [0] * len(plan["sessions"])
    calls = [one_call(plan["url"], s, t, plan["seconds"], stats, offset)
             for (s, t), offset in zip(plan["sessions"], offsets, strict=True)]
    results = await asyncio.gather(*calls, return_exceptions=True)
    stats["exceptions"] = [repr(r) for r in results if isinstance(r, BaseException)][:5]
    stats["errors"] = stats["errors"][:5]
    return stats


def client_main() -> None:
    plan = json.loads(sys.stdin.read())
    stats = asyncio.run(clients(plan))
    stats["cpu_s"] = time.process_time()
    print(json.dumps(stats), flush=True)


def machine_busy(since: tuple[int, int] | None = None) -> Any:
    """(busy, total) jiffies of all CPUs from /proc/stat; with ``since``, the busy share since then."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    total, idle = sum(values), values[3] + values[4]
    if since is None:
        return total - idle, total
    return (total - idle - since[0]) / max(1, total - since[1])


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of another process, from /proc."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- the relay (this process) -------------------------------------------------------------


def start_fake_gemini(pace: float, reply_ms: int, provider: str = "gemini") -> tuple[subprocess.Popen, dict[str, Any]]:
    """The provider's local server (``roleplay_gemini.testserver`` or ``roleplay_openai.testserver``)."""
    process = subprocess.Popen([*LOAD_CPU, sys.executable, "-m", f"roleplay_{provider}.testserver", "--pace", str(pace),
                                "--reply-ms", str(reply_ms)], stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    if not line:
        raise SystemExit(f"the local {provider} server did not start")
    return process, json.loads(line)


async def relay_main(args: argparse.Namespace) -> None:
    import uvicorn
    from starlette.testclient import TestClient  # noqa: F401 - imported so its cost is in the baseline

    from roleplay_core.testing import make_app

    fake, gemini_settings = start_fake_gemini(pace=0.04, reply_ms=800, provider=args.provider)
    try:
        settings = {**gemini_settings, "chat.model": args.provider, "chat.voice.model": args.provider,
                    "chat.limits.sessions_per_day": 0,
                    "chat.limits.messages_per_minute": 0, "chat.voice.max_concurrent_per_user": 0,
                    "chat.voice.max_minutes_per_day": 0, "chat.voice.max_minutes_per_session": 0}
        for item in args.set:  # --set gemini.live.direct_audio=false: compare a setting's two values
            key, _, value = item.partition("=")
            try:
                settings[key] = json.loads(value)
            except json.JSONDecodeError:
                settings[key] = value
        app = make_app(settings)
        kernel = app.state.kernel
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", ws=args.ws,
                                ws_max_size=1 << 20, lifespan="on")
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve())
        while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
            await asyncio.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        url = f"ws://127.0.0.1:{port}"

        from roleplay_chat import sessions  # the benchmark may use chat's internals to set up sessions

        published = await kernel.catalog.get("refund-angry-customer")

        async def new_sessions(n: int, prefix: str) -> list[tuple[str, str]]:
            made = []
            for i in range(n):
                user = f"{prefix}-{i}"
                record, _ = await sessions.create_session(kernel, user, published)
                made.append((record.id, kernel.tokens.issue(user, ("user",))))
            return made

        async def run_clients(plan_sessions: list[tuple[str, str]], seconds: float, sample: bool) -> tuple[dict, float]:
            cycle = len(utterance())
            # Callers who start together but are each somewhere else in their speak-pause cycle, as
            # people are; --phase aligned has all of them stop talking in the same 20 ms frame.
            chance = random.Random(7)
            offsets = [0 if args.phase == "aligned" else chance.randrange(cycle) for _ in plan_sessions]
            plan = json.dumps({"url": url, "seconds": seconds, "sessions": plan_sessions, "offsets": offsets})
            child = await asyncio.create_subprocess_exec(*LOAD_CPU, sys.executable, __file__, "--clients",
                                                         stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
            peak = 0.0

            async def sampler() -> None:
                nonlocal peak
                while True:
                    peak = max(peak, rss_mb())
                    await asyncio.sleep(0.1)

            lags: list[float] = []

            async def lag() -> None:
                while True:
                    before = time.perf_counter()
                    await asyncio.sleep(0.01)
                    lags.append((time.perf_counter() - before - 0.01) * 1000)

            sampling = asyncio.create_task(sampler()) if sample else None
            lagging = asyncio.create_task(lag())
            pauses: list[float] = []  # the cyclic garbage collector's pauses while the calls run
            began = [0.0]

            def gc_timer(phase: str, info: dict) -> None:
                if phase == "start":
                    began[0] = time.perf_counter()
                else:
                    pauses.append((time.perf_counter() - began[0]) * 1000)

            import gc

            gc.callbacks.append(gc_timer)
            cpu, fake_cpu, busy = time.process_time(), process_cpu_s(fake.pid), machine_busy()
            out, _ = await child.communicate(plan.encode())
            cpu, fake_cpu = time.process_time() - cpu, process_cpu_s(fake.pid) - fake_cpu
            busy = machine_busy(busy)
            lagging.cancel()
            gc.callbacks.remove(gc_timer)
            if sampling:
                sampling.cancel()
            result = json.loads(out)
            result["relay_cpu_s"] = cpu
            result["fake_cpu_s"] = fake_cpu
            result["machine_busy"] = busy
            result["loop_lag_ms"] = (percentile(lags, 50), percentile(lags, 99), max(lags, default=0))
            result["gc_pauses_ms"] = (len(pauses), sum(pauses), max(pauses, default=0))
            return result, peak

        # Warm up: one call loads every module and fills every cache before the baseline.
        await run_clients(await new_sessions(1, "warm"), 3, sample=False)
        app.state.voice_latency = {}
        calls = await new_sessions(args.sessions, "bench")
        import gc

        gc.collect()
        baseline = rss_mb()
        load_before = os.getloadavg()[0]  # other work on the machine skews latency; say how much there was
        if args.tracemalloc:
            tracemalloc.start()
            traced_before = tracemalloc.get_traced_memory()[0]
        started = time.monotonic()
        top: list[Any] = []
        if args.tracemalloc:
            first = tracemalloc.take_snapshot()

            async def midway() -> None:
                await asyncio.sleep(2 + args.seconds / 2)  # every call is connected and streaming by now
                top.extend(tracemalloc.take_snapshot().compare_to(first, "filename")[:8])

            snapping = asyncio.create_task(midway())
        stats, peak = await run_clients(calls, args.seconds, sample=True)
        wall = time.monotonic() - started
        traced = None
        if args.tracemalloc:
            await snapping
            traced = (tracemalloc.get_traced_memory()[1] - traced_before) / 1024 / 1024
            tracemalloc.stop()
        latency = app.state.voice_latency
        server.should_exit = True
        await serving
    finally:
        fake.terminate()
        fake.wait(10)

    up = [v * 1000 for v in latency.get("in", [])]
    down = [v * 1000 for v in latency.get("out", [])]
    print(f"voice relay ({args.provider}): {args.sessions} concurrent calls, {args.seconds:g} s of 48 kHz speech each, "
          f"20 ms client frames, {os.cpu_count()} CPU(s), relay on {args.loop} (ws {args.ws}), "
          f"{'relay on CPU 0, load generator and Live server on CPU 1' if LOAD_CPU else 'not pinned'}, "
          f"phase {args.phase}, wall {wall:.1f} s, "
          f"load average before/after {load_before:.2f}/{os.getloadavg()[0]:.2f}")
    print(f"  calls started: {stats['started']}/{args.sessions}; frames sent {stats['frames_sent']}; "
          f"final transcripts {stats['finals']}; audio back {stats['audio_bytes'] / 1e6:.1f} MB; "
          f"errors {len(stats['errors'])} {stats['errors'][:2]} exceptions {stats['exceptions'][:2]}")
    print(f"  upstream  (client frame -> provider send), {len(up)} frames: "
          f"p50 {percentile(up, 50):.2f} ms, p99 {percentile(up, 99):.2f} ms, mean {statistics.fmean(up) if up else float('nan'):.2f} ms")
    print(f"  downstream (provider chunk -> client send), {len(down)} frames: "
          f"p50 {percentile(down, 50):.2f} ms, p99 {percentile(down, 99):.2f} ms, mean {statistics.fmean(down) if down else float('nan'):.2f} ms")
    print(f"  CPU seconds over {wall:.1f} s wall: relay {stats['relay_cpu_s']:.1f}, load generator "
          f"{stats['cpu_s']:.1f}, local Live server {stats['fake_cpu_s']:.1f}; all CPUs were "
          f"{stats['machine_busy']:.0%} busy (other work included)")
    audio_seconds = stats["frames_sent"] * FRAME_MS / 1000
    per_call_second = stats["relay_cpu_s"] / audio_seconds * 1000 if audio_seconds else float("nan")
    print(f"  relay CPU per second of call: {per_call_second:.2f} ms -> one core at 100% carries about "
          f"{1000 / per_call_second:.0f} calls (load-independent; the latencies above include waiting for a CPU)")
    print(f"  relay event-loop lag p50/p99/max "
          f"{stats['loop_lag_ms'][0]:.1f}/{stats['loop_lag_ms'][1]:.1f}/{stats['loop_lag_ms'][2]:.1f} ms")
    count, total, longest = stats["gc_pauses_ms"]
    print(f"  relay garbage-collector pauses: {count}, {total:.0f} ms in all, longest {longest:.1f} ms")
    print(f"  relay RSS: baseline {baseline:.1f} MB, peak {peak:.1f} MB -> {(peak - baseline) / args.sessions * 1024:.0f} KB per call")
    if traced is not None:
        print(f"  tracemalloc peak Python heap growth: {traced * 1024 / args.sessions:.0f} KB per call; "
              "largest growth by file mid-run:")
        for stat in top:
            print(f"    {stat.size_diff / 1024 / args.sessions:7.1f} KB/call  {stat.traceback[0].filename}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a setting for the relay's app (dotted key; the value as JSON, else text)")
    parser.add_argument("--provider", choices=("gemini", "openai"), default="gemini",
                        help="the live provider and its local server: gemini (Live, TLS) or openai (Realtime)")
    parser.add_argument("--loop", choices=("auto", "asyncio", "uvloop"), default="auto",
                        help="the relay's event loop; auto: uvloop when installed, as `roleplay serve` (uvicorn) picks")
    parser.add_argument("--ws", default="auto",
                        help="uvicorn's WebSocket implementation; auto, as `roleplay serve` runs (websockets-sansio, ...)")
    parser.add_argument("--pin", choices=("auto", "on", "off"), default="auto",
                        help="the relay on CPU 0, the load generator and the Live server on CPU 1, as a server has "
                             "its own cores (auto: with 2+ CPUs and taskset); off: all share every CPU")
    parser.add_argument("--phase", choices=("random", "aligned"), default="random",
                        help="random: each call starts at its own point of the 1.2 s speak-pause cycle; aligned: "
                             "every call speaks and pauses in step (all turns end in the same frame)")
    parser.add_argument("--clients", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.clients:
        client_main()
        return
    if args.pin == "on" or (args.pin == "auto" and (os.cpu_count() or 1) >= 2 and shutil.which("taskset")):
        os.sched_setaffinity(0, {0})  # before any thread starts: they inherit it
        LOAD_CPU[:] = ["taskset", "-c", "1"]
    loop = args.loop
    if loop == "auto":
        import importlib.util

        loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    args.loop = loop
    if loop == "uvloop":
        import uvloop

        uvloop.run(relay_main(args))
    else:
        asyncio.run(relay_main(args))


if __name__ == "__main__":
    main()
