"""Linting a script: what is wrong or suspicious, each finding with a path and a message.

The kernel's types already refuse malformed fields (a blank title, a bad slug);
this module finds what only the whole script (or its translation group) shows:
references to beats, characters or concepts that do not exist, beats the engine
can never play, rubrics that cannot score, translations that drifted apart.

Severity: ``error`` blocks publishing; ``warning`` is shown but allowed.
Paths use the same shape as request validation errors: ``scripted.beats[3].requires[0]``.
"""

from __future__ import annotations

import typing
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from roleplay_core import MOOD_MAX, MOOD_MIN, Problem, Script, script_from_dict
from roleplay_core.text import Pattern, builtin_lexicon, only_function_words

ERROR = "error"
WARNING = "warning"
#: Replies each fallback band needs so that no identical fallback comes back within four turns.
MIN_FALLBACK_REPLIES = 5


@attrs.frozen(kw_only=True)
class Finding:
    path: str
    message: str
    severity: str = ERROR
    #: A stable machine name: unknown_beat, unreachable_beat, no_triggers, zero_weights...
    code: str = "invalid"
    #: Set when several scripts are linted together (bundles, imports).
    script_id: str | None = None


def has_errors(findings: Iterable[Finding]) -> bool:
    return any(f.severity == ERROR for f in findings)


def strings_for_lists(data: Any, cls: type, path: str = "") -> list[Finding]:
    """Fields that should be lists but hold a string (``tags: retail``).

    The shared converter would quietly turn ``"retail"`` into ``("r", "e", ...)``;
    an author who forgot the brackets deserves an error naming the field instead.
    """
    if not isinstance(data, Mapping) or not attrs.has(cls):
        return []
    found = []
    hints = typing.get_type_hints(cls)
    for field in attrs.fields(cls):
        if field.name not in data:
            continue
        value, hint, at = data[field.name], hints[field.name], f"{path}.{field.name}" if path else field.name
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if origin is tuple:
            if isinstance(value, str):
                found.append(Finding(path=at, message="expected a list, not a single string", code="invalid"))
            elif isinstance(value, list) and args and attrs.has(args[0]):
                for i, item in enumerate(value):
                    found += strings_for_lists(item, args[0], f"{at}[{i}]")
        elif attrs.has(hint):
            found += strings_for_lists(value, hint, at)
        elif origin is not None and isinstance(value, Mapping) and len(args) == 2 and typing.get_origin(args[1]) is tuple:
            found += [Finding(path=f"{at}.{key}", message="expected a list, not a single string", code="invalid")
                      for key, item in value.items() if isinstance(item, str)]
    return found


def parse(data: Any) -> tuple[Script | None, list[Finding]]:
    """Structure ``data`` into a script, or the field errors as findings."""
    if not isinstance(data, Mapping):
        return None, [Finding(path="$", message="expected a script object", code="invalid")]
    strings = strings_for_lists(data, Script)
    if strings:
        return None, strings
    try:
        return script_from_dict(data), []
    except Problem as problem:
        return None, [Finding(path=e.field, message=e.message, code="invalid") for e in problem.errors] or [
            Finding(path="$", message=problem.detail or "invalid script", code="invalid")]


def lint(script: Script, *, translations: Sequence[Script] = (), required_languages: Sequence[str] = ()) -> list[
        Finding]:
    """Every finding for ``script``. ``translations`` are the other scripts in its translation group."""
    found: list[Finding] = []
    found += _characters(script)
    found += _beats(script)
    found += _fallbacks_and_endings(script)
    found += _rubric(script)
    found += _translations(script, translations, required_languages)
    return found


# -- characters ---------------------------------------------------------------


def _characters(script: Script) -> list[Finding]:
    found = []
    for i, character in enumerate(script.characters):
        if character.speaks_first and not character.opening_line.strip():
            found.append(Finding(path=f"characters[{i}].opening_line", code="missing_opening_line", severity=WARNING,
                                 message="the character speaks first but has no opening line"))
        if not character.persona.strip():
            found.append(Finding(path=f"characters[{i}].persona", code="missing_persona", severity=WARNING,
                                 message="no persona: a language model will not know who to play"))
    return found


