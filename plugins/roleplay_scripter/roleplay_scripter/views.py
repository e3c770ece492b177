"""The JSON shapes the scripter answers with, for authored and shipped (pack) scripts alike."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from roleplay_core import Script, script_to_dict

from .formats import plain, script_data
from .records import ScriptHead, ScriptVersion


def pack_etag(script: Script) -> str:
    """A strong ETag for a shipped script: changes when an upgrade ships different content."""
    canonical = json.dumps(plain(script_to_dict(script)), sort_keys=True, ensure_ascii=False).encode("utf-8")
    return f'"pack-{hashlib.sha256(canonical).hexdigest()[:20]}"'


def _about(script: Script) -> dict[str, Any]:
    return {
        "id": script.id,
        "title": script.title,
        "language": script.language,
        "translation_group": script.translation_group,
        "difficulty": script.difficulty,
        "tags": list(script.tags),
        "estimated_minutes": script.estimated_minutes,
    }


def head_summary(head: ScriptHead) -> dict[str, Any]:
    return {
        **_about(head.script),
        "status": head.status,
        "source": "authored",
        "version": head.latest,
        "published_version": head.published,
        "unpublished_changes": head.unpublished_changes,
        "from_pack": head.from_pack,
        "updated_at": head.updated_at.isoformat(),
        "updated_by": head.updated_by,
        "etag": head.etag,
    }


def pack_summary(script: Script) -> dict[str, Any]:
    return {
        **_about(script),
        "status": "published",
        "source": "pack",
        "version": None,
        "published_version": None,
        "unpublished_changes": False,
        "from_pack": True,
        "updated_at": None,
        "updated_by": None,
        "etag": pack_etag(script),
    }


def head_detail(head: ScriptHead) -> dict[str, Any]:
    return {
        **head_summary(head),
        "created_at": head.created_at.isoformat(),
        "created_by": head.created_by,
        "archived_at": head.archived_at.isoformat() if head.archived_at else None,
        "publications": [
            {"version": p.version, "published_at": p.published_at.isoformat(), "published_by": p.published_by}
            for p in head.publications
        ],
        "script": script_data(head.script),
    }


def pack_detail(script: Script) -> dict[str, Any]:
    return {**pack_summary(script), "created_at": None, "created_by": None, "archived_at": None,
            "publications": [], "script": script_data(script)}


def version_summary(version: ScriptVersion, head: ScriptHead) -> dict[str, Any]:
    return {
        "version": version.number,
        "created_at": version.created_at.isoformat(),
        "created_by": version.created_by,
        "note": version.note,
        "latest": version.number == head.latest,
        "published": version.number == head.published and head.status != "archived",
        "published_at": [p.published_at.isoformat() for p in head.publications if p.version == version.number],
        "title": version.script.title,
    }


def version_detail(version: ScriptVersion, head: ScriptHead) -> dict[str, Any]:
    return {"id": head.id, **version_summary(version, head), "script": script_data(version.script)}


def matches(summary: dict[str, Any], script: Script, *, status: str | None, language: str | None,
            tag: str | None, text: str | None, source: str | None) -> bool:
    """Whether a listed script passes the ``GET /scripts`` filters."""
    if status and summary["status"] != status:
        return False
    if source and summary["source"] != source:
        return False
    if language:
        own, wanted = script.language.lower(), language.lower()
        if own != wanted and not own.startswith(wanted + "-"):
            return False
    if tag and tag not in script.tags:
        return False
    if text:
        haystack = " ".join([script.id, script.title, script.summary, script.learner_role, script.setting,
                             *script.tags, *(c.name for c in script.characters)]).lower()
        if not all(word in haystack for word in text.lower().split()):
            return False
    return True
