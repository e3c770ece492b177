"""Published scripts: what learners can practise.

Two sources: script packs shipped by plugins (read-only, loaded at startup)
and scripts published into storage (``catalog/published/<id>``) by an authoring
plugin. A published record overrides a pack script with the same id, so an
author can publish a new version of shipped content. Chat reads only this.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable
from typing import Any

import attrs
import yaml

from .errors import Problem
from .script import Script, script_from_dict, script_to_dict, stored_script_from_dict
from .serialization import converter
from .storage import NotFound, PreconditionFailed, Storage

logger = logging.getLogger("roleplay.catalog")
PREFIX = "catalog/published/"


@attrs.frozen(kw_only=True)
class PublishedScript:
    script: Script
    #: "pack:<name>" for shipped content, else the authoring plugin's version number as a string.
    version: str
    source: str  # "pack" or "storage"
    published_at: dt.datetime | None = None


# Browsers and phones send region tags; Chinese scripts are tagged by writing system.
_SCRIPT_FOR_REGION = {"zh-tw": "zh-hant", "zh-hk": "zh-hant", "zh-mo": "zh-hant", "zh-cn": "zh-hans",
                      "zh-sg": "zh-hans", "zh-my": "zh-hans"}


def language_matches(have: str, want: str) -> bool:
    """Whether content in language ``have`` serves a request for ``want`` (BCP 47, case-insensitive).

    ``es`` serves ``es``, ``es-MX`` and is served by a request for ``es``; ``zh`` requests
    match ``zh-Hant`` and ``zh-Hans``; ``zh-TW``/``zh-HK`` mean ``zh-Hant`` and ``zh-CN`` means
    ``zh-Hans``.
    """
    have, want = have.lower(), want.lower()
    want = _SCRIPT_FOR_REGION.get(want, want)
    return have == want or have.startswith(want + "-") or want.startswith(have + "-")


#: libyaml's safe loader where PyYAML was built with it: the same objects as ``yaml.safe_load``
#: (checked on every shipped script and labelled practice), 14x faster. Reading the six starter
#: scripts was 350 ms of a cold start in pure Python, 25 ms with libyaml (decision 95).
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class PackError(Exception):
    """A script pack file could not be read; the message names the file and the field."""


def read_script_file(path: Any) -> list[dict[str, Any]]:
    """The script dicts in one YAML or JSON file (one script, or ``{"scripts": [...]}``)."""
    name = getattr(path, "name", str(path))
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if name.endswith(".json") else yaml.load(text, Loader=_YAML_LOADER)  # noqa: S506
    except (ValueError, yaml.YAMLError) as exc:
        raise PackError(f"{name}: {exc}") from None
    if isinstance(data, dict) and "scripts" in data:
        data = data["scripts"]
    items = data if isinstance(data, list) else [data]
    if not all(isinstance(item, dict) for item in items):
        raise PackError(f"{name}: expected a script object or {{scripts: [...]}}")
    return items


def load_pack_paths(paths: Iterable[Any]) -> dict[str, Script]:
    """Load every script under the given files or folders; raise :class:`PackError` on a bad one."""
    scripts: dict[str, Script] = {}
    for root in paths:
        files = sorted(_script_files(root), key=lambda p: str(p))
        for path in files:
            for item in read_script_file(path):
                try:
                    script = script_from_dict(item)
                except Problem as problem:
                    raise PackError(f"{getattr(path, 'name', path)}: {problem.detail}") from None
                if script.id in scripts:
                    raise PackError(f"script id {script.id!r} is shipped twice (again in {path})")
                scripts[script.id] = script
    return scripts


def _script_files(root: Any) -> Iterable[Any]:
    if root.is_file():
        yield root
        return
    for child in root.iterdir():
        if child.is_dir():
            yield from _script_files(child)
        elif child.name.endswith((".yaml", ".yml", ".json")):
            yield child


class ScriptCatalog:
    def __init__(self, storage: Storage, pack_scripts: dict[str, Script] | None = None) -> None:
        self.storage = storage
        self.pack_scripts = dict(pack_scripts or {})

    async def get(self, script_id: str) -> PublishedScript | None:
        try:
            record = await self.storage.get(PREFIX + script_id)
        except NotFound:
            pack = self.pack_scripts.get(script_id)
            return PublishedScript(script=pack, version="pack", source="pack") if pack else None
        return _decode(record.data)

    async def list(self, *, language: str | None = None, tag: str | None = None) -> list[PublishedScript]:
        found: dict[str, PublishedScript] = {
            sid: PublishedScript(script=s, version="pack", source="pack") for sid, s in self.pack_scripts.items()
        }
        for key in await self.storage.list_all(PREFIX):
            try:
                found[key[len(PREFIX):]] = _decode((await self.storage.get(key)).data)
            except NotFound:  # withdrawn while we listed
                continue
        items = sorted(found.values(), key=lambda p: (p.script.title.lower(), p.script.id))
        if language:
            items = [p for p in items if language_matches(p.script.language, language)]
        if tag:
            items = [p for p in items if tag in p.script.tags]
        return items

    async def publish(self, script: Script, version: str) -> PublishedScript:
        """Make ``script`` the version learners see from now on."""
        published = PublishedScript(script=script, version=str(version), source="storage",
                                    published_at=dt.datetime.now(dt.UTC))
        body = {"script": script_to_dict(script), "version": published.version,
                "published_at": published.published_at.isoformat()}
        await self.storage.put(PREFIX + script.id, json.dumps(body, ensure_ascii=False).encode())
        return published

    async def withdraw(self, script_id: str) -> None:
        """Stop offering a published script (an archived one). Pack scripts cannot be withdrawn here."""
        try:
            await self.storage.delete(PREFIX + script_id)
        except (NotFound, PreconditionFailed):
            pass


def _decode(raw: bytes) -> PublishedScript:
    body = json.loads(raw)
    return PublishedScript(
        script=stored_script_from_dict(body["script"]),
        version=str(body["version"]),
        source="storage",
        published_at=converter.structure(body.get("published_at"), dt.datetime) if body.get("published_at") else None,
    )

