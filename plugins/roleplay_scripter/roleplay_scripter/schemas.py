"""The shapes the /scripts routes answer with, as attrs classes: what ``/openapi.json`` describes.

Previews (:class:`roleplay_scripter.preview.Preview`) and lint findings
(:class:`roleplay_scripter.lint.Finding`) are answered as they are; the rest the handlers build
as dictionaries (``views.py``), and the schemathesis run (``tests/test_api_fuzz.py``) checks
every answer against these classes.
"""

from __future__ import annotations

from typing import Any

import attrs

from .lint import Finding


@attrs.frozen(kw_only=True)
class ScriptSummary:
    """A script as the list shows it: authored (``version`` counts its saves) or shipped (``source: pack``)."""

    id: str
    title: str
    language: str
    translation_group: str | None
    difficulty: str
    tags: list[str]
    estimated_minutes: int | None
    status: str
    source: str
    version: int | None
    published_version: int | None
    unpublished_changes: bool
    from_pack: bool
    updated_at: str | None
    updated_by: str | None
    etag: str


@attrs.frozen(kw_only=True)
class ScriptList:
    """A page of scripts by title; ``total`` counts every match."""

    items: list[ScriptSummary]
    next_cursor: str | None
    total: int


@attrs.frozen(kw_only=True)
class Publication:
    """When a version was published, and by whom."""

    version: int
    published_at: str
    published_by: str


@attrs.frozen(kw_only=True)
class ScriptDetail(ScriptSummary):
    """A script with its content (``script``, the YAML/JSON model of docs/scripts.md) and history."""

    created_at: str | None
    created_by: str | None
    archived_at: str | None
    publications: list[Publication]
    script: dict[str, Any]


@attrs.frozen(kw_only=True)
class ScriptSaved(ScriptDetail):
    """A saved script and its lint findings (warnings and errors; errors do not block saving a draft)."""

    findings: list[Finding]


@attrs.frozen(kw_only=True)
class CharacterImported(ScriptDetail):
    """The script after a character card was added or replaced."""

    character_id: str


@attrs.frozen(kw_only=True)
class ValidatedScript:
    """One item of a validated bundle."""

    index: int
    id: str | None
    valid: bool
    findings: list[Finding]
    #: The script as the server read it (null when it could not be read): a form can follow YAML text.
    script: dict[str, Any] | None = None


@attrs.frozen(kw_only=True)
class Validation:
    """Lint results of a script or bundle, nothing saved."""

    valid: bool
    scripts: list[ValidatedScript]
    findings: list[Finding]


@attrs.frozen(kw_only=True)
class VersionSummary:
    """One saved version."""

    version: int
    created_at: str
    created_by: str
    note: str | None
    latest: bool
    published: bool
    published_at: list[str]
    title: str


@attrs.frozen(kw_only=True)
class VersionList:
    """Every saved version of a script, oldest first (shipped scripts have none)."""

    id: str
    source: str
    items: list[VersionSummary]
    next_cursor: str | None
    latest: int | None = None
    published_version: int | None = None


@attrs.frozen(kw_only=True)
class VersionDetail(VersionSummary):
    """One version with its content."""

    id: str
    script: dict[str, Any]


@attrs.frozen(kw_only=True)
class Change:
    """One changed path: ``added``, ``removed`` or ``changed``."""

    path: str
    op: str
    old: Any = None
    new: Any = None


@attrs.frozen(kw_only=True)
class Diff:
    """What changed between two versions, as changes and as a unified diff of the YAML."""

    id: str
    changes: list[Change]
    unified: str
    # "from" is a keyword: the answer's "from" member is described in the docs (docs/api/scripter.md).
    to: int


@attrs.frozen(kw_only=True)
class Imported:
    """What an import did, item by item."""

    imported: int
    scripts: list[dict[str, Any]]


@attrs.frozen(kw_only=True)
class TranslationMember:
    """One script of a translation group, with the lint's translation findings about it."""

    id: str
    language: str
    title: str
    status: str
    source: str
    findings: list[Finding]


@attrs.frozen(kw_only=True)
class Translations:
    """A script's translation group: its members and the required languages none of them covers."""

    id: str
    translation_group: str | None
    required_languages: list[str]
    missing_languages: list[str]
    members: list[TranslationMember]