# -- beats --------------------------------------------------------------------


def _beats(script: Script) -> list[Finding]:
    play = script.scripted
    beats = {beat.id: beat for beat in play.beats}
    characters = {c.id for c in script.characters}
    concepts = set(play.synonyms) | set(builtin_lexicon(script.language))
    found: list[Finding] = []
    for i, beat in enumerate(play.beats):
        at = f"scripted.beats[{i}]"
        if beat.character_id is not None and beat.character_id not in characters:
            found.append(Finding(path=f"{at}.character_id", code="unknown_character",
                                 message=f"no character has the id {beat.character_id!r}"))
        for field in ("requires", "excludes"):
            for j, other in enumerate(getattr(beat, field)):
                if other == beat.id:
                    found.append(Finding(path=f"{at}.{field}[{j}]", code="self_reference",
                                         message=f"the beat {field} itself"))
                elif other not in beats:
                    found.append(Finding(path=f"{at}.{field}[{j}]", code="unknown_beat",
                                         message=f"no beat has the id {other!r}"))
        if not beat.triggers:
            found.append(Finding(path=f"{at}.triggers", code="no_triggers", severity=WARNING,
                                 message="the beat has no trigger phrases, so the engine can never play it"))
        for j, trigger in enumerate(beat.triggers):
            if not trigger.strip():
                found.append(Finding(path=f"{at}.triggers[{j}]", code="blank_trigger", message="the trigger is blank"))
            elif trigger not in concepts and only_function_words(trigger):
                found.append(Finding(
                    path=f"{at}.triggers[{j}]", code="function_word_trigger", severity=WARNING,
                    message=f"{trigger!r} has only function words: it matches only when said exactly, never by "
                            "its words; add a word that carries the idea, or name a concept"))
            elif not Pattern.parse(trigger).elements:
                found.append(Finding(path=f"{at}.triggers[{j}]", code="blank_trigger",
                                     message="the trigger has no words"))
        if not beat.label.strip() and script.rubric.criteria and any(
                beat.id in c.check.beats for c in script.rubric.criteria):
            found.append(Finding(path=f"{at}.label", code="missing_label", severity=WARNING,
                                 message="the rubric scores this beat but it has no label: reports will show a "
                                         "trigger phrase instead of what the learner did"))
        if beat.greeting and (beat.requires or beat.repeatable):
            found.append(Finding(path=f"{at}.greeting", code="greeting_conditions", severity=WARNING,
                                 message="a greeting answers only the learner's first message: requires and "
                                         "repeatable make no sense on it"))
        for j, reply in enumerate(beat.replies):
            if not reply.strip():
                found.append(Finding(path=f"{at}.replies[{j}]", code="blank_reply", message="the reply is blank"))
    for i, reason in _unreachable(script):
        found.append(Finding(path=f"scripted.beats[{i}]", code="unreachable_beat", severity=WARNING,
                             message=f"the beat can never fire: {reason}"))
    return found


def mood_range(script: Script) -> tuple[int, int]:
    """The lowest and highest mood the character can reach in any conversation (an upper bound)."""
    play = script.scripted
    low = high = play.initial_mood
    for effect, repeats in [(b.mood_effect, b.repeatable) for b in play.beats] + [
            (f.mood_effect, True) for f in play.fallbacks]:
        if effect > 0:
            high = MOOD_MAX if repeats else high + effect
        elif effect < 0:
            low = MOOD_MIN if repeats else low + effect
    return max(MOOD_MIN, low), min(MOOD_MAX, high)


