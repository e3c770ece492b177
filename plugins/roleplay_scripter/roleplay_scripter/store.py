"""Authored scripts in kernel storage: drafts, numbered versions, status, publishing.

Every change goes through the head record with compare-and-swap, so two
authors (or two server processes) editing the same script cannot silently
overwrite each other: the second one gets :class:`Stale`. Nothing is cached in
the process.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anyio.to_thread
import attrs

from roleplay_core import NotFound, PreconditionFailed, Script, Storage, converter

from .records import (
    HEAD_PREFIX,
    Publication,
    ScriptHead,
    ScriptVersion,
    head_key,
    now,
    version_key,
)


class Stale(Exception):
    """The script changed since the version the caller based the edit on."""

    def __init__(self, current: ScriptHead | None) -> None:
        self.current = current
        super().__init__("the script changed since you read it")


class Exists(Exception):
    """An authored script with this id exists already."""


class Missing(Exception):
    """No authored script has this id."""


def _encode(value: Any) -> bytes:
    return json.dumps(converter.unstructure(value), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _decode_head(raw: bytes) -> ScriptHead:
    return converter.structure(json.loads(raw), ScriptHead)


async def _decode_heads(raws: list[bytes]) -> list[ScriptHead]:
    # Structuring a script with full validation costs milliseconds; keep it off the event loop.
    return await anyio.to_thread.run_sync(lambda: [_decode_head(raw) for raw in raws])


@attrs.frozen
class Loaded:
    """A head with the storage version token it was read at (for compare-and-swap)."""

    head: ScriptHead
    token: str


class ScriptStore:
    """The scripter's view of storage. Stateless: build one per request."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    # -- reading -------------------------------------------------------------

    async def load(self, script_id: str) -> Loaded | None:
        try:
            record = await self.storage.get(head_key(script_id))
        except NotFound:
            return None
        return Loaded((await _decode_heads([record.data]))[0], record.version)

    async def get(self, script_id: str) -> ScriptHead | None:
        loaded = await self.load(script_id)
        return loaded.head if loaded else None

    async def all(self) -> list[ScriptHead]:
        raws = []
        for key in await self.storage.list_all(HEAD_PREFIX):
            try:
                raws.append((await self.storage.get(key)).data)
            except NotFound:  # deleted while we listed (an import rolled back)
                continue
        return await _decode_heads(raws)

    async def version(self, script_id: str, number: int) -> ScriptVersion | None:
        try:
            raw = (await self.storage.get(version_key(script_id, number))).data
        except NotFound:
            raw = None
        if raw is not None:
            return await anyio.to_thread.run_sync(lambda: converter.structure(json.loads(raw), ScriptVersion))
        head = await self.get(script_id)
        if head is not None and number == head.latest:
            # The head is written first; a crash before the snapshot leaves the head's copy as the truth.
            return ScriptVersion(number=head.latest, script=head.script, created_at=head.updated_at,
                                 created_by=head.updated_by, note="")
        return None

    async def versions(self, script_id: str) -> list[ScriptVersion]:
        head = await self.get(script_id)
        if head is None:
            return []
        found = []
        for number in range(1, head.latest + 1):
            version = await self.version(script_id, number)
            if version is not None:
                found.append(version)
        return found

    # -- writing -------------------------------------------------------------

    async def create(self, script: Script, *, by: str, note: str = "created", from_pack: bool = False) -> ScriptHead:
        """Version 1 of a new authored script; :class:`Exists` when the id is taken."""
        at = now()
        head = ScriptHead(id=script.id, script=script, created_at=at, created_by=by, updated_at=at, updated_by=by,
                          from_pack=from_pack)
        try:
            await self.storage.put(head_key(script.id), _encode(head), if_absent=True)
        except PreconditionFailed:
            raise Exists(script.id) from None
        await self._snapshot(head, note)
        return head

    async def update(self, script: Script, *, expected: int | None, by: str, note: str = "updated") -> ScriptHead:
        """Save ``script`` as the next version; :class:`Stale` unless the latest is ``expected``.

        ``expected=None`` saves on top of whatever is latest (imports that replace content).
        """

        def change(head: ScriptHead) -> ScriptHead:
            if expected is not None and head.latest != expected:
                raise Stale(head)
            return attrs.evolve(head, script=script, latest=head.latest + 1, updated_at=now(), updated_by=by)

        head = await self._swap(script.id, change)
        await self._snapshot(head, note)
        return head

    async def publish(self, script_id: str, *, expected: int | None, by: str) -> ScriptHead:
        """Record the latest version as the published one (the caller then tells the catalog)."""

        def change(head: ScriptHead) -> ScriptHead:
            if expected is not None and head.latest != expected:
                raise Stale(head)
            at = now()
            publication = Publication(version=head.latest, published_at=at, published_by=by)
            return attrs.evolve(head, status="published", published=head.latest, archived_at=None,
                                publications=(*head.publications, publication), updated_at=at, updated_by=by)

        return await self._swap(script_id, change)

    async def archive(self, script_id: str, *, expected: int | None, by: str) -> ScriptHead:
        def change(head: ScriptHead) -> ScriptHead:
            if expected is not None and head.latest != expected:
                raise Stale(head)
            at = now()
            return attrs.evolve(head, status="archived", archived_at=at, updated_at=at, updated_by=by)

        return await self._swap(script_id, change)

    async def restore(self, script_id: str, raw: bytes | None, token: str) -> None:
        """Undo one write made by an import: put back ``raw`` (or delete) if nobody wrote since."""
        try:
            if raw is None:
                await self.storage.delete(head_key(script_id), if_version=token)
            else:
                await self.storage.put(head_key(script_id), raw, if_version=token)
        except (NotFound, PreconditionFailed):
            pass  # someone else wrote meanwhile; their write wins

    async def raw(self, script_id: str) -> tuple[bytes, str] | None:
        try:
            record = await self.storage.get(head_key(script_id))
        except NotFound:
            return None
        return record.data, record.version

    async def put_head_if(self, head: ScriptHead, *, token: str | None) -> str:
        """Write ``head`` only if the stored head is still at ``token`` (``None``: only if absent)."""
        data = _encode(head)
        try:
            if token is None:
                return await self.storage.put(head_key(head.id), data, if_absent=True)
            return await self.storage.put(head_key(head.id), data, if_version=token)
        except PreconditionFailed:
            raise Stale(await self.get(head.id)) from None

    async def put_version(self, script_id: str, version: ScriptVersion) -> None:
        """Write a version record as given (restoring a backup)."""
        await self.storage.put(version_key(script_id, version.number), _encode(version))

    async def snapshot(self, head: ScriptHead, note: str) -> None:
        await self._snapshot(head, note)

    # -- internals -----------------------------------------------------------

    async def _swap(self, script_id: str, change: Callable[[ScriptHead], ScriptHead]) -> ScriptHead:
        loaded = await self.load(script_id)
        if loaded is None:
            raise Missing(script_id)
        new = change(loaded.head)
        # Make sure the version being replaced has its snapshot (a crash may have skipped it).
        await self._ensure_snapshot(loaded.head)
        try:
            await self.storage.put(head_key(script_id), _encode(new), if_version=loaded.token)
        except PreconditionFailed:
            raise Stale(await self.get(script_id)) from None
        return new

    async def _snapshot(self, head: ScriptHead, note: str) -> None:
        version = ScriptVersion(number=head.latest, script=head.script, created_at=head.updated_at,
                                created_by=head.updated_by, note=note)
        # Only the winner of the head's compare-and-swap for this number gets here: no condition needed.
        await self.storage.put(version_key(head.id, head.latest), _encode(version))

    async def _ensure_snapshot(self, head: ScriptHead) -> None:
        try:
            await self.storage.get(version_key(head.id, head.latest))
        except NotFound:
            await self._snapshot(head, "")
