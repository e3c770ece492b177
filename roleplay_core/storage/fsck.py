"""``roleplay storage fsck``: walk the stored data, report what is inconsistent, repair what can be.

The kernel checks what it owns: every record is readable (objects that are not
Roleplay records are *foreign*: reported, never touched) and every event log
(``<prefix>/e/<seq>``, see :mod:`.eventlog`) runs 1..N without gaps, with its
``head`` hint, where it has one, not behind (logs whose owner keeps the count write none). Plugins check their own layouts through the
``check_storage(kernel, fsck)`` hook (chat: session snapshots against their logs,
owners' indexes against sessions). Each finding says what it is and whether it was
repaired; ``--repair`` fixes only what is derived from other data (hints, snapshots,
indexes) and never deletes a record.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

import attrs

from .base import NotFound, Storage, StorageError, StorageUnavailable

_EVENT = re.compile(r"^(?P<log>.+)/e/(?P<seq>\d{12})$")


@attrs.frozen
class Finding:
    key: str
    detail: str
    #: ``problem`` (inconsistent data) or ``foreign`` (not a Roleplay record).
    kind: str = "problem"
    repaired: bool = False


@attrs.define
class Fsck:
    """One run: what was checked, what was found; plugins add to it from ``check_storage``."""

    storage: Storage
    repair: bool = False
    progress: Callable[[str], None] = lambda line: None
    findings: list[Finding] = attrs.Factory(list)
    checked: Counter = attrs.Factory(Counter)
    #: Every key in storage, in order (filled by :func:`run` before the plugins' checks).
    keys: list[str] = attrs.Factory(list)
    #: Each event log's prefix and its last sequence number without a gap.
    logs: dict[str, int] = attrs.Factory(dict)

    def problem(self, key: str, detail: str, *, repaired: bool = False) -> None:
        self.findings.append(Finding(key, detail, "problem", repaired))
        self.progress(f"{'repaired' if repaired else 'PROBLEM'}: {key}: {detail}")

    def foreign(self, key: str, detail: str) -> None:
        self.findings.append(Finding(key, detail, "foreign"))
        self.progress(f"foreign (left alone): {key}: {detail}")

    def under(self, prefix: str) -> list[str]:
        """The keys starting with ``prefix`` (from the walk, no new listing)."""
        import bisect

        start = bisect.bisect_left(self.keys, prefix)
        end = start
        while end < len(self.keys) and self.keys[end].startswith(prefix):
            end += 1
        return self.keys[start:end]

    @property
    def unrepaired(self) -> list[Finding]:
        return [f for f in self.findings if f.kind == "problem" and not f.repaired]

    def summary(self) -> str:
        counts = ", ".join(f"{value} {name}" for name, value in sorted(self.checked.items()))
        problems = [f for f in self.findings if f.kind == "problem"]
        repaired = sum(f.repaired for f in problems)
        foreign = sum(f.kind == "foreign" for f in self.findings)
        return (f"checked {counts}; {len(problems)} problem(s), {repaired} repaired, "
                f"{len(problems) - repaired} left; {foreign} foreign object(s)")


async def run(kernel: Any, *, repair: bool = False, progress: Callable[[str], None] | None = None) -> Fsck:
    """Check the kernel's storage (and, through the hook, every plugin's data)."""
    fsck = Fsck(kernel.storage, repair=repair, progress=progress or (lambda line: None))
    await _walk(fsck)
    await _event_logs(fsck)
    for result in kernel.hook.check_storage(kernel=kernel, fsck=fsck):
        if asyncio.iscoroutine(result):
            await result
    return fsck


async def _walk(fsck: Fsck) -> None:
    """List every key and read every record once (a foreign object fails the read)."""
    cursor = None
    while True:
        page = await fsck.storage.list("", limit=500, cursor=cursor)
        fsck.keys.extend(page.keys)
        fsck.progress(f"listed {len(fsck.keys)} keys")
        if page.cursor is None:
            break
        cursor = page.cursor

    async def read(key: str) -> None:
        try:
            await fsck.storage.get(key)
        except NotFound:
            pass  # deleted since the listing
        except StorageUnavailable as exc:
            if "not a Roleplay record" in str(exc) or "corrupt" in str(exc):
                fsck.foreign(key, str(exc))
            else:
                raise

    for start in range(0, len(fsck.keys), 32):
        await asyncio.gather(*(read(key) for key in fsck.keys[start:start + 32]))
        if (start // 32) % 16 == 15:
            fsck.progress(f"read {min(start + 32, len(fsck.keys))} of {len(fsck.keys)} records")
    fsck.checked["records"] = len(fsck.keys)


async def _event_logs(fsck: Fsck) -> None:
    """Every log is 1..N with no gap, each event names its own number, a head hint is not behind."""
    seqs: dict[str, list[int]] = {}
    for key in fsck.keys:
        match = _EVENT.match(key)
        if match:
            seqs.setdefault(match["log"], []).append(int(match["seq"]))
    for log, numbers in seqs.items():
        numbers.sort()
        last = 0
        for seq in numbers:
            if seq != last + 1:
                fsck.problem(f"{log}/e/{last + 1:012d}",
                             f"event log {log} has a gap: events {last + 1}..{seq - 1} are missing "
                             f"(events {seq}..{numbers[-1]} follow it and are not read)")
                break
            last = seq
        fsck.logs[log] = last
        for seq in numbers[:last]:
            key = f"{log}/e/{seq:012d}"
            try:
                body = json.loads((await fsck.storage.get(key)).data)
                if body.get("seq") != seq or not isinstance(body.get("type"), str):
                    fsck.problem(key, f"event names seq {body.get('seq')!r}, not {seq}, or has no type")
            except (ValueError, AttributeError):
                fsck.problem(key, "event is not JSON")
            except (NotFound, StorageError):
                pass  # reported by the walk
        await _head_hint(fsck, log, last)
    fsck.checked["event logs"] = len(seqs)


async def _head_hint(fsck: Fsck, log: str, last: int) -> None:
    if not last:
        return  # nothing readable to point at (the gap is reported)
    try:
        hint = int(json.loads((await fsck.storage.get(f"{log}/head")).data)["seq"])
    except NotFound:
        return  # no hint is fine: readers gallop from 0, and some owners keep the count themselves
    except (ValueError, KeyError, TypeError, StorageError):
        hint = -1
    if hint >= last:
        return
    detail = "has an unreadable head hint" if hint < 0 else f"head hint {hint} is behind the last event {last}"
    if fsck.repair:
        await fsck.storage.put(f"{log}/head", json.dumps({"seq": last}).encode())
    fsck.problem(f"{log}/head", f"event log {log} {detail}", repaired=fsck.repair)