def _unreachable(script: Script) -> list[tuple[int, str]]:
    play = script.scripted
    beats = {beat.id: beat for beat in play.beats}
    low, high = mood_range(script)
    own: dict[str, str] = {}
    for beat in play.beats:
        if not beat.triggers:
            own[beat.id] = "it has no trigger phrases"
        elif beat.min_mood is not None and beat.max_mood is not None and beat.min_mood > beat.max_mood:
            own[beat.id] = f"min_mood {beat.min_mood} is above max_mood {beat.max_mood}"
        elif beat.min_mood is not None and beat.min_mood > high:
            own[beat.id] = f"it needs a mood of at least {beat.min_mood} but the mood never rises above {high}"
        elif beat.max_mood is not None and beat.max_mood < low:
            own[beat.id] = f"it needs a mood of at most {beat.max_mood} but the mood never falls below {low}"
    result = []
    for index, beat in enumerate(play.beats):
        if beat.id in own:
            if own[beat.id] != "it has no trigger phrases":  # already reported as no_triggers
                result.append((index, own[beat.id]))
            continue
        reason = _order_problem(beat.id, beats, own)
        if reason:
            result.append((index, reason))
    return result


def _closure(beat_id: str, beats: Mapping[str, Any]) -> set[str]:
    seen: set[str] = set()
    stack = [r for r in beats[beat_id].requires if r in beats]
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        stack.extend(r for r in beats[current].requires if r in beats)
    return seen


def _order_problem(beat_id: str, beats: Mapping[str, Any], dead: Mapping[str, str]) -> str | None:
    """Why the beats that must fire before ``beat_id`` cannot all fire in some order, or ``None``."""
    needed = _closure(beat_id, beats)
    if beat_id in needed:
        return "its requires go round in a circle back to itself"
    for other in sorted(needed):
        if other in dead:
            return f"it requires {other!r}, which can never fire ({dead[other]})"
    members = needed | {beat_id}
    # Edges "a must fire before b": requires give r -> x; "x excludes e" with e needed gives x -> e.
    after: dict[str, set[str]] = {m: set() for m in members}
    for member in members:
        for required in beats[member].requires:
            if required in members:
                after[required].add(member)
        for excluded in beats[member].excludes:
            if excluded in members:
                after[member].add(excluded)
    if _has_cycle(after):
        excluded = sorted(e for m in members for e in beats[m].excludes if e in members)
        return f"it requires beats that exclude each other ({', '.join(excluded)})"
    return None


def _has_cycle(graph: Mapping[str, set[str]]) -> bool:
    state: dict[str, int] = {}

    def visit(node: str) -> bool:
        state[node] = 1
        for nxt in graph[node]:
            if state.get(nxt) == 1 or (state.get(nxt) is None and visit(nxt)):
                return True
        state[node] = 2
        return False

    return any(state.get(node) is None and visit(node) for node in graph)


# -- fallbacks and end conditions -----------------------------------------------


