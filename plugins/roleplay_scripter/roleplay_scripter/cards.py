"""Characters to and from the community Character Card V2 format (``chara_card_v2``).

Mapping (ours -> card ``data``):

=====================  ==========================================================
``name``               ``name``
``persona``            ``description`` (the definition other tools put in the prompt)
``traits``             ``personality`` (joined with ", ")
script ``setting``     ``scenario`` (with the learner's role)
``opening_line``       ``first_mes``
beats (up to three)    ``mes_example`` (``<START>`` / ``{{user}}:`` / ``{{char}}:``)
``description``        ``creator_notes``
``speaking_style``     ``post_history_instructions``
script ``tags``        ``tags``
every field            ``extensions.roleplay.character`` (exact copy)
=====================  ==========================================================

On import, ``extensions.roleplay.character`` restores our character exactly; a
mapped card field edited in another tool since (so it no longer equals what we
would export) wins over the stored copy. A card from elsewhere is mapped back
field by field; what has no place in a character (``mes_example``,
``alternate_greetings``, ``system_prompt`` beyond the persona, other
extensions) is dropped — see docs/scripts.md.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

import attrs

from roleplay_core import (
    FIELD_CHARS,
    Character,
    FieldError,
    Problem,
    Script,
    script_limit_errors,
    structure,
    validation_problem,
)

SPEC = "chara_card_v2"
SPEC_VERSION = "2.0"
EXTENSION = "roleplay"
CARD_FIELDS = ("name", "description", "personality", "scenario", "first_mes", "mes_example", "creator_notes",
               "system_prompt", "post_history_instructions", "alternate_greetings", "tags", "creator",
               "character_version", "extensions")


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _scenario(script: Script) -> str:
    parts = [script.setting.strip()]
    if script.learner_role.strip():
        parts.append(f"{{{{user}}}} is: {script.learner_role.strip()}")
    return "\n\n".join(p for p in parts if p)


def _examples(script: Script, character: Character, limit: int = 3) -> str:
    first = script.characters[0].id
    lines = []
    for beat in script.scripted.beats:
        if (beat.character_id or first) != character.id or not beat.triggers:
            continue
        lines.append(f"<START>\n{{{{user}}}}: {beat.triggers[0]}\n{{{{char}}}}: {beat.replies[0]}")
        if len(lines) == limit:
            break
    return "\n".join(lines)


def visible_fields(character: Character) -> dict[str, Any]:
    """The card fields a character maps to directly (compared on import to spot outside edits)."""
    return {
        "name": character.name,
        "description": character.persona,
        "personality": ", ".join(character.traits),
        "first_mes": character.opening_line,
        "creator_notes": character.description,
        "post_history_instructions": character.speaking_style,
    }


def to_card(script: Script, character: Character, *, version: str = "", creator: str = "") -> dict[str, Any]:
    """A Character Card V2 for ``character`` of ``script``."""
    data = {
        **visible_fields(character),
        "scenario": _scenario(script),
        "mes_example": _examples(script, character),
        "system_prompt": "",
        "alternate_greetings": [],
        "tags": list(script.tags),
        "creator": creator,
        "character_version": version,
        "extensions": {
            EXTENSION: {
                "character": _plain(attrs.asdict(character)),
                "script_id": script.id,
                "language": script.language,
            }
        },
    }
    return {"spec": SPEC, "spec_version": SPEC_VERSION, "data": {key: data[key] for key in CARD_FIELDS}}


def slugify(name: str) -> str:
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:64].strip("-")
    return slug or "character"


def _text(data: Mapping[str, Any], key: str, errors: list[FieldError]) -> str:
    value = data.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        errors.append(FieldError(f"data.{key}", "expected a string"))
        return ""
    return value


#: The character field each card text field becomes, for its length cap (roleplay_core.script_limits).
CARD_TARGETS = {"name": "name", "description": "persona", "system_prompt": "persona", "personality": "speaking_style",
                "first_mes": "opening_line", "creator_notes": "description",
                "post_history_instructions": "speaking_style"}


def _capped(fields: Mapping[str, str]) -> list[FieldError]:
    """Card fields longer than the character field they become may hold (before any macro expands)."""
    errors = []
    for key, value in fields.items():
        cap = FIELD_CHARS[CARD_TARGETS[key]]
        if len(value) > cap:
            errors.append(FieldError(f"data.{key}", f"must have at most {cap} characters (has {len(value)})"))
    return errors


def _expanded(field: str, key: str, text: str) -> str:
    """422 naming ``data.<key>`` when macros made ``text`` longer than the character's ``field`` may be."""
    cap = FIELD_CHARS[field]
    if len(text) > cap:
        raise validation_problem([FieldError(f"data.{key}", f"expands ({{{{char}}}} and {{{{user}}}} replaced) to "
                                                            f"{len(text)} characters; at most {cap} are allowed")])
    return text


