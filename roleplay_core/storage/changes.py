"""The change board: how every process on one host keeps the file records it read, and knows when one changed.

``<root>/.changes`` is a shared memory map of :data:`SLOTS` 8-byte slots. A key's slot is the first
two bytes of its BLAKE2b digest, whose first byte is also its lock stripe (``file.py``), so every
writer of a slot holds the same ``flock``. A write or delete, under that lock, marks the slot
*open* (an invalid value), replaces or removes the file, then marks it with a new random value.

A reader keeps ``(slot value seen before the read, record)`` and returns the kept record while the
slot still holds that value: no system call, no path lookup. Why that is never stale:

- The slot value is read before the file. A write that renames the file after that first marks
  the slot open, so the slot no longer holds the value kept: the next read goes to the file.
- A slot is never reused: a new value is 4 random bytes (0 and the open mark excluded), and a
  writer keeps the lock from "open" to the new value, so two writers of a slot never interleave.
- A writer that dies between "open" and the new value leaves the slot open, and an open slot is
  never trusted: those keys are read from their files until the next write of the slot ends.
- Values are written and read as 8 bytes, 4 random and the same 4 XOR a constant, so a read that
  caught half of a write (the halves disagree) counts as open.

It holds on one host (one kernel, one page cache), which is what the file backend is for (its
``flock``s need it too); ``storage.file.read_cache_bytes = 0`` makes a process keep nothing (its
writes still mark the board), say for a folder shared over NFS. A board that cannot be mapped
(a full disk when it is first made) leaves that process keeping nothing and marking nothing.
Files changed behind the storage's back (by hand) are not seen while their record is kept:
change records with ``roleplay storage`` commands or restart the servers.
"""

from __future__ import annotations

import hashlib
import mmap
import os
from pathlib import Path

SLOTS = 65_536
SLOT_BYTES = 8
_CHECK = 0x5A17C0DE
#: The "write in progress" mark: not a valid value, so no reader trusts the slot.
OPEN = b"\xff" * SLOT_BYTES


def slot_of(key: str) -> int:
    """The slot of a key: the first two bytes of its BLAKE2b digest. ``slot >> 8`` is its lock stripe."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=2).digest(), "big")


def is_settled(value: bytes) -> bool:
    """Whether a slot value may be kept with a record: all zero (never written) or a whole new value."""
    head = int.from_bytes(value[:4], "little")
    return int.from_bytes(value[4:], "little") == head ^ _CHECK or value == bytes(SLOT_BYTES)


class ChangeBoard:
    """The shared slots of one storage root; see the module docstring."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._map: mmap.mmap | None = None

    def open(self) -> None:
        """Map the board, creating or growing the file (every process maps the same bytes)."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            if os.fstat(fd).st_size < SLOTS * SLOT_BYTES:
                # Real blocks, not a hole: a write to a mapped hole on a full disk would be SIGBUS,
                # where this fails now, with ENOSPC, and the storage runs without the board.
                if hasattr(os, "posix_fallocate"):
                    os.posix_fallocate(fd, 0, SLOTS * SLOT_BYTES)
                else:  # macOS
                    os.pwrite(fd, bytes(SLOTS * SLOT_BYTES), 0)
            self._map = mmap.mmap(fd, SLOTS * SLOT_BYTES, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        finally:
            os.close(fd)

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
            self._map = None

    @property
    def is_open(self) -> bool:
        return self._map is not None

    def value(self, slot: int) -> bytes:
        """The slot's value now (8 bytes)."""
        start = slot * SLOT_BYTES
        return self._map[start : start + SLOT_BYTES]  # type: ignore[index]

    def begin(self, slot: int) -> None:
        """Mark ``slot`` open: call with the slot's lock held, before the file changes."""
        start = slot * SLOT_BYTES
        self._map[start : start + SLOT_BYTES] = OPEN  # type: ignore[index]

    def end(self, slot: int) -> bytes:
        """Give ``slot`` a new value (lock still held, the file changed); returns it."""
        while True:
            head = int.from_bytes(os.urandom(4), "little")
            if head:  # 0 would be the value of a slot never written
                break
        value = head.to_bytes(4, "little") + (head ^ _CHECK).to_bytes(4, "little")
        start = slot * SLOT_BYTES
        self._map[start : start + SLOT_BYTES] = value  # type: ignore[index]
        return value
