"""The role-play script: the product's core content, shared by scripter, chat and evaluator.

A :class:`Script` is one practice scenario: what the learner sees before
starting, the characters, how the built-in offline engine plays them
(:class:`ScriptedPlay`: beats, fallbacks, end conditions) and the
:class:`Rubric` the evaluator scores against.

These are frozen attrs classes; :func:`script_from_dict` / :func:`script_to_dict`
convert to and from plain data (JSON or YAML) with the shared cattrs converter.
Field-level rules are checked here; cross-references (a criterion naming a beat
that does not exist...) are linted by the scripter.
"""

from __future__ import annotations

import functools
import keyword
import logging
import re
import typing
from collections.abc import Mapping
from typing import Any

import attrs
from cattrs.gen import make_dict_unstructure_fn, override

from .script_limits import check_script_limits
from .serialization import converter, structure

logger = logging.getLogger("roleplay.script")

SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
#: A BCP 47 language tag in its common shapes (``en``, ``zh-Hant``, ``es-419``, ``en-US-x-twain``):
#: subtags of 1 to 8 letters or digits, so extension and private-use singletons pass. The one pattern
#: scripts, the scripter's settings and users' preferred languages are checked with.
LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*\Z")

DIFFICULTIES = ("beginner", "intermediate", "advanced")
CHECK_KINDS = ("beat_reached", "phrases_used", "phrases_avoided", "open_questions", "model")
END_KINDS = ("beat_reached", "turns", "mood_at_most", "mood_at_least")
MOOD_MIN, MOOD_MAX = -5, 5


def _slug(instance: Any, attribute: attrs.Attribute, value: str) -> None:
    if not SLUG.match(value):
        raise ValueError(f"'{attribute.name}' must be a slug: lower-case letters, digits, '-' or '_' (got {value!r})")


def _optional_slug(instance: Any, attribute: attrs.Attribute, value: str | None) -> None:
    if value is not None:
        _slug(instance, attribute, value)


def _slugs(instance: Any, attribute: attrs.Attribute, value: tuple[str, ...]) -> None:
    for item in value:
        _slug(instance, attribute, item)


def _language(instance: Any, attribute: attrs.Attribute, value: str) -> None:
    if not LANGUAGE_TAG.match(value):
        raise ValueError(f"'{attribute.name}' must be a BCP 47 language tag such as 'en' or 'zh-Hant' (got {value!r})")


def _not_blank(instance: Any, attribute: attrs.Attribute, value: str) -> None:
    if not value.strip():
        raise ValueError(f"'{attribute.name}' must not be blank")


def _mood(instance: Any, attribute: attrs.Attribute, value: int | None) -> None:
    if value is not None and not MOOD_MIN <= value <= MOOD_MAX:
        raise ValueError(f"'{attribute.name}' must be between {MOOD_MIN} and {MOOD_MAX}")


def _unique_ids(instance: Any, attribute: attrs.Attribute, value: tuple[Any, ...]) -> None:
    seen: set[str] = set()
    for item in value:
        if item.id in seen:
            raise ValueError(f"'{attribute.name}' has the id {item.id!r} twice")
        seen.add(item.id)


def _one_of(choices: tuple[str, ...]):
    def check(instance: Any, attribute: attrs.Attribute, value: str) -> None:
        if value not in choices:
            raise ValueError(f"'{attribute.name}' must be one of {', '.join(choices)} (got {value!r})")

    return check


def _non_empty(instance: Any, attribute: attrs.Attribute, value: tuple[Any, ...]) -> None:
    if not value:
        raise ValueError(f"'{attribute.name}' must have at least one item")


@attrs.frozen(kw_only=True)
class Character:
    """Someone the learner talks to."""

    id: str = attrs.field(validator=_slug)
    name: str = attrs.field(validator=_not_blank)
    #: Who the character is, written as a system instruction for language models.
    persona: str = ""
    traits: tuple[str, ...] = ()
    speaking_style: str = ""
    #: A voice name for speech synthesis (for example a Gemini prebuilt voice such as "Kore").
    voice: str = ""
    opening_line: str = ""
    #: True when the character opens the conversation with ``opening_line``.
    speaks_first: bool = False
    description: str = ""


