"""Copy every record from one storage backend to another: resumable, verified.

Used by ``roleplay storage copy --from file --to s3`` (and any other pair of
registered backends). It only uses the public :class:`Storage` contract, so it
works for backends that do not exist yet.

* **Versions.** Each backend mints its own version tokens, so the destination
  gives every copied record a fresh version. That keeps their meaning: a
  compare-and-swap against the destination works with the versions it hands
  out, and a version from the source (an old ``ETag`` a client still holds)
  fails the condition there, which makes the client re-read, as after any
  other write.
* **Resuming.** After each page of keys the state file records the listing
  cursor of the next page and the counts so far (written to a temp file and
  renamed, so a crash leaves the old state or the new one). A rerun with the
  same state file continues from there; the page that was in flight when the
  copy stopped is compared key by key and records already identical at the
  destination are skipped. If the source no longer accepts the saved cursor,
  the copy restarts from the first key with those comparisons on. A rerun after
  a finished copy whose verification failed goes over every key the same way.
* **Verification.** At the end both sides are listed: the copy succeeds only
  when the key counts match and no key is missing or extra; with
  ``verify_checksums`` every record's bytes are compared as well.

Run it while nothing writes to the source (stop the servers, or accept that
records written during the copy show up as differences in the verification).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import attrs

from .base import NotFound, Storage, StorageError

STATE_VERSION = 1
#: How many mismatching keys a result keeps for the report.
SAMPLE = 20


class CopyError(StorageError):
    """The copy cannot start or continue (bad state file, same backend on both sides...)."""


@attrs.define
class CopyState:
    """What a copy has done so far; saved as JSON after every page."""

    source: str
    destination: str
    prefix: str
    cursor: str | None = None
    copied: int = 0
    skipped: int = 0
    vanished: int = 0
    pages: int = 0
    #: Every page was copied but the verification failed; a rerun repairs by comparing every key.
    finished: bool = False

    def to_json(self) -> str:
        return json.dumps({"format": STATE_VERSION, **attrs.asdict(self)}, indent=2)

    @classmethod
    def load(cls, path: Path) -> CopyState:
        try:
            raw = json.loads(path.read_text())
            if raw.pop("format", None) != STATE_VERSION:
                raise ValueError("unknown format")
            return cls(**raw)
        except (OSError, ValueError, TypeError) as exc:
            raise CopyError(f"cannot read the copy state file {path}: {exc}; remove it or pass --restart") from exc

    def save(self, path: Path) -> None:
        from .file import make_private_dirs

        make_private_dirs(path.parent)
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "w") as handle:
            handle.write(self.to_json())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)


@attrs.frozen
class CopyResult:
    """The outcome of :func:`copy_storage`; ``ok`` is what the exit code reports."""

    source_count: int
    destination_count: int
    copied: int
    skipped: int
    vanished: int
    resumed: bool
    missing: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()
    different: tuple[str, ...] = ()
    checksums_verified: bool = False

    @property
    def ok(self) -> bool:
        return self.source_count == self.destination_count and not (self.missing or self.extra or self.different)


Progress = Callable[[int, int], None]


async def count_keys(storage: Storage, prefix: str = "", *, page_size: int = 1000) -> int:
    """How many keys ``storage`` holds under ``prefix`` (pages through the listing, keeps nothing)."""
    total = 0
    cursor = None
    while True:
        page = await storage.list(prefix, limit=page_size, cursor=cursor)
        total += len(page.keys)
        if page.cursor is None:
            return total
        cursor = page.cursor


async def copy_storage(
    source: Storage,
    destination: Storage,
    *,
    prefix: str = "",
    state_path: str | os.PathLike | None = None,
    restart: bool = False,
    concurrency: int = 8,
    page_size: int = 500,
    skip_identical: bool = False,
    verify_checksums: bool = False,
    progress: Progress | None = None,
) -> CopyResult:
    """Copy every record under ``prefix`` from ``source`` to ``destination``, then verify.

    Both backends must be open. ``state_path`` makes the copy resumable (see the
    module docstring); ``restart`` ignores an existing state file.
    ``skip_identical`` compares every key before writing it (an incremental
    re-copy onto a destination that already holds most records).
    ``progress(done, total)`` is called as records are handled.
    """
    if concurrency < 1 or page_size < 1:
        raise ValueError("concurrency and page_size must be at least 1")
    if source.describe() == destination.describe():
        raise CopyError(f"source and destination are the same storage: {source.describe()}")
    path = Path(state_path) if state_path is not None else None
    state = CopyState(source.describe(), destination.describe(), prefix)
    resumed = False
    if path is not None and path.exists() and not restart:
        saved = CopyState.load(path)
        if (saved.source, saved.destination, saved.prefix) != (state.source, state.destination, state.prefix):
            raise CopyError(
                f"the state file {path} belongs to another copy ({saved.source} -> {saved.destination}, "
                f"prefix {saved.prefix!r}); pass --restart or another --state"
            )
        state, resumed = saved, True
        if state.finished:
            # A full pass already ran and the verification failed: go over everything again,
            # writing only what differs.
            state = CopyState(state.source, state.destination, state.prefix)
            skip_identical = True

    total = await count_keys(source, prefix)
    done = state.copied + state.skipped + state.vanished
    if progress:
        progress(done, total)
    limit = asyncio.Semaphore(concurrency)
    # The page in flight when a copy stopped may be partly written: compare before writing it.
    compare = skip_identical or resumed

    async def copy_one(key: str, check: bool) -> str:
        async with limit:
            try:
                record = await source.get(key)
            except NotFound:
                return "vanished"  # deleted while we copied; the verification reports it if it matters
            if check:
                try:
                    if (await destination.get(key)).data == record.data:
                        return "skipped"
                except NotFound:
                    pass
            await destination.put(key, record.data)
            return "copied"

    cursor = state.cursor
    while True:
        try:
            page = await source.list(prefix, limit=page_size, cursor=cursor)
        except ValueError:
            if cursor is None:
                raise
            # The source no longer accepts the saved cursor (an expired S3 token): rescan, comparing.
            cursor, compare = None, True
            continue
        tasks = [asyncio.ensure_future(copy_one(key, compare)) for key in page.keys]
        try:
            for finished in asyncio.as_completed(tasks):
                outcome = await finished
                if outcome == "copied":
                    state.copied += 1
                elif outcome == "skipped":
                    state.skipped += 1
                else:
                    state.vanished += 1
                done += 1
                if progress:
                    progress(done, max(total, done))
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        compare = skip_identical
        state.cursor = page.cursor
        state.pages += 1
        state.finished = page.cursor is None
        if path is not None:
            state.save(path)
        if state.finished:
            break
        cursor = page.cursor

    result = await verify_copy(source, destination, prefix, checksums=verify_checksums, concurrency=concurrency)
    result = attrs.evolve(result, copied=state.copied, skipped=state.skipped, vanished=state.vanished, resumed=resumed)
    if path is not None and result.ok:
        path.unlink(missing_ok=True)  # a finished copy has nothing to resume
    return result


async def verify_copy(
    source: Storage, destination: Storage, prefix: str = "", *, checksums: bool = False, concurrency: int = 8
) -> CopyResult:
    """Compare the keys (and with ``checksums`` the bytes) of both sides under ``prefix``."""
    source_keys = await source.list_all(prefix)
    destination_keys = await destination.list_all(prefix)
    source_set, destination_set = set(source_keys), set(destination_keys)
    missing = sorted(source_set - destination_set)
    extra = sorted(destination_set - source_set)
    different: list[str] = []
    if checksums:
        limit = asyncio.Semaphore(concurrency)

        async def digest(storage: Storage, key: str) -> str | None:
            async with limit:
                try:
                    return hashlib.sha256((await storage.get(key)).data).hexdigest()
                except NotFound:
                    return None

        common = sorted(source_set & destination_set)
        for start in range(0, len(common), 256):
            chunk = common[start : start + 256]
            left = await asyncio.gather(*(digest(source, k) for k in chunk))
            right = await asyncio.gather(*(digest(destination, k) for k in chunk))
            different.extend(k for k, a, b in zip(chunk, left, right, strict=True) if a != b)
    return CopyResult(
        source_count=len(source_keys),
        destination_count=len(destination_keys),
        copied=0,
        skipped=0,
        vanished=0,
        resumed=False,
        missing=tuple(missing[:SAMPLE]),
        extra=tuple(extra[:SAMPLE]),
        different=tuple(different[:SAMPLE]),
        checksums_verified=checksums,
    )


def describe_result(result: CopyResult) -> list[str]:
    """Human lines for the CLI report."""
    lines = [
        f"copied {result.copied}, already identical {result.skipped}, vanished during copy {result.vanished}"
        + (" (resumed)" if result.resumed else ""),
        f"source has {result.source_count} keys, destination has {result.destination_count}",
    ]
    if result.missing:
        lines.append(f"missing at the destination (first {len(result.missing)}): {', '.join(result.missing)}")
    if result.extra:
        lines.append(f"only at the destination (first {len(result.extra)}): {', '.join(result.extra)}")
    if result.different:
        lines.append(f"different bytes (first {len(result.different)}): {', '.join(result.different)}")
    if result.checksums_verified and not result.different:
        lines.append("checksums: every record's bytes match")
    return lines


__all__ = [
    "CopyError",
    "CopyResult",
    "CopyState",
    "copy_storage",
    "count_keys",
    "describe_result",
    "verify_copy",
]
