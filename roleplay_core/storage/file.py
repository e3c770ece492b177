"""File storage: the default backend. One file per record under ``storage.file.root``.

Writes go to a temp file, are fsynced, then renamed over the record, so a crash
leaves the old record or the new one, never half of one. Every write holds an
``flock`` on one of 256 lock files picked by the key's hash, which makes
create-only and compare-and-swap safe across processes on one host. Blocking
I/O runs in worker threads so the event loop never waits on the disk, except reads of records
of at most ``storage.file.inline_read_bytes`` (64 KiB): from the page cache they take less
time than the hop to a thread and back.

Small records read or written are kept in memory (up to ``storage.file.read_cache_bytes``) and
returned without touching the file while the root's change board (``changes.py``) says no
process has changed them since.
"""

from __future__ import annotations

import bisect
import contextlib
import errno
import fcntl
import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from . import threads
from .base import NotFound, Page, PreconditionFailed, Record, Storage, StorageUnavailable
from .changes import ChangeBoard, is_settled, slot_of

logger = logging.getLogger("roleplay.storage.file")
T = TypeVar("T")

SUFFIX = ".rec"
MAGIC = b"RP1 "
HEADER = len(MAGIC) + 32 + 1  # magic, 32 hex digits of version, newline
LOCK_STRIPES = 256
# A read of a small record from the page cache takes a few microseconds; handing it to a worker
# thread and back costs tens (benchmarks/stored_read.py). Bigger records (audio) still go to a thread.
INLINE_READ_BYTES = 65_536
FIRST_READ = 4096
# What one process keeps of records it read or wrote (their bytes plus about this much each).
READ_CACHE_BYTES = 32 * 1024 * 1024
KEPT_OVERHEAD = 200


def make_private_dirs(folder: Path) -> None:
    """Create ``folder`` and any missing parents with mode 0700: records (accounts, transcripts,
    audio) are readable by the server's user only. Existing folders are left as they are."""
    try:
        folder.mkdir(mode=0o700)
    except FileExistsError:
        return
    except FileNotFoundError:
        make_private_dirs(folder.parent)
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            pass