@attrs.frozen(kw_only=True)
class Beat:
    """One exchange the offline engine can play: the learner says a trigger, the character replies."""

    id: str = attrs.field(validator=_slug)
    #: Phrases the learner might say. Words listed in ``ScriptedPlay.synonyms`` match their synonyms too.
    triggers: tuple[str, ...] = ()
    #: Reply variants; the engine picks one it has not used yet.
    replies: tuple[str, ...] = attrs.field(validator=_non_empty)
    #: Which character replies; ``None`` means the session's character.
    character_id: str | None = attrs.field(default=None, validator=_optional_slug)
    #: Beats that must have fired before this one can.
    requires: tuple[str, ...] = attrs.field(default=(), validator=_slugs)
    #: Beats that must not have fired.
    excludes: tuple[str, ...] = attrs.field(default=(), validator=_slugs)
    min_mood: int | None = attrs.field(default=None, validator=_mood)
    max_mood: int | None = attrs.field(default=None, validator=_mood)
    #: Added to the character's mood when the beat fires (negative calms down... or angers).
    mood_effect: int = 0
    #: A beat fires once unless repeatable.
    repeatable: bool = False
    #: The author's note: what the beat is for. Never shown to learners.
    description: str = ""
    #: What the learner did, in words a learner reads in a report ("asked what went wrong").
    label: str = ""
    #: An in-character hint toward this beat, said after two off-script turns in a row when the
    #: beat could fire next ("Don't you even want to know what happened to it?").
    nudge: str = ""
    #: A greeting: it answers only the learner's first message, never later in the scene.
    greeting: bool = False
    #: The learner must ask about something that happened: a trigger said in a hypothetical
    #: ("What would you do if...?", "Imagine...") does not reach it (``roleplay_core.text.hypothetical``).
    past: bool = False
    #: The learner must ask for it openly: a trigger said in a closed, yes/no question ("Are you a
    #: team player?", "Did you resolve it?") does not earn it in the rules, though the character
    #: may still answer it with the story.
    open: bool = False


@attrs.frozen(kw_only=True)
class Fallback:
    """What the character says to off-script input, optionally only in some moods."""

    replies: tuple[str, ...] = attrs.field(validator=_non_empty)
    min_mood: int | None = attrs.field(default=None, validator=_mood)
    max_mood: int | None = attrs.field(default=None, validator=_mood)
    mood_effect: int = 0


@attrs.frozen(kw_only=True)
class EndCondition:
    """When the scene ends: a beat fired, a number of learner turns, or the mood crossed a line."""

    kind: str = attrs.field(validator=_one_of(END_KINDS))
    beat: str | None = attrs.field(default=None, validator=_optional_slug)
    value: int | None = None
    #: Why the scene ended, shown to the learner ("the customer accepted the refund").
    reason: str = ""
    #: A last line the character says when this condition ends the scene.
    closing_line: str = ""
    #: For ``mood_at_most``: the first time the mood falls that low the character says this instead
    #: of leaving ("One more 'calm down' and I'm gone."), and the mood rises one step: the learner
    #: gets one chance to recover. The next time, the scene ends. Empty: it ends the first time.
    warning_line: str = ""

    def __attrs_post_init__(self) -> None:
        if self.kind == "beat_reached" and not self.beat:
            raise ValueError("'beat' must be set when kind is beat_reached")
        if self.kind != "beat_reached" and self.value is None:
            raise ValueError(f"'value' must be set when kind is {self.kind}")


@attrs.frozen(kw_only=True)
class ScriptedPlay:
    """How the built-in offline character engine plays the scene."""

    initial_mood: int = attrs.field(default=0, validator=_mood)
    #: Concept -> equivalent words or phrases: {"refund": ["money back", "reimburse"]}.
    synonyms: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)
    beats: tuple[Beat, ...] = attrs.field(default=(), validator=_unique_ids)
    fallbacks: tuple[Fallback, ...] = ()
    end_conditions: tuple[EndCondition, ...] = ()