def _character_limits(character: Character) -> Character:
    errors = script_limit_errors(_plain(attrs.asdict(character)))
    if errors:
        raise validation_problem([FieldError(f"character.{e.field}", e.message) for e in errors])
    return character


def _macros(text: str, name: str) -> str:
    # Community cards write {{char}} and {{user}}; our personas name people plainly.
    for macro in ("{{char}}", "{{Char}}", "<BOT>"):
        text = text.replace(macro, name)
    for macro in ("{{user}}", "{{User}}", "<USER>"):
        text = text.replace(macro, "the learner")
    return text


def from_card(card: Any) -> Character:
    """The character a card describes; a 422 problem names each bad field."""
    if not isinstance(card, Mapping):
        raise validation_problem([FieldError("$", "expected a Character Card V2 object")])
    if card.get("spec") != SPEC:
        raise validation_problem([FieldError("spec", f"must be {SPEC!r} (Character Card V2)")])
    data = card.get("data")
    if not isinstance(data, Mapping):
        raise validation_problem([FieldError("data", "expected an object")])
    errors: list[FieldError] = []
    fields = {key: _text(data, key, errors) for key in ("name", "description", "personality", "first_mes",
                                                        "creator_notes", "post_history_instructions",
                                                        "system_prompt")}
    extensions = data.get("extensions") or {}
    if not isinstance(extensions, Mapping):
        errors.append(FieldError("data.extensions", "expected an object"))
        extensions = {}
    if not fields["name"].strip():
        errors.append(FieldError("data.name", "must not be blank"))
    errors += _capped(fields)
    if errors:
        raise validation_problem(errors)
    ours = (extensions.get(EXTENSION) or {}).get("character") if isinstance(extensions.get(EXTENSION), Mapping) else None
    if isinstance(ours, Mapping):
        try:
            stored = structure(dict(ours), Character)
        except Problem as problem:
            at = "data.extensions.roleplay.character"
            raise validation_problem([FieldError(f"{at}.{e.field}" if e.field != "$" else at, e.message)
                                      for e in problem.errors]) from None
        return _character_limits(_apply_edits(stored, fields))
    name = fields["name"].strip()
    # Every {{char}} becomes the name: a long name times many macros must not grow unbounded.
    persona = _expanded("persona", "description", _macros(fields["description"].strip(), name))
    if fields["system_prompt"].strip():
        prompt = _expanded("persona", "system_prompt", _macros(fields["system_prompt"].strip(), name))
        persona = _expanded("persona", "system_prompt", f"{prompt}\n\n{persona}".strip())
    traits = tuple(t.strip() for t in re.split(r"[,;\n]", fields["personality"]) if t.strip())
    return _character_limits(structure({
        "id": slugify(name),
        "name": name,
        "persona": persona,
        "traits": list(traits),
        "speaking_style": _expanded("speaking_style", "post_history_instructions",
                                    _macros(fields["post_history_instructions"].strip(), name)),
        "opening_line": _expanded("opening_line", "first_mes", _macros(fields["first_mes"].strip(), name)),
        "speaks_first": bool(fields["first_mes"].strip()),
        "description": fields["creator_notes"].strip(),
    }, Character))


def _apply_edits(stored: Character, fields: Mapping[str, str]) -> Character:
    """``stored`` with every visible card field that was changed outside Roleplay taken from the card."""
    before = visible_fields(stored)
    changes: dict[str, Any] = {}
    if fields["name"] != before["name"]:
        changes["name"] = fields["name"].strip()
    if fields["description"] != before["description"]:
        changes["persona"] = fields["description"]
    if fields["personality"] != before["personality"]:
        changes["traits"] = tuple(t.strip() for t in re.split(r"[,;\n]", fields["personality"]) if t.strip())
    if fields["first_mes"] != before["first_mes"]:
        changes["opening_line"] = fields["first_mes"]
    if fields["creator_notes"] != before["creator_notes"]:
        changes["description"] = fields["creator_notes"]
    if fields["post_history_instructions"] != before["post_history_instructions"]:
        changes["speaking_style"] = fields["post_history_instructions"]
    return attrs.evolve(stored, **changes) if changes else stored