def _fallbacks_and_endings(script: Script) -> list[Finding]:
    play = script.scripted
    beats = {beat.id for beat in play.beats}
    found = []
    if play.beats and not play.fallbacks:
        found.append(Finding(path="scripted.fallbacks", code="no_fallbacks", severity=WARNING,
                             message="no fallbacks: off-script input gets a generic line out of character"))
    for i, fallback in enumerate(play.fallbacks):
        if len(set(fallback.replies)) < MIN_FALLBACK_REPLIES:
            found.append(Finding(
                path=f"scripted.fallbacks[{i}].replies", code="few_fallbacks", severity=WARNING,
                message=f"{len(set(fallback.replies))} different replies: give each mood band at least "
                        f"{MIN_FALLBACK_REPLIES} so the character does not repeat itself"))
    if play.beats and play.fallbacks and not any(beat.nudge.strip() for beat in play.beats):
        found.append(Finding(path="scripted.beats", code="no_nudges", severity=WARNING,
                             message="no beat has a nudge: after two off-script turns the character cannot hint "
                                     "at what the learner could do next"))
    if play.beats and not play.end_conditions:
        found.append(Finding(path="scripted.end_conditions", code="no_end_conditions", severity=WARNING,
                             message="no end conditions: the scene only ends when the learner ends it"))
    low, high = mood_range(script)
    for i, condition in enumerate(play.end_conditions):
        at = f"scripted.end_conditions[{i}]"
        if condition.kind == "beat_reached" and condition.beat not in beats:
            found.append(Finding(path=f"{at}.beat", code="unknown_beat", message=f"no beat has the id {condition.beat!r}"))
        elif condition.kind == "turns" and condition.value is not None and condition.value < 1:
            found.append(Finding(path=f"{at}.value", code="invalid_end_condition",
                                 message="the number of turns must be at least 1"))
        elif condition.kind == "mood_at_most" and condition.value is not None and condition.value < low:
            found.append(Finding(path=f"{at}.value", code="unreachable_end_condition", severity=WARNING,
                                 message=f"the mood never falls to {condition.value} (lowest reachable: {low})"))
        elif condition.kind == "mood_at_least" and condition.value is not None and condition.value > high:
            found.append(Finding(path=f"{at}.value", code="unreachable_end_condition", severity=WARNING,
                                 message=f"the mood never rises to {condition.value} (highest reachable: {high})"))
        if condition.warning_line.strip() and condition.kind != "mood_at_most":
            found.append(Finding(path=f"{at}.warning_line", code="ignored_field", severity=WARNING,
                                 message=f"warning_line is only said for a mood_at_most condition, not {condition.kind}"))
    return found


# -- rubric --------------------------------------------------------------------


def _rubric(script: Script) -> list[Finding]:
    criteria = script.rubric.criteria
    beats = {beat.id for beat in script.scripted.beats}
    concepts = set(script.scripted.synonyms) | set(builtin_lexicon(script.language))
    found: list[Finding] = []
    if not criteria:
        return [Finding(path="rubric.criteria", code="no_criteria", severity=WARNING,
                        message="no criteria: the evaluator has nothing to score")]
    if sum(c.weight for c in criteria) <= 0:
        found.append(Finding(path="rubric.criteria", code="zero_weights",
                             message="the criteria's weights sum to zero, so no score can be computed"))
    for i, criterion in enumerate(criteria):
        at = f"rubric.criteria[{i}].check"
        check = criterion.check
        for j, beat in enumerate(check.beats):
            if beat not in beats:
                found.append(Finding(path=f"{at}.beats[{j}]", code="unknown_beat", message=f"no beat has the id {beat!r}"))
        for place, undo_check in ((at, check), (f"rubric.criteria[{i}].offline_check", criterion.offline_check)):
            for k, undo in enumerate(undo_check.undone_by if undo_check is not None else ()):
                for j, beat in enumerate(undo.after):
                    if beat not in beats:
                        found.append(Finding(path=f"{place}.undone_by[{k}].after[{j}]", code="unknown_beat",
                                             message=f"no beat has the id {beat!r}"))
        for j, concept in enumerate(check.concepts):
            if concept not in concepts:
                found.append(Finding(path=f"{at}.concepts[{j}]", code="unknown_concept",
                                     message=f"{concept!r} is not a key of scripted.synonyms nor a built-in "
                                             f"concept of {script.language!r}"))
        offline = criterion.offline_check
        if offline is not None and check.kind != "model":
            found.append(Finding(path=f"rubric.criteria[{i}].offline_check", code="ignored_field", severity=WARNING,
                                 message=f"offline_check is only read for a model check, not a {check.kind} check"))
        elif offline is not None and offline.kind == "model":
            found.append(Finding(path=f"rubric.criteria[{i}].offline_check.kind", code="invalid_offline_check",
                                 message="the offline check stands in for the model: it must be a rule kind"))
        elif offline is not None:
            for j, beat in enumerate(offline.beats):
                if beat not in beats:
                    found.append(Finding(path=f"rubric.criteria[{i}].offline_check.beats[{j}]", code="unknown_beat",
                                         message=f"no beat has the id {beat!r}"))
            for j, concept in enumerate(offline.concepts):
                if concept not in concepts:
                    found.append(Finding(path=f"rubric.criteria[{i}].offline_check.concepts[{j}]",
                                         code="unknown_concept", message=f"{concept!r} is not a known concept"))
        if criterion.required and check.kind == "model" and offline is None:
            found.append(Finding(path=f"rubric.criteria[{i}].required", code="required_unscored_offline",
                                 severity=WARNING,
                                 message="without a language model this criterion is not scored, so it cannot "
                                         "hold a practice back: add an offline_check"))
        if criterion.mechanical and check.kind == "model":
            found.append(Finding(path=f"rubric.criteria[{i}].mechanical", code="mechanical_model_check",
                                 message="a model check cannot be mechanical: only a language model can judge it"))
        if check.kind == "beat_reached":
            if not check.beats:
                found.append(Finding(path=f"{at}.beats", code="empty_check", message="name at least one beat"))
            elif check.min_count > len(check.beats):
                found.append(Finding(path=f"{at}.min_count", code="impossible_check",
                                     message=f"min_count {check.min_count} is more than the {len(check.beats)} beats listed"))
        elif check.kind in ("phrases_used", "phrases_avoided"):
            if not check.phrases and not check.concepts:
                found.append(Finding(path=at, code="empty_check", message="list at least one phrase or concept"))
            elif check.kind == "phrases_used" and check.min_count > len(check.phrases) + len(check.concepts):
                found.append(Finding(path=f"{at}.min_count", code="impossible_check",
                                     message=f"min_count {check.min_count} is more than the phrases and concepts listed"))
        elif check.kind == "model" and not check.good_looks_like.strip():
            found.append(Finding(path=f"{at}.good_looks_like", code="missing_good_looks_like", severity=WARNING,
                                 message="describe what good looks like, or the judge has nothing to compare with"))
        if check.kind != "beat_reached" and check.beats:
            found.append(Finding(path=f"{at}.beats", code="ignored_field", severity=WARNING,
                                 message=f"beats are ignored by a {check.kind} check"))
        if check.kind != "beat_reached" and check.undone_by:
            found.append(Finding(path=f"{at}.undone_by", code="ignored_field", severity=WARNING,
                                 message=f"undone_by is only read by a beat_reached check, not a {check.kind} check"))
    return found


