"""The storage contract every backend implements.

Keys are opaque ``a/b/c`` strings. Values are bytes. Every record carries a
version token that changes on every write; conditional writes on it give
optimistic concurrency across processes and hosts.
"""

from __future__ import annotations

import abc
import re
import secrets
import time
import urllib.parse
from collections.abc import Callable
from typing import Any, ClassVar

import attrs

from .. import metrics
from ..text import control_character

MAX_SEGMENT_BYTES = 240
# Keys every plugin writes (ASCII segments, none starting with "."), accepted by one regular
# expression before the rule-by-rule check: a chat message reads about ten keys, and the full
# check took 1.6 us a key, the expression 0.4 (timeit). Anything it does not match gets the full check
# (and its message).
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_~%@+=,:-][A-Za-z0-9._~%@+=,:-]{0,239}(?:/[A-Za-z0-9_~%@+=,:-][A-Za-z0-9._~%@+=,:-]{0,239})*")



class StorageError(Exception):
    """Base class of every storage failure."""


class NotFound(StorageError, KeyError):
    """The key does not exist."""

    def __str__(self) -> str:  # KeyError quotes its argument; keep the plain message
        return str(self.args[0]) if self.args else "not found"


class PreconditionFailed(StorageError):
    """A create-only write found the key, or a conditional write found another version."""


class InvalidKey(StorageError, ValueError):
    """The key breaks the key rules (see :func:`validate_key`)."""


class StorageUnavailable(StorageError):
    """The backend cannot be reached or used; the message says where and why."""


@attrs.frozen
class Record:
    data: bytes
    version: str


@attrs.frozen
class Page:
    """One page of a listing. Pass ``cursor`` back to get the next page; ``None`` means done."""

    keys: tuple[str, ...]
    cursor: str | None = None


def validate_key(key: str, *, prefix: bool = False) -> str:
    """Reject keys that could escape a folder or confuse a backend.

    Rules: non-empty, no leading or trailing ``/`` (a listing prefix may end in
    ``/``), no empty segments, no ``.``/``..`` segments, no segment starting with
    ``.`` (reserved for backends' own files), no control characters or
    backslashes, at most 1024 characters, each segment at most 240 bytes of UTF-8
    (a file name, with the file backend's suffix, must fit in 255).
    """
    if type(key) is str and len(key) <= 1024 and _PLAIN_KEY.fullmatch(key):
        return key
    if not isinstance(key, str):
        raise InvalidKey(f"storage key must be a string, not {type(key).__name__}")
    if prefix and key == "":
        return key
    if not key or len(key) > 1024:
        raise InvalidKey(f"storage key must have 1 to 1024 characters: {key!r}")
    if "\\" in key or control_character(key, one_line=True):
        raise InvalidKey(f"storage key has a control character or backslash: {key!r}")
    body = key[:-1] if prefix and key.endswith("/") else key
    if body.startswith("/"):
        raise InvalidKey(f"storage key must not be absolute: {key!r}")
    for segment in body.split("/"):
        if segment == "":
            raise InvalidKey(f"storage key has an empty segment: {key!r}")
        if segment.startswith("."):
            raise InvalidKey(f"storage key segment must not start with '.': {key!r}")
        if len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
            raise InvalidKey(f"storage key segment is over {MAX_SEGMENT_BYTES} bytes: {segment[:40]!r}...")
    return key


def key_segment(value: str) -> str:
    """Encode any non-empty string (a user id, an email) as exactly one valid key segment.

    Percent-encodes ``/``, control characters, backslashes and the like; a
    leading ``.`` becomes ``%2E``. Distinct inputs give distinct segments.
    """
    if not value:
        raise InvalidKey("a key segment cannot be empty")
    encoded = urllib.parse.quote(value, safe="@-_+.~")
    return "%2E" + encoded[1:] if encoded.startswith(".") else encoded


class _metered:  # noqa: N801 - used like the function it was: ``with _metered(name, kind):``
    """One storage operation for the metrics: ok, missing (NotFound), conflict (a precondition) or error.

    A class, not ``@contextmanager``: a generator-based context manager cost more than the
    figure it records on a small read.
    """

    __slots__ = ("backend", "kind", "started")

    def __init__(self, backend: str, kind: str) -> None:
        self.backend, self.kind = backend, kind

    def __enter__(self) -> None:
        self.started = time.perf_counter()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: Any) -> None:
        if kind is None:
            outcome = "ok"
        elif issubclass(kind, NotFound):
            outcome = "missing"
        elif issubclass(kind, PreconditionFailed):
            outcome = "conflict"
        else:
            outcome = "error"
        metrics.storage_operation(self.backend, self.kind, outcome, time.perf_counter() - self.started)


