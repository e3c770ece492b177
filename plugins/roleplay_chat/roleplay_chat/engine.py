"""The built-in ``scripted`` model provider: a deterministic offline character engine.

It plays a character from the script's :class:`roleplay_core.ScriptedPlay`: the
learner's message is matched to beat triggers (see :mod:`roleplay_chat.matching`),
the best eligible beat above the threshold fires (preconditions: ``requires``,
``excludes``, mood range, fired once unless ``repeatable``), its reply variant is
picked without repeating until every variant was used, and the mood moves by the
beat's ``mood_effect``. Anything off-script gets a fallback line that fits the
mood. After each turn the end conditions are checked in order; the first one met
ends the scene, with its closing line.

Everything the engine remembers travels in ``Reply.state`` and comes back in the
next ``ReplyRequest.state``, so it never re-reads the transcript: message 1,000
costs what message 10 does. Randomness comes from ``(seed, turn, beat)`` only,
so the same seed and the same messages give the same conversation.
"""

from __future__ import annotations

import random
import re
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping
from typing import Any

import attrs

from roleplay_core import Beat, Character, ModelProvider, Reply, ReplyDelta, ReplyRequest, Script
from roleplay_core.script import MOOD_MAX, MOOD_MIN

from .matching import CJK, THRESHOLD, Synonyms, TriggerIndex

STATE_VERSION = 1

#: Said to off-script input when the script has no fallback for the current mood.
GENERIC_FALLBACK = {
    "en": "Sorry, I'm not sure what you mean.",
    "es": "Perdona, no te entiendo.",
    "fr": "Pardon, je ne comprends pas.",
    "de": "Entschuldigung, das verstehe ich nicht.",
}


@attrs.frozen(kw_only=True)
class Turn:
    """What one learner message made the character do."""

    text: str
    character_id: str
    state: dict[str, Any]
    ended: bool = False
    end_reason: str | None = None
    info: dict[str, Any] = attrs.field(factory=dict)


def initial_state(script: Script) -> dict[str, Any]:
    return {"v": STATE_VERSION, "mood": script.scripted.initial_mood, "turns": 0, "fired": [], "used": {}}


def _state(script: Script, given: Mapping[str, Any] | None) -> dict[str, Any]:
    if not given or given.get("v") != STATE_VERSION:
        return initial_state(script)
    return {
        "v": STATE_VERSION,
        "mood": int(given.get("mood", script.scripted.initial_mood)),
        "turns": int(given.get("turns", 0)),
        "fired": list(given.get("fired", [])),
        "used": {key: list(value) for key, value in dict(given.get("used", {})).items()},
    }


def _in_mood(mood: int, low: int | None, high: int | None) -> bool:
    return (low is None or mood >= low) and (high is None or mood <= high)


def eligible(beat: Beat, state: Mapping[str, Any]) -> bool:
    """Whether ``beat`` may fire now: preconditions, mood, and once unless repeatable."""
    fired = set(state["fired"])
    return (
        bool(beat.triggers)
        and (beat.repeatable or beat.id not in fired)
        and all(required in fired for required in beat.requires)
        and not any(excluded in fired for excluded in beat.excludes)
        and _in_mood(state["mood"], beat.min_mood, beat.max_mood)
    )


def pick_variant(replies: tuple[str, ...], key: str, state: dict[str, Any], seed: int) -> str:
    """A reply variant not used yet in this cycle; a new cycle never starts with the last one said."""
    used: list[int] = state["used"].setdefault(key, [])
    unused = [i for i in range(len(replies)) if i not in used]
    if not unused:
        last = used[-1] if used else None
        used.clear()
        unused = [i for i in range(len(replies)) if i != last] or list(range(len(replies)))
    rng = random.Random(f"{seed}:{state['turns']}:{key}")
    choice = rng.choice(unused)
    used.append(choice)
    return replies[choice]


_INDEXES: OrderedDict[int, tuple[Script, TriggerIndex]] = OrderedDict()


def trigger_index(script: Script) -> TriggerIndex:
    """The script's trigger index, cached by identity (scripts are immutable)."""
    hit = _INDEXES.get(id(script))
    if hit is not None and hit[0] is script:
        _INDEXES.move_to_end(id(script))
        return hit[1]
    play = script.scripted
    index = TriggerIndex(((beat.id, trigger) for beat in play.beats for trigger in beat.triggers),
                         Synonyms(play.synonyms))
    _INDEXES[id(script)] = (script, index)
    while len(_INDEXES) > 128:
        _INDEXES.popitem(last=False)
    return index


