"""What changed between two versions of a script: a structural list and a unified text diff.

Lists of things with ids (characters, beats, criteria) are matched by id, so
inserting a beat shows as one added beat rather than every later beat changed.
Their paths name the id: ``scripted.beats[greet].replies[1]``.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

import attrs

from .formats import to_yaml


@attrs.frozen(kw_only=True)
class Change:
    path: str
    #: "added", "removed" or "changed".
    op: str
    old: Any = None
    new: Any = None


def _keyed(items: list[Any]) -> dict[str, Any] | None:
    """``{id: item}`` when every item is an object with a distinct string id, else ``None``."""
    if not items or not all(isinstance(i, Mapping) and isinstance(i.get("id"), str) for i in items):
        return None
    keyed = {i["id"]: i for i in items}
    return keyed if len(keyed) == len(items) else None


def changes(old: Any, new: Any, path: str = "") -> list[Change]:
    """The changes from ``old`` to ``new`` (plain data), depth first, in the new order."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        found = []
        for key in [*old.keys(), *[k for k in new.keys() if k not in old]]:
            sub = f"{path}.{key}" if path else str(key)
            if key not in new:
                found.append(Change(path=sub, op="removed", old=old[key]))
            elif key not in old:
                found.append(Change(path=sub, op="added", new=new[key]))
            else:
                found += changes(old[key], new[key], sub)
        return found
    if isinstance(old, list) and isinstance(new, list):
        old_keyed, new_keyed = _keyed(old), _keyed(new)
        if old_keyed is not None and new_keyed is not None or (not old and new_keyed) or (not new and old_keyed):
            old_keyed, new_keyed = old_keyed or {}, new_keyed or {}
            found = [Change(path=f"{path}[{k}]", op="removed", old=v) for k, v in old_keyed.items() if k not in new_keyed]
            for key, value in new_keyed.items():
                if key in old_keyed:
                    found += changes(old_keyed[key], value, f"{path}[{key}]")
                else:
                    found.append(Change(path=f"{path}[{key}]", op="added", new=value))
            return found
        found = []
        for i in range(max(len(old), len(new))):
            if i >= len(new):
                found.append(Change(path=f"{path}[{i}]", op="removed", old=old[i]))
            elif i >= len(old):
                found.append(Change(path=f"{path}[{i}]", op="added", new=new[i]))
            else:
                found += changes(old[i], new[i], f"{path}[{i}]")
        return found
    if old != new:
        return [Change(path=path or "$", op="changed", old=old, new=new)]
    return []


def unified(old: Any, new: Any, old_name: str, new_name: str) -> str:
    """A unified diff of the two versions' YAML, for people."""
    lines = difflib.unified_diff(to_yaml(old).splitlines(keepends=True), to_yaml(new).splitlines(keepends=True),
                                 fromfile=old_name, tofile=new_name)
    return "".join(lines)
