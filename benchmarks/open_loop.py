"""Open-loop load: chat messages sent on a fixed schedule, latency counted from the scheduled time.

wrk is closed-loop: each connection sends its next request when the last one is answered, so at
32 connections it measures the server saturated (latency is the queue: 32 / throughput). What a
learner feels at a given traffic is the other figure: messages arriving at ``--rate`` per second
whether or not earlier ones were answered. Each of the ``--sessions`` connections (one session
each, keep-alive HTTP/1.1) sends every ``len(sessions) / rate`` seconds, staggered; a message's
latency runs from the moment it was due, so a server that falls behind is charged for the wait
(no coordinated omission). A connection whose previous message is still unanswered sends the
next one as soon as it can, late.

Run by ``serve_paths.py --rates``; on its own::

    python benchmarks/open_loop.py --port 8000 --token T --sessions S1,S2 --rate 100 --seconds 10

It prints one JSON object: sent, ok, the statuses that were not 201, p50/p90/p99/max in ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

HOST = "127.0.0.1"
BODY = json.dumps({"text": "I understand, let me look into the refund for you."}).encode()


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length:
        await reader.readexactly(length)
    return status


async def _connection(port: int, token: str, session: str, start: float, period: float, offset: float,
                      stop: float, latencies: list[float], statuses: dict[int, int]) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    request = (f"POST /chat/sessions/{session}/messages HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
               f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(BODY)}\r\n\r\n").encode() + BODY
    due = start + offset
    try:
        while due < stop:
            wait = due - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(request)
            status = await _read_response(reader)
            latencies.append(time.perf_counter() - due)
            statuses[status] = statuses.get(status, 0) + 1
            due += period
    finally:
        writer.close()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))] if ordered else 0.0


async def run(port: int, token: str, sessions: list[str], rate: float, seconds: float) -> dict[str, object]:
    period = len(sessions) / rate
    start = time.perf_counter() + 0.2
    stop = start + seconds
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    await asyncio.gather(*(
        _connection(port, token, session, start, period, period * n / len(sessions), stop, latencies, statuses)
        for n, session in enumerate(sessions)))
    elapsed = time.perf_counter() - start
    return {
        "rate": rate, "sent": len(latencies), "achieved": round(len(latencies) / elapsed, 1),
        "ok": statuses.get(201, 0), "other_statuses": {str(k): v for k, v in statuses.items() if k != 201},
        "p50_ms": round(percentile(latencies, 50) * 1e3, 2), "p90_ms": round(percentile(latencies, 90) * 1e3, 2),
        "p99_ms": round(percentile(latencies, 99) * 1e3, 2), "max_ms": round(max(latencies, default=0) * 1e3, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--sessions", required=True, help="session ids, comma-separated: one connection each")
    parser.add_argument("--rate", type=float, required=True, help="messages per second, all connections together")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.port, args.token, args.sessions.split(","), args.rate, args.seconds))))


if __name__ == "__main__":
    main()
