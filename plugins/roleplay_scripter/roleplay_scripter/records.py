"""What the scripter keeps in storage: one head record per script and one record per version.

Keys (all under ``scripter/``):

- ``scripter/scripts/<id>``: the :class:`ScriptHead`, the single source of truth,
  written with compare-and-swap. It holds the working draft (the content of the
  latest version), the status and the publication history.
- ``scripter/versions/<id>/<n>``: a :class:`ScriptVersion`, an immutable snapshot
  written after the head names it. Only the writer that won the head's
  compare-and-swap for version ``n`` ever writes it, so the write needs no condition.
"""

from __future__ import annotations

import datetime as dt

import attrs

from roleplay_core import Script

HEAD_PREFIX = "scripter/scripts/"
VERSION_PREFIX = "scripter/versions/"
STATUSES = ("draft", "published", "archived")


def head_key(script_id: str) -> str:
    return HEAD_PREFIX + script_id


def version_key(script_id: str, number: int) -> str:
    # Zero-padded so a storage listing comes back in version order.
    return f"{VERSION_PREFIX}{script_id}/{number:08d}"


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@attrs.frozen(kw_only=True)
class Publication:
    """One time a version was made the one learners see."""

    version: int
    published_at: dt.datetime
    published_by: str


@attrs.frozen(kw_only=True)
class ScriptHead:
    """An authored script: its draft, numbered versions and status."""

    id: str
    #: "draft" until first published, then "published"; "archived" after DELETE.
    status: str = "draft"
    #: The number of the newest version; the draft is its content.
    latest: int = 1
    #: The version learners see, or ``None`` before the first publish.
    published: int | None = None
    script: Script
    created_at: dt.datetime
    created_by: str
    updated_at: dt.datetime
    updated_by: str
    publications: tuple[Publication, ...] = ()
    archived_at: dt.datetime | None = None
    #: True when this authored script started as a copy of a shipped pack script with the same id.
    from_pack: bool = False

    @property
    def etag(self) -> str:
        return version_etag(self.latest)

    @property
    def unpublished_changes(self) -> bool:
        return self.published is not None and self.published != self.latest


@attrs.frozen(kw_only=True)
class ScriptVersion:
    """One saved state of a script. Never changes once written."""

    number: int
    script: Script
    created_at: dt.datetime
    created_by: str
    #: What the save was: "created", "updated", "imported", "character imported", "copied from pack".
    note: str = ""


def version_etag(number: int) -> str:
    """The strong ETag of version ``number``: what ``If-Match`` must echo to edit on top of it."""
    return f'"v{number}"'