def time_ordered_id(random_bytes: int = 6) -> str:
    """A new id that sorts by creation time: 12 hex digits of Unix milliseconds, then random bytes in hex.

    Keys ending in such ids list oldest first (listings are in code-point order), and ids made in
    the same millisecond still differ (``random_bytes`` of ``secrets``, 6 by default: 24 digits).
    """
    return f"{int(time.time() * 1000):012x}{secrets.token_hex(random_bytes)}"


class Storage(abc.ABC):
    """An async key-value store with versions.

    Backends subclass this and implement the underscored methods; the public
    methods validate keys first so every backend enforces the same rules.
    """

    #: The name the backend is registered under (``file``, ``memory``, ``s3``...).
    name: ClassVar[str] = "abstract"

    async def get(self, key: str) -> Record:
        """Return the record at ``key``; raise :class:`NotFound`."""
        if not metrics.enabled():
            return await self._get(validate_key(key))
        # The hot operation (several per request), timed inline rather than by _metered.
        started = time.perf_counter()
        try:
            record = await self._get(validate_key(key))
        except NotFound:
            metrics.storage_operation(self.name, "get", "missing", time.perf_counter() - started)
            raise
        except BaseException:
            metrics.storage_operation(self.name, "get", "error", time.perf_counter() - started)
            raise
        metrics.storage_operation(self.name, "get", "ok", time.perf_counter() - started)
        return record

    async def put(
        self, key: str, data: bytes, *, if_version: str | None = None, if_absent: bool = False
    ) -> str:
        """Write ``data`` and return the new version.

        ``if_absent=True`` creates only (raise :class:`PreconditionFailed` when the
        key exists); ``if_version=v`` writes only when the current version is ``v``
        (raise :class:`PreconditionFailed` otherwise, :class:`NotFound` never: a
        missing record is a changed version). With neither, the write is unconditional.
        """
        if if_absent and if_version is not None:
            raise ValueError("if_absent and if_version are exclusive")
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError("storage values are bytes")
        if not metrics.enabled():
            return await self._put(validate_key(key), bytes(data), if_version=if_version, if_absent=if_absent)
        with _metered(self.name, "put"):
            return await self._put(validate_key(key), bytes(data), if_version=if_version, if_absent=if_absent)

    async def delete(self, key: str, *, if_version: str | None = None) -> None:
        """Delete ``key``; raise :class:`NotFound`, or :class:`PreconditionFailed` on a stale version."""
        if not metrics.enabled():
            await self._delete(validate_key(key), if_version=if_version)
            return
        with _metered(self.name, "delete"):
            await self._delete(validate_key(key), if_version=if_version)

    async def list(self, prefix: str = "", *, limit: int = 1000, cursor: str | None = None) -> Page:
        """Keys starting with ``prefix`` in lexicographic order, at most ``limit`` a page."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        if not metrics.enabled():
            return await self._list(validate_key(prefix, prefix=True), limit=limit, cursor=cursor)
        with _metered(self.name, "list"):
            return await self._list(validate_key(prefix, prefix=True), limit=limit, cursor=cursor)

    async def list_all(self, prefix: str = "") -> list[str]:
        """Every key under ``prefix``, following cursors."""
        keys: list[str] = []
        cursor = None
        while True:
            page = await self.list(prefix, cursor=cursor)
            keys.extend(page.keys)
            if page.cursor is None:
                return keys
            cursor = page.cursor

    async def check(self) -> None:  # noqa: B027 - optional for backends, not abstract
        """Raise :class:`StorageUnavailable` if the backend cannot be read and written."""

    async def open(self) -> None:  # noqa: B027 - optional for backends, not abstract
        """Acquire resources (connections, folders). Called once before use."""

    async def close(self) -> None:  # noqa: B027 - optional for backends, not abstract
        """Release resources. Called once at shutdown."""

    async def namespace(self) -> str:
        """What the server's namespace is like: ``flat`` (any names) or ``hierarchical`` (folders).

        Informational (``roleplay storage check`` prints it): every backend maps keys to
        names so that a key and keys under it as a folder coexist on either kind.
        """
        return "flat"

    async def migrate(self, progress: Callable[[str], None] | None = None) -> dict[str, int]:
        """Move records written in an older layout of this backend to the current one (``roleplay storage migrate``).

        Resumable: running it again continues. Calls ``progress(line)`` as it goes and
        returns counts. Backends whose layout never changed have nothing to do.
        """
        return {}

    def describe(self) -> str:
        """A short human description for logs and ``/readyz`` (never secrets)."""
        return self.name

    @abc.abstractmethod
    async def _get(self, key: str) -> Record: ...

    @abc.abstractmethod
    async def _put(self, key: str, data: bytes, *, if_version: str | None, if_absent: bool) -> str: ...

    @abc.abstractmethod
    async def _delete(self, key: str, *, if_version: str | None) -> None: ...

    @abc.abstractmethod
    async def _list(self, prefix: str, *, limit: int, cursor: str | None) -> Page: ...