class FileStorage(Storage):
    name = "file"

    def __init__(self, settings: Any = None, *, root: str | os.PathLike | None = None, fsync: bool | None = None,
                 read_cache_bytes: int | None = None):
        options = _section(settings, "storage.file")
        self.root = Path(root if root is not None else options.get("root", "var/data")).absolute()
        self.fsync = bool(options.get("fsync", True) if fsync is None else fsync)
        # Records up to this size are read on the event loop; 0 sends every read to a worker thread.
        self.inline_read_bytes = int(options.get("inline_read_bytes", INLINE_READ_BYTES))
        # Records read or written are kept up to this many bytes in all; 0 keeps none.
        self.read_cache_bytes = int(options.get("read_cache_bytes", READ_CACHE_BYTES)
                                    if read_cache_bytes is None else read_cache_bytes)
        self._keeps = self.read_cache_bytes > 0 and self.inline_read_bytes > 0
        self._root_text = str(self.root)
        self._tmp = self.root / ".tmp"
        self._locks = self.root / ".locks"
        self._board = ChangeBoard(self.root / ".changes")
        #: key -> (slot, the slot's value before the record was read, the record or None for missing)
        self._kept: dict[str, tuple[int, bytes, Record | None]] = {}
        self._kept_bytes = 0
        self._keeping = threading.RLock()  # _keep runs on the loop, but a test may share a storage across loops

    def describe(self) -> str:
        return f"file storage at {self.root}"

    async def open(self) -> None:
        try:
            await threads.run(self._open_sync)
        except OSError as exc:
            raise StorageUnavailable(f"{self.describe()} cannot be created: {exc}") from exc

    def _open_sync(self) -> None:
        for folder in (self.root, self._tmp, self._locks):
            make_private_dirs(folder)
        # Mapped even when this process keeps nothing: its writes must still tell the processes that do.
        if not self._board.is_open:
            try:
                self._board.open()
            except OSError as exc:  # a full disk, a filesystem without mmap: slower, still right
                logger.warning("file storage at %s keeps no records in memory: the change board %s "
                               "cannot be mapped: %s", self.root, self._board.path, exc)

    async def close(self) -> None:
        with self._keeping:
            self._kept.clear()
            self._kept_bytes = 0
        self._board.close()

    async def check(self) -> None:
        def probe() -> None:
            self._open_sync()
            path = self._tmp / f"check-{uuid.uuid4().hex}"
            path.write_bytes(b"ok")
            if path.read_bytes() != b"ok":
                raise OSError("read back a different value")
            path.unlink()

        try:
            await threads.run(probe)
        except OSError as exc:
            raise StorageUnavailable(f"{self.describe()} is not writable: {exc}") from exc

    async def namespace(self) -> str:
        # Folders on disk; a key is the file <key>.rec, keys under it live in the folder <key>/.
        return "hierarchical"

    # -- paths and locks ---------------------------------------------------

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*key.split("/")[:-1], key.rsplit("/", 1)[-1] + SUFFIX)

    @contextmanager
    def _locked(self, key: str) -> Iterator[int]:
        """Hold the key's lock stripe; yields the key's change-board slot (the stripe is its first byte)."""
        slot = slot_of(key)
        fd = os.open(self._locks / f"{slot >> 8:02x}", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield slot
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    def _change(self, slot: int, change: Callable[[], T]) -> tuple[T, bytes | None]:
        """Run ``change`` of a file (its stripe locked) with the slot open, then give the slot a new
        value, even when the change failed half-way (that only costs reads). Returns the change's
        result and the slot's new value (None without a board)."""
        if not self._board.is_open:
            return change(), None
        self._board.begin(slot)
        try:
            result = change()
        finally:
            seen = self._board.end(slot)
        return result, seen

    def _keep(self, key: str, slot: int, seen: bytes, record: Record | None) -> None:
        """Keep ``record`` (None: the key is missing) as read after the slot held ``seen``."""
        cost = _kept_cost(key, record)
        with self._keeping:
            self._forget(key)
            if cost > self.read_cache_bytes // 8:
                return  # a record this size would push out many others
            while self._kept and self._kept_bytes + cost > self.read_cache_bytes:
                self._forget(next(iter(self._kept)))  # the oldest
            self._kept[key] = (slot, seen, record)
            self._kept_bytes += cost

    def _forget(self, key: str) -> None:
        """Drop what is kept of ``key`` (a stale copy is never returned, but it takes memory)."""
        with self._keeping:  # re-entrant: _keep holds it too
            old = self._kept.pop(key, None)
            if old is not None:
                self._kept_bytes -= _kept_cost(key, old[2])

    def _current(self, key: str, slot: int, path: Path) -> Record | None:
        """The record at ``key`` as its writer sees it, with the key's stripe locked (a worker thread).

        What this process keeps of the key, while the slot still holds the value it was kept at:
        every writer of the slot holds this same lock, so nobody can be changing it now, and a
        value that has not moved means nobody changed it since (a writer killed mid-change left
        the slot open, which never equals a kept value). Otherwise the file. A compare-and-swap
        on a record this process read or wrote (a chat turn's lease and release) reads no file.
        """
        kept = self._kept.get(key)
        if kept is not None and self._board.is_open and self._board.value(slot) == kept[1]:
            return kept[2]
        return self._read(path)

    def _read(self, path: Path) -> Record | None:
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except NotADirectoryError:
            return None
        if raw[: len(MAGIC)] != MAGIC or raw[HEADER - 1 : HEADER] != b"\n":
            raise StorageUnavailable(f"corrupt record file {path}")
        return Record(raw[HEADER:], raw[len(MAGIC) : HEADER - 1].decode("ascii"))

    def _write(self, path: Path, data: bytes) -> str:
        version = os.urandom(16).hex()
        tmp = f"{self._tmp}/{version}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            view = memoryview(MAGIC + version.encode("ascii") + b"\n" + data)
            while view:  # one write for a small record; a short write only on a full disk or a signal
                view = view[os.write(fd, view):]
            if self.fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        try:
            try:
                os.replace(tmp, path)
            except FileNotFoundError:  # the key's folder does not exist yet (made here, not before every write)
                make_private_dirs(path.parent)
                os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        if self.fsync:
            _fsync_dir(path.parent)
        return version

    # -- contract ----------------------------------------------------------

    def _read_small(self, path: str) -> Record | None | bool:
        """``_read`` on the event loop when the record is at most ``inline_read_bytes``; False when bigger."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except (FileNotFoundError, NotADirectoryError):
            return None
        try:
            # Most records are small: one read of up to FIRST_READ bytes, and a shorter answer is the
            # whole file (no fstat). Longer ones are sized first, as before.
            first = min(FIRST_READ, self.inline_read_bytes)
            raw = os.read(fd, first + 1)
            if len(raw) > first:
                size = os.fstat(fd).st_size
                if size > self.inline_read_bytes:
                    return False
                raw += os.read(fd, size + 1 - len(raw))  # +1: a record that grew since fstat is read whole below
                if len(raw) > size:
                    return False
        finally:
            os.close(fd)
        if raw[: len(MAGIC)] != MAGIC or raw[HEADER - 1 : HEADER] != b"\n":
            raise StorageUnavailable(f"corrupt record file {path}")
        return Record(raw[HEADER:], raw[len(MAGIC) : HEADER - 1].decode("ascii"))

    async def _get(self, key: str) -> Record:
        kept = self._kept.get(key)
        if kept is not None:
            if self._board.value(kept[0]) == kept[1]:
                # Nobody changed the key's slot since the kept read: no system call at all (changes.py).
                if kept[2] is None:
                    raise NotFound(key)
                return kept[2]
            self._forget(key)  # kept again below if the new read may be
        # The same file as _path(key), built as a string: keys are validated ("/"-separated
        # segments, no "." or ".." segments), and pathlib's parsing was a tenth of a small read.
        path = f"{self._root_text}/{key}{SUFFIX}"
        if self.inline_read_bytes > 0:
            if self._keeps and self._board.is_open:
                slot = slot_of(key)
                seen = self._board.value(slot)  # before the file: see changes.py for why
                record = self._read_small(path)
                if record is not False and is_settled(seen):
                    self._keep(key, slot, seen, record)
            else:
                record = self._read_small(path)
        else:
            record = False
        if record is False:
            record = await threads.run(self._read, Path(path))
        if record is None:
            raise NotFound(key)
        return record

    async def _put(self, key: str, data: bytes, *, if_version: str | None, if_absent: bool) -> str:
        def put() -> tuple[str, int, bytes | None]:
            path = self._path(key)
            with self._locked(key) as slot:
                if if_absent or if_version is not None:
                    current = self._current(key, slot, path)
                    if if_absent and current is not None:
                        raise PreconditionFailed(f"{key} exists")
                    if if_version is not None and (current is None or current.version != if_version):
                        raise PreconditionFailed(f"{key} changed")
                version, seen = self._change(slot, lambda: self._write(path, data))
                return version, slot, seen

        version, slot, seen = await threads.run(_with_os_errors, put, self)
        if seen is not None and self._keeps:
            if len(data) <= self.inline_read_bytes:
                # What this process just wrote is what the next read would find, unless the slot moves on.
                self._keep(key, slot, seen, Record(data, version))
            else:
                self._forget(key)
        return version

    async def _delete(self, key: str, *, if_version: str | None) -> None:
        def delete() -> tuple[int, bytes | None]:
            path = self._path(key)
            with self._locked(key) as slot:
                current = self._current(key, slot, path)
                if current is None:
                    raise NotFound(key)
                if if_version is not None and current.version != if_version:
                    raise PreconditionFailed(f"{key} changed")
                _, seen = self._change(slot, path.unlink)
                return slot, seen

        slot, seen = await threads.run(_with_os_errors, delete, self)
        if seen is not None and self._keeps:
            self._keep(key, slot, seen, None)

    async def _list(self, prefix: str, *, limit: int, cursor: str | None) -> Page:
        def scan() -> Page:
            folder, _, stem = prefix.rpartition("/")
            base = self.root.joinpath(*folder.split("/")) if folder else self.root
            keys: list[str] = []
            _walk(base, folder + "/" if folder else "", stem, keys)
            keys.sort()
            start = bisect.bisect_right(keys, cursor) if cursor else 0
            chunk = keys[start : start + limit]
            more = start + limit < len(keys)
            return Page(tuple(chunk), chunk[-1] if more and chunk else None)

        return await threads.run(scan)


def _kept_cost(key: str, record: Record | None) -> int:
    return len(key) + KEPT_OVERHEAD + (len(record.data) if record is not None else 0)


def _walk(folder: Path, key_prefix: str, stem: str, out: list[str]) -> None:
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return
    for entry in entries:
        name = entry.name
        if name.startswith(".") or not name.startswith(stem):
            continue
        if entry.is_dir(follow_symlinks=False):
            _walk(Path(entry.path), f"{key_prefix}{name}/", "", out)
        elif name.endswith(SUFFIX):
            out.append(key_prefix + name[: -len(SUFFIX)])


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _with_os_errors(func, storage: FileStorage):
    try:
        return func()
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EDQUOT):
            raise StorageUnavailable(f"{storage.describe()}: {exc.strerror}") from exc
        raise


def _section(settings: Any, dotted: str) -> dict:
    if settings is None:
        return {}
    getter = getattr(settings, "get", None)
    value = getter(dotted, {}) if getter else {}
    return dict(value or {})
