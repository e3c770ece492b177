"""Size limits for a script, checked on the plain data before it is structured.

Every script arrives from a client at some point (the scripter's editor, a YAML or JSON
import, a Character Card), is stored, then sent back in responses and exports. Without
limits a small body can become a huge one (a YAML alias tree, a card's ``{{char}}`` macros),
so every string field and every list has a cap, and the whole script has one too. The caps
are far above what a real scenario needs (the shipped packs use a few hundred characters
per field) and are checked by field *name*, so fields added to the schema later are capped
by the defaults without a change here.

A breach is a 422 naming the field path (``characters[0].persona``), like any other field error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import FieldError, validation_problem

#: Characters allowed in a string field, by field name; any other field gets DEFAULT_CHARS.
FIELD_CHARS: dict[str, int] = {
    "id": 64, "language": 35, "translation_group": 64, "character_id": 64, "beat": 64, "kind": 32,
    "difficulty": 32, "title": 200, "name": 200, "voice": 100, "tags": 64, "traits": 200, "label": 300,
    "concepts": 64, "requires": 64, "excludes": 64, "beats": 64, "objectives": 1000, "triggers": 500,
    "phrases": 500, "synonyms": 500, "reason": 1000, "replies": 4000, "nudge": 4000, "opening_line": 4000,
    "closing_line": 4000, "warning_line": 4000, "suggestion": 4000, "learner_role": 4000, "summary": 10_000, "setting": 20_000,
    "description": 20_000, "speaking_style": 10_000, "good_looks_like": 10_000, "persona": 50_000,
    "says": 500, "until": 500,
}
DEFAULT_CHARS = 10_000
#: Items allowed in a list (or keys in a mapping), by field name; any other gets DEFAULT_ITEMS.
FIELD_ITEMS: dict[str, int] = {"characters": 20, "beats": 500, "criteria": 100, "fallbacks": 100,
                               "end_conditions": 100, "synonyms": 500,
                               "undone_by": 20}
DEFAULT_ITEMS = 200
#: All the characters of all the strings (and keys) of one script together.
MAX_SCRIPT_CHARS = 1_000_000
MAX_DEPTH = 12


def script_limit_errors(data: Any) -> list[FieldError]:
    """Every field of ``data`` (a script as plain data) over its cap; stops after 20 errors."""
    errors: list[FieldError] = []
    total = 0

    def walk(value: Any, path: str, name: str, depth: int) -> None:
        nonlocal total
        if len(errors) >= 20:
            return
        if depth > MAX_DEPTH:
            errors.append(FieldError(path or "$", "is nested too deeply"))
            return
        if total > MAX_SCRIPT_CHARS:
            return
        if isinstance(value, str):
            total += len(value)
            if total > MAX_SCRIPT_CHARS:  # stop walking: an aliased tree could be huge
                errors.append(FieldError("$", f"the script's text must have at most {MAX_SCRIPT_CHARS} characters "
                                              "in all"))
                return
            cap = FIELD_CHARS.get(name, DEFAULT_CHARS)
            if len(value) > cap:
                errors.append(FieldError(path or "$", f"must have at most {cap} characters (has {len(value)})"))
        elif isinstance(value, Mapping):
            if depth > 0 and len(value) > FIELD_ITEMS.get(name, DEFAULT_ITEMS):
                errors.append(FieldError(path, f"must have at most {FIELD_ITEMS.get(name, DEFAULT_ITEMS)} entries"))
                return
            for key, item in value.items():
                key_text = str(key)
                total += len(key_text)
                if len(key_text) > 500:
                    errors.append(FieldError(path or "$", f"has a key of {len(key_text)} characters (at most 500)"))
                    return
                # a mapping's keys are data for ``synonyms`` (the field name stays) and field names elsewhere
                walk(item, f"{path}.{key_text}" if path else key_text, name if name == "synonyms" else key_text,
                     depth + 1)
        elif isinstance(value, (list, tuple)):
            cap = FIELD_ITEMS.get(name, DEFAULT_ITEMS)
            if len(value) > cap:
                errors.append(FieldError(path or "$", f"must have at most {cap} items (has {len(value)})"))
                return
            for index, item in enumerate(value):
                walk(item, f"{path}[{index}]", name, depth + 1)

    walk(data, "", "", 0)
    return errors


def check_script_limits(data: Any) -> None:
    """Raise a 422 :class:`~roleplay_core.Problem` naming each field of ``data`` over its cap."""
    errors = script_limit_errors(data)
    if errors:
        raise validation_problem(errors)