def play_turn(
    script: Script,
    character: Character,
    text: str,
    state: Mapping[str, Any] | None = None,
    *,
    seed: int = 0,
    threshold: float = THRESHOLD,
) -> Turn:
    """Answer one learner message. Pure: the result depends only on the arguments."""
    play = script.scripted
    current = _state(script, state)
    current["turns"] += 1
    beats = {beat.id: beat for beat in play.beats}
    allowed = [beat.id for beat in play.beats if eligible(beat, current)]
    match = trigger_index(script).best(text, allowed, threshold) if allowed else None
    info: dict[str, Any] = {"beats": [], "fallback": match is None}
    speaker = character
    if match is not None:
        beat = beats[match.key]
        reply = pick_variant(beat.replies, f"beat:{beat.id}", current, seed)
        if beat.id not in current["fired"]:  # a set in first-fired order: the state stays bounded
            current["fired"].append(beat.id)
        current["mood"] += beat.mood_effect
        info.update(beats=[beat.id], trigger=match.trigger, score=match.score)
        if beat.character_id:
            speaker = next((c for c in script.characters if c.id == beat.character_id), character)
    else:
        reply = _fallback(script, current, seed)
    current["mood"] = max(MOOD_MIN, min(MOOD_MAX, current["mood"]))
    info["mood"] = current["mood"]
    info["character_id"] = speaker.id
    ended, reason = False, None
    for condition in play.end_conditions:
        if _met(condition, current):
            ended, reason = True, condition.reason or _default_reason(condition)
            if condition.closing_line.strip():
                reply = f"{reply} {condition.closing_line.strip()}"
            break
    return Turn(text=reply, character_id=speaker.id, state=current, ended=ended, end_reason=reason, info=info)


def _fallback(script: Script, state: dict[str, Any], seed: int) -> str:
    fallbacks = script.scripted.fallbacks
    for index, fallback in enumerate(fallbacks):
        if _in_mood(state["mood"], fallback.min_mood, fallback.max_mood):
            state["mood"] += fallback.mood_effect
            return pick_variant(fallback.replies, f"fallback:{index}", state, seed)
    if fallbacks:  # none fits this mood: stay in character with the closest one rather than a stock line
        return pick_variant(fallbacks[-1].replies, f"fallback:{len(fallbacks) - 1}", state, seed)
    language = script.language.split("-")[0].lower()
    return GENERIC_FALLBACK.get(language, GENERIC_FALLBACK["en"])


def _met(condition: Any, state: Mapping[str, Any]) -> bool:
    if condition.kind == "beat_reached":
        return condition.beat in state["fired"]
    if condition.kind == "turns":
        return state["turns"] >= condition.value
    if condition.kind == "mood_at_most":
        return state["mood"] <= condition.value
    if condition.kind == "mood_at_least":
        return state["mood"] >= condition.value
    return False


def _default_reason(condition: Any) -> str:
    return {
        "beat_reached": f"the scene reached '{condition.beat}'",
        "turns": f"the scene ran its {condition.value} turns",
        "mood_at_most": "the character's mood fell too low",
        "mood_at_least": "the character's mood rose high enough",
    }[condition.kind]


# Words, or pairs of Han/kana characters (written without spaces), each with the space after it.
_CHUNK = re.compile(rf"[{CJK}]{{1,2}}\s*|[^\s{CJK}]+\s*|\s+")


def chunks(text: str, words: int = 3) -> list[str]:
    """The reply cut into small pieces of a few words, for streaming."""
    pieces = _CHUNK.findall(text)
    return ["".join(pieces[i: i + words]) for i in range(0, len(pieces), words)] or [text]


class ScriptedProvider(ModelProvider):
    """The ``scripted`` provider: :func:`play_turn` behind the kernel's model-provider interface."""

    name = "scripted"
    capabilities = frozenset({"reply"})

    def __init__(self, kernel: Any = None) -> None:
        self.kernel = kernel

    async def reply(self, request: ReplyRequest) -> AsyncIterator[ReplyDelta | Reply]:
        learner = next((m for m in reversed(request.history) if m.role == "learner"), None)
        turn = play_turn(request.script, request.character, learner.text if learner else "", request.state,
                         seed=request.seed)
        for piece in chunks(turn.text):
            yield ReplyDelta(piece)
        yield Reply(text=turn.text, state=turn.state, ended=turn.ended, end_reason=turn.end_reason, info=turn.info)