# -- translations ----------------------------------------------------------------


def _ids(script: Script) -> dict[str, set[str]]:
    return {
        "characters": {c.id for c in script.characters},
        "scripted.beats": {b.id for b in script.scripted.beats},
        "rubric.criteria": {c.id for c in script.rubric.criteria},
    }


def _translations(script: Script, members: Sequence[Script], required: Sequence[str]) -> list[Finding]:
    found: list[Finding] = []
    others = [m for m in members if m.id != script.id]
    if script.translation_group is None:
        if required:
            found.append(Finding(path="translation_group", code="missing_translation", severity=WARNING,
                                 message=f"no translation group, so no {', '.join(required)} translation is linked"))
        return found
    languages = {m.language.lower(): m.id for m in others}
    if script.language.lower() in languages:
        found.append(Finding(path="language", code="duplicate_translation",
                             message=f"{languages[script.language.lower()]!r} is already the {script.language!r} "
                                     f"script of translation group {script.translation_group!r}"))
    have = {script.language.lower(), *languages}
    for language in required:
        if language.lower() not in have:
            found.append(Finding(path="translation_group", code="missing_translation", severity=WARNING,
                                 message=f"translation group {script.translation_group!r} has no {language!r} script"))
    mine = _ids(script)
    for other in others:
        theirs = _ids(other)
        for path, ids in mine.items():
            for missing in sorted(theirs[path] - ids):
                found.append(Finding(path=path, code="missing_translation", severity=WARNING,
                                     message=f"{missing!r} is in the {other.language!r} translation "
                                             f"({other.id}) but missing here"))
    return found
