"""The stored-read path: what one small record read costs on file storage, by way of reading it.

The record is a user account of the size ``GET /auth/me`` reads (about 600 bytes). Options,
each run in alternation in one process (``--rounds``), with ``--concurrency`` reads in flight
like 32 connections would have:

  thread   ``asyncio.to_thread`` per read (what FileStorage did before issue 16);
  inline   the read on the event loop (open, fstat, read, close), thread only above
           ``storage.file.inline_read_bytes``: what FileStorage does now;
  cached   a read cache that stays right with several processes on one storage: each read
           ``stat``s the file on the loop and returns the cached record while inode, size and
           mtime_ns are unchanged (writes replace the file, so a new inode); read in a thread
           otherwise (measured, not shipped: see docs/decisions.md 32);
  board    what FileStorage does now: the record kept in memory and returned while the root's
           change board (shared memory, ``roleplay_core/storage/changes.py``) shows no process
           changed it, else read as ``inline``;
  board+w  the same while another storage on the folder (as another process would) rewrites the
           record after every ``--write-every`` reads: the reads after each write go to the file.

It prints CPU microseconds per read (process time, steady on a busy machine) and reads/s.
The third option named in the issue, profile fields in the token, needs no read at all but is
not safe for ``/auth/me`` (see docs/decisions.md): it is not measured here.

Run:  .venv/bin/python benchmarks/stored_read.py [--reads 20000] [--rounds 3] [--concurrency 32] [--write-every 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

from roleplay_core.storage import FileStorage
from roleplay_core.storage.base import Record


class CachedFileStorage(FileStorage):
    """FileStorage with a stat-validated read cache (measured here, not shipped)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._cache: dict[Path, tuple[tuple[int, int, int], Record]] = {}

    async def _get(self, key: str) -> Record:
        path = self._path(key)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return await super()._get(key)
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        hit = self._cache.get(path)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        record = await asyncio.to_thread(self._read, path)
        if record is not None:
            self._cache[path] = (stamp, record)
            return record
        return await super()._get(key)


def rewrite_now(writer: FileStorage, key: str, value: bytes) -> None:
    """What another process's put does to the folder and the board, done here without yielding,
    so its CPU can be told apart from the reads'."""
    with writer._locked(key) as slot:
        writer._change(slot, lambda: writer._write(writer._path(key), value))


async def measure(storage: FileStorage, key: str, reads: int, concurrency: int,
                  rewrite: tuple[FileStorage, bytes, int] | None = None) -> tuple[float, float]:
    """CPU us per read and reads/s; with ``rewrite`` (writer, value, every), the CPU of the
    writer's puts (another process's, in a real deployment) is left out of the figure."""
    per_task = reads // concurrency
    done_reads = 0
    writing = 0.0

    async def worker() -> None:
        nonlocal done_reads, writing
        for _ in range(per_task):
            await storage.get(key)
            done_reads += 1
            if rewrite is not None and done_reads % rewrite[2] == 0:
                started = time.process_time()
                rewrite_now(rewrite[0], key, rewrite[1])
                writing += time.process_time() - started

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    cpu, wall = time.process_time() - cpu - writing, time.perf_counter() - wall
    done = per_task * concurrency
    return cpu / done * 1e6, done / wall


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-read-") as tmp:
        options = {
            "thread": FileStorage(root=tmp, fsync=False, read_cache_bytes=0),
            "inline": FileStorage(root=tmp, fsync=False, read_cache_bytes=0),
            "cached": CachedFileStorage(root=tmp, fsync=False, read_cache_bytes=0),
            "board": FileStorage(root=tmp, fsync=False),
            "board+w": FileStorage(root=tmp, fsync=False),
        }
        options["thread"].inline_read_bytes = 0
        options["cached"].inline_read_bytes = 0
        writer = FileStorage(root=tmp, fsync=False)  # "another process": its own memory, the same board
        for storage in [*options.values(), writer]:
            await storage.open()
        key = "auth/users/u-bench"
        value = b'{"id":"u-bench","email":"bench@example.org",' + b'"x":"' + b"a" * 500 + b'"}'
        await writer.put(key, value)
        figures: dict[str, list[tuple[float, float]]] = {name: [] for name in options}
        for storage in options.values():  # warm up
            await measure(storage, key, 2000, args.concurrency)
        for _ in range(args.rounds):
            for name, storage in options.items():
                rewrite = (writer, value, args.write_every) if name == "board+w" else None
                figures[name].append(await measure(storage, key, args.reads, args.concurrency, rewrite))
    print(f"{args.reads} reads of a 600-byte record, {args.concurrency} in flight, {args.rounds} rounds "
          f"(medians); load average {os.getloadavg()[0]:.2f}")
    base = statistics.median(cpu for cpu, _ in figures["thread"])
    for name, runs in figures.items():
        cpu = statistics.median(c for c, _ in runs)
        rate = statistics.median(r for _, r in runs)
        print(f"  {name:7} {cpu:7.1f} us CPU per read ({cpu / base:.2f}x thread)  {rate:9,.0f} reads/s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reads", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--write-every", type=int, default=10, help="board+w: a write by another storage every N reads")
    asyncio.run(main(parser.parse_args()))