@attrs.frozen(kw_only=True)
class Undo:
    """What takes a reached beat back, for a ``beat_reached`` check: an offer made to wait with no
    date ("I can't give you a date for that"), or turned into something else ("the refund is a
    store voucher"). Each of ``says`` and ``until`` is a concept or a phrase, as a trigger is."""

    #: Said after the beat, not negated and not asked, it takes the beat back.
    says: tuple[str, ...] = attrs.field(validator=_non_empty)
    #: Said after that, not asked, it makes the beat count again ("...but it's usually three to
    #: five working days"). Saying the beat's trigger again does not: "that's how we do refunds"
    #: mentions a refund, it does not offer one.
    until: tuple[str, ...] = ()
    #: Beats after which saying it takes back the whole check, beats reached after it too: feedback
    #: given and then withdrawn ("let's just leave it there") is not made direct again by the plan
    #: that follows it. Empty: it takes back only the beats reached before it.
    after: tuple[str, ...] = attrs.field(default=(), validator=_slugs)


@attrs.frozen(kw_only=True)
class Check:
    """How a criterion is checked.

    - ``beat_reached``: any of ``beats`` fired (``min_count`` of them); a beat the learner took
      back later (``undone_by``) does not count.
    - ``phrases_used``: the learner said ``min_count`` of ``phrases`` or ``concepts``
      (keys of ``ScriptedPlay.synonyms``, matching any synonym).
    - ``phrases_avoided``: the learner said none of ``phrases`` / ``concepts``.
    - ``open_questions``: the learner asked at least ``min_count`` open questions.
    - ``model``: a language model judges against ``good_looks_like``.
    """

    kind: str = attrs.field(validator=_one_of(CHECK_KINDS))
    beats: tuple[str, ...] = attrs.field(default=(), validator=_slugs)
    phrases: tuple[str, ...] = ()
    concepts: tuple[str, ...] = ()
    min_count: int = attrs.field(default=1, validator=attrs.validators.ge(0))
    good_looks_like: str = ""
    #: For ``beat_reached``: what takes a reached beat back (:class:`Undo`).
    undone_by: tuple[Undo, ...] = ()


@attrs.frozen(kw_only=True)
class Criterion:
    id: str = attrs.field(validator=_slug)
    title: str = attrs.field(validator=_not_blank)
    description: str = ""
    weight: float = attrs.field(default=1.0, validator=attrs.validators.ge(0))
    check: Check
    #: A "say this instead" example for a learner who fell short.
    suggestion: str = ""
    #: Always checked by the rules, even when a language model judges the other criteria
    #: (forbidden phrases, a required disclosure). Not allowed on a ``model`` check.
    mechanical: bool = False
    #: For a ``model`` check: how the rules score it when no language model is configured (any
    #: other check kind). Without it, a ``model`` check is left out of an offline score.
    offline_check: Check | None = None
    #: The practice cannot pass without it (the scenario's core task, a critical item): scored
    #: under ``REQUIRED_FLOOR``, the practice fails and its score stays below the pass mark,
    #: whatever the other criteria scored.
    required: bool = False


@attrs.frozen(kw_only=True)
class Rubric:
    criteria: tuple[Criterion, ...] = attrs.field(default=(), validator=_unique_ids)
    #: Overall score (0-100) at or above which the learner passes.
    passing_score: int = attrs.field(default=70, validator=[attrs.validators.ge(0), attrs.validators.le(100)])


@attrs.frozen(kw_only=True)
class Script:
    """One practice scenario."""

    id: str = attrs.field(validator=_slug)
    #: BCP 47 tag: "en", "es", "zh-Hant"...
    language: str = attrs.field(default="en", validator=_language)
    #: Links the same scenario across languages; scripts in one group share it.
    translation_group: str | None = attrs.field(default=None, validator=_optional_slug)
    title: str = attrs.field(validator=_not_blank)
    summary: str = ""
    learner_role: str = ""
    setting: str = ""
    objectives: tuple[str, ...] = ()
    difficulty: str = attrs.field(default="intermediate", validator=_one_of(DIFFICULTIES))
    tags: tuple[str, ...] = ()
    estimated_minutes: int = attrs.field(default=10, validator=[attrs.validators.ge(1), attrs.validators.le(240)])
    characters: tuple[Character, ...] = attrs.field(validator=[_non_empty, _unique_ids])
    scripted: ScriptedPlay = attrs.field(factory=ScriptedPlay)
    rubric: Rubric = attrs.field(factory=Rubric)

    def peers(self, beat_id: str) -> tuple[str, ...]:
        """The beats a rubric check lists beside one that ``beat_id`` requires: for a probe into a
        story (the interview's "how did you handle it?", which requires the conflict story), the
        other stories (teamwork, a mistake, pressure). A probe asked after one of them, in the same
        message, follows that one: the engine does not answer it and the rules do not count it."""
        beat = next((b for b in self.scripted.beats if b.id == beat_id), None)
        if beat is None or not beat.requires:
            return ()
        found: list[str] = []
        for criterion in self.rubric.criteria:
            for check in (criterion.check, criterion.offline_check):
                if check is None or check.kind != "beat_reached" or not set(check.beats) & set(beat.requires):
                    continue
                found += [b for b in check.beats if b not in beat.requires and b != beat_id and b not in found]
        return tuple(found)

    def character(self, character_id: str | None = None) -> Character:
        """The named character, or the first one. Raises ``KeyError`` for an unknown id."""
        if character_id is None:
            return self.characters[0]
        for character in self.characters:
            if character.id == character_id:
                return character
        raise KeyError(character_id)


