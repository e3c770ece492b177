"""How long a filtered ``GET /users/audit`` takes when the filter matches little.

A filter that matches nothing reads up to ``AUDIT_SCAN`` (2,000) events per request before it
answers with ``next_after``: this measures that worst page, on memory and on file storage, with
a log of ``--events`` events (login successes and failures, as a busy server writes them).
Prints the figures.

    /tmp/venv/bin/python plugins/roleplay_auth/benchmarks/audit_filter.py --events 5000
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time

from starlette.testclient import TestClient

from roleplay_core.storage import EventLog
from roleplay_core.testing import make_app

PASSWORD = "a sturdy passphrase 42"
ADMIN = {"auth.bootstrap_admin.email": "root@example.org", "auth.bootstrap_admin.password": PASSWORD}


async def fill(log: EventLog, count: int) -> None:
    for start in range(0, count, 200):
        await asyncio.gather(*(log.append("login.failed", {"email": f"x{n}@example.org", "ip": "127.0.0.1"},
                                          seq=n + 1) for n in range(start, min(count, start + 200))))


def measure(overrides: dict, events: int, runs: int) -> dict[str, float]:
    app = make_app({**ADMIN, **overrides})
    with TestClient(app) as client:
        token = client.post("/auth/login", json={"email": "root@example.org", "password": PASSWORD}).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        last = client.get("/users/audit?limit=200", headers=headers).json()["events"][-1]["seq"]
        log = EventLog(app.state.kernel.storage, "auth/audit")
        client.portal.call(fill, _Offset(log, last), events)
        timings = {}
        for name, query in (("unfiltered page of 50", "limit=50"),
                            ("filter matching nothing (one 2,000-event page)", "type=user.deleted"),
                            ("filter by user, matching nothing", "user=nobody")):
            samples = []
            for _ in range(runs):
                start = time.perf_counter()
                response = client.get(f"/users/audit?{query}", headers=headers)
                samples.append(time.perf_counter() - start)
                assert response.status_code == 200, response.text
            timings[name] = statistics.median(samples) * 1000
        return timings


class _Offset:
    """The log after the events the app wrote itself (the bootstrap admin, its login)."""

    def __init__(self, log: EventLog, after: int) -> None:
        self.log, self.after = log, after

    async def append(self, type: str, data: dict, *, seq: int):
        return await self.log.append(type, data, seq=seq + self.after)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for backend, overrides in (("memory", {"storage.backend": "memory"}),
                                   ("file", {"storage.backend": "file", "storage.file.root": folder})):
            for name, ms in measure(overrides, args.events, args.runs).items():
                print(f"{backend:6} {args.events} events, {name}: median {ms:.0f} ms")


if __name__ == "__main__":
    main()