def script_from_dict(data: Mapping[str, Any]) -> Script:
    """Structure plain data into a :class:`Script`; a 422 ``Problem`` names each bad field."""
    check_script_limits(data)  # sizes first (roleplay_core/script_limits.py): 422 naming the field
    return structure(dict(data), Script)


def stored_script_from_dict(data: Mapping[str, Any]) -> Script:
    """A script read back from storage (a published version, a session's snapshot).

    As :func:`script_from_dict`, except that a field this version does not know is left out, and
    logged once, instead of refused: during a rolling upgrade a newer server on the same storage
    writes fields an older one has never heard of (``required``, ``undone_by``...), and the older
    one plays the script without them rather than failing every session that uses it. What an
    author sends is still checked strictly.
    """
    unknown: list[str] = []
    known = _known_fields(data, Script, "", unknown)
    if unknown:
        fields = tuple(sorted(set(unknown)))
        if fields not in _UNKNOWN_LOGGED:
            _UNKNOWN_LOGGED.add(fields)
            logger.warning("a stored script has fields this version does not know, left out: %s "
                           "(a newer server wrote it; upgrade this one)", ", ".join(fields))
    return script_from_dict(known)


_UNKNOWN_LOGGED: set[tuple[str, ...]] = set()


def _known_fields(data: Any, cls: type, path: str, unknown: list[str]) -> Any:
    """``data`` (the plain form of an attrs ``cls``) without the keys ``cls`` has no field for."""
    if not isinstance(data, Mapping):
        return data  # the strict reading names what is wrong with it
    hints = _hints(cls)
    known: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{key}_" if keyword.iskeyword(str(key)) else key
        if name not in hints:
            unknown.append(f"{path}{key}")
            continue
        known[key] = _known_value(value, hints[name], f"{path}{key}.", unknown)
    return known


def _known_value(value: Any, kind: Any, path: str, unknown: list[str]) -> Any:
    if attrs.has(kind):
        return _known_fields(value, kind, path, unknown)
    args = [arg for arg in typing.get_args(kind) if arg is not Ellipsis and arg is not type(None)]
    inner = next((arg for arg in args if attrs.has(arg)), None)
    if inner is None:
        return value
    if isinstance(value, list):
        return [_known_fields(item, inner, path, unknown) for item in value]
    return _known_fields(value, inner, path, unknown)  # X | None


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


# A field added to a stored type is written only when it is not its default. Servers of the
# previous version share the storage during a rolling upgrade and reject unknown fields: a script
# that does not use ``past`` or ``open`` stays readable by them (docs/deployment.md).
converter.register_unstructure_hook(
    Beat, make_dict_unstructure_fn(Beat, converter, past=override(omit_if_default=True),
                                   open=override(omit_if_default=True)))
converter.register_unstructure_hook(
    EndCondition, make_dict_unstructure_fn(EndCondition, converter, warning_line=override(omit_if_default=True)))
converter.register_unstructure_hook(  # before Check's: the check's function takes this hook
    Undo, make_dict_unstructure_fn(Undo, converter, until=override(omit_if_default=True),
                                   after=override(omit_if_default=True)))
converter.register_unstructure_hook(
    Check, make_dict_unstructure_fn(Check, converter, undone_by=override(omit_if_default=True)))
converter.register_unstructure_hook(  # after Check's: the criterion's function takes that hook
    Criterion, make_dict_unstructure_fn(Criterion, converter, required=override(omit_if_default=True)))


def script_to_dict(script: Script) -> dict[str, Any]:
    return converter.unstructure(script)
