"""The built-in ``scripted`` model provider: a deterministic offline character engine.

It plays a character from the script's :class:`roleplay_core.ScriptedPlay`. Each
learner message is cut into sentences and matched to beat triggers (see
:mod:`roleplay_chat.matching`, over the words and concepts of
:mod:`roleplay_core.text`); a beat may fire when its preconditions hold
(``requires``, ``excludes``, mood range, fired once unless ``repeatable``, a
``greeting`` only on the learner's first message).

- **Several intents.** The best matching beat fires. When another beat matched
  too (in another sentence, or in the same one on other words), the character
  answers it in the same turn, its reply placed where the learner said it; both
  beats move the mood and both are reported. At most two beats play per turn;
  any further one is kept as *pending* and answered on the next turn if that
  turn would otherwise get a fallback.
- **Variants** are picked without repeating until every variant was used.
- **Off-script input** gets a fallback that fits the mood, never one said in the
  last :data:`FALLBACK_MEMORY` turns. After :data:`NUDGE_AFTER` fallbacks in a
  row, the character instead gives the ``nudge`` of the first beat the learner
  could take next (never the same nudge twice in a row).

After each turn the end conditions are checked in order; the first one met ends
the scene, with its closing line.

Everything the engine remembers travels in ``Reply.state`` (bounded, plain
JSON) and comes back in the next ``ReplyRequest.state``, so it never re-reads
the transcript: message 1,000 costs what message 10 does. Randomness comes from
``(seed, turn, beat)`` only, so the same seed and the same messages give the
same conversation.
"""

from __future__ import annotations

import random
import re
import zlib
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import attrs

from roleplay_core import (
    LEARNER,
    MOOD_MAX,
    MOOD_MIN,
    Beat,
    Character,
    ModelProvider,
    Reply,
    ReplyDelta,
    ReplyRequest,
    Script,
)
from roleplay_core.text import CJK, hypothetical, judged, lexicon_for

from .matching import THRESHOLD, Match, TriggerIndex

#: Version 2 added ``misses``, ``recent``, ``pending`` and ``nudge``; a version 1 state is upgraded.
STATE_VERSION = 2
#: Beats one turn plays at most: the best match and one more the learner said.
MAX_BEATS_PER_TURN = 2
#: Further matched beats kept for the next turn, at most.
MAX_PENDING = 3
#: A fallback reply is not said again within this many turns.
FALLBACK_MEMORY = 4
#: Fallbacks in a row after which the character nudges instead of a third one.
NUDGE_AFTER = 2

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
    return {"v": STATE_VERSION, "mood": script.scripted.initial_mood, "turns": 0, "fired": [], "used": {},
            "misses": 0, "recent": [], "pending": [], "nudge": None, "warned": []}


def _state(script: Script, given: Mapping[str, Any] | None) -> dict[str, Any]:
    """A working copy of ``given``; a version 1 state keeps what it knew, anything unknown starts afresh."""
    if not given or given.get("v") not in (1, STATE_VERSION):
        return initial_state(script)
    try:
        return _upgrade(script, given)
    except (TypeError, ValueError):  # not a state this engine wrote: start the scene afresh, never fail
        return initial_state(script)


def _upgrade(script: Script, given: Mapping[str, Any]) -> dict[str, Any]:
    beats = {beat.id for beat in script.scripted.beats}
    # Bounded on the way in too: a state is client-invisible but stored, so never trust its size.
    recent = [[int(turn), int(crc)] for turn, crc in list(given.get("recent", []))[-FALLBACK_MEMORY:]]
    nudge = given.get("nudge")
    return {
        "v": STATE_VERSION,
        "mood": int(given.get("mood", script.scripted.initial_mood)),
        "turns": int(given.get("turns", 0)),
        "fired": [beat for beat in given.get("fired", []) if beat in beats],
        "used": {str(key): [int(i) for i in value] for key, value in dict(given.get("used", {})).items()},
        "misses": int(given.get("misses", 0)),
        "recent": recent,
        "pending": [beat for beat in given.get("pending", []) if beat in beats][:MAX_PENDING],
        "nudge": nudge if nudge in beats else None,
        # The end conditions (by index) that already gave their last warning.
        "warned": sorted({int(i) for i in list(given.get("warned", []))
                          if 0 <= int(i) < len(script.scripted.end_conditions)}),
    }


def _in_mood(mood: int, low: int | None, high: int | None) -> bool:
    return (low is None or mood >= low) and (high is None or mood <= high)


def _open(beat: Beat, state: Mapping[str, Any]) -> bool:
    """Whether ``beat`` could still fire in this turn once other beats of it fired (requires and mood aside)."""
    fired = state["fired"]
    return (
        bool(beat.triggers)
        and (beat.repeatable or beat.id not in fired)
        and not any(excluded in fired for excluded in beat.excludes)
        and not (beat.greeting and state["turns"] > 0)
    )


def eligible(beat: Beat, state: Mapping[str, Any]) -> bool:
    """Whether ``beat`` may answer the next learner message, given the state after the previous one.

    Preconditions, mood, once unless repeatable, and a greeting only before any message was answered.
    """
    fired = state["fired"]
    return (
        _open(beat, state)
        and all(required in fired for required in beat.requires)
        and _in_mood(state["mood"], beat.min_mood, beat.max_mood)
    )


def pick_variant(replies: Sequence[str], key: str, state: dict[str, Any], seed: int, turn: int | None = None,
                 avoid: frozenset[int] = frozenset()) -> str | None:
    """A reply variant not used yet in this cycle; a new cycle never starts with the last one said.

    Variants whose checksum is in ``avoid`` are never picked (``None`` if that leaves none).
    """
    allowed = [i for i in range(len(replies)) if _crc(replies[i]) not in avoid]
    if not allowed:
        return None
    used: list[int] = state["used"].setdefault(key, [])
    unused = [i for i in allowed if i not in used]
    if not unused:
        last = used[-1] if used else None
        used.clear()
        unused = [i for i in allowed if i != last] or allowed
    rng = random.Random(f"{seed}:{state['turns'] if turn is None else turn}:{key}")
    choice = rng.choice(unused)
    used.append(choice)
    return replies[choice]


def _crc(text: str) -> int:
    """A stable checksum of a reply: the state remembers recent fallbacks by it, not by their text."""
    return zlib.crc32(text.strip().encode("utf-8"))


_INDEXES: OrderedDict[int, tuple[Script, TriggerIndex]] = OrderedDict()


def trigger_index(script: Script) -> TriggerIndex:
    """The script's trigger index, cached by identity (scripts are immutable)."""
    hit = _INDEXES.get(id(script))
    if hit is not None and hit[0] is script:
        _INDEXES.move_to_end(id(script))
        return hit[1]
    play = script.scripted
    index = TriggerIndex(((beat.id, trigger) for beat in play.beats for trigger in beat.triggers),
                         lexicon_for(script))
    _INDEXES[id(script)] = (script, index)
    while len(_INDEXES) > 128:
        _INDEXES.popitem(last=False)
    return index


def _speaker(script: Script, beat: Beat, character: Character) -> Character:
    if beat.character_id:
        return next((c for c in script.characters if c.id == beat.character_id), character)
    return character


def _choose(
    script: Script, character: Character, matches: Sequence[Match], state: dict[str, Any],
) -> tuple[list[Match], list[str]]:
    """The beats this turn plays (best first) and the ones left for later, given ``matches`` best first.

    The best eligible match fires and changes the state; then the next eligible match (on the
    new state, so "bread please, can I pay?" can reach a beat that requires the first) with the
    same speaker and different words joins it. Further beats still open become pending.
    """
    beats = {beat.id: beat for beat in script.scripted.beats}
    chosen: list[Match] = []

    def joins(match: Match) -> bool:
        beat = beats[match.key]
        return (all(c.key != match.key and _apart(c, match) for c in chosen) and eligible(beat, state)
                # One speaker per turn: another character's beat waits for the next one.
                and (not chosen or _speaker(script, beat, character) == _speaker(script, beats[chosen[0].key],
                                                                                 character)))

    while len(chosen) < MAX_BEATS_PER_TURN and (match := next((m for m in matches if joins(m)), None)):
        chosen.append(match)
        _fire(beats[match.key], state)
    pending: list[str] = []
    for match in sorted(matches, key=lambda m: m.at):
        if (match.key not in pending and len(pending) < MAX_PENDING and _open(beats[match.key], state)
                and all(c.key != match.key and _apart(c, match) for c in chosen)):
            pending.append(match.key)
    return chosen, pending


def _apart(a: Match, b: Match) -> bool:
    """Two matches stand for two things the learner said: other sentences, or other words."""
    return a.sentence != b.sentence or a.apart(b)


def _fire(beat: Beat, state: dict[str, Any]) -> None:
    if beat.id not in state["fired"]:  # a set in first-fired order: the state stays bounded
        state["fired"].append(beat.id)
    state["mood"] = max(MOOD_MIN, min(MOOD_MAX, state["mood"] + beat.mood_effect))


def _join(first: str, second: str) -> str:
    """Two lines one after the other: a space, except after Chinese or Japanese text."""
    first, second = first.strip(), second.strip()
    if not first or not second:
        return first or second
    gap = "" if re.match(rf"[{CJK}\u3000-\u303f\uff01-\uff60]", first[-1]) else " "
    return f"{first}{gap}{second}"


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
    turn = current["turns"] + 1
    beats = {beat.id: beat for beat in play.beats}
    # Rank every beat that could fire in this turn; eligibility is checked as beats fire.
    candidates = [beat.id for beat in play.beats if _open(beat, current)]
    matches = trigger_index(script).matches(text, candidates, threshold) if candidates else []
    # A beat about the past ("Tell me about a time...") is not reached by a hypothetical question.
    # Nor by praise of the story told ("Sounds like you handled it well."): that asks nothing.
    matches = [m for m in matches if not (beats[m.key].past and (hypothetical(text, m.at[1], script.language)
                                                                 or judged(text, m.at[1], script.language)))]
    # ...nor by a probe said after another story was asked in the same message ("Tell me about a time
    # you were under pressure. How did you handle it?" probes that story, not the conflict before).
    matches = [m for m in matches if not (beats[m.key].past and any(
        o.key in script.peers(m.key) and o.at < m.at for o in matches))]
    chosen, pending = _choose(script, character, matches, current)
    info: dict[str, Any] = {"beats": [], "fallback": not chosen}
    if not chosen and current["pending"]:
        # Nothing new was said: answer what the learner said before and was not answered yet.
        carried = [Match(key, 1.0, "", sentence=n, at=(n, 0)) for n, key in enumerate(current["pending"])]
        chosen, pending = _choose(script, character, carried, current)
        info.update(fallback=not chosen, carried=bool(chosen))
    current["pending"] = pending
    speaker = character
    if chosen:
        said = sorted(chosen, key=lambda m: m.at)  # answered in the order the learner said them
        reply = ""
        for match in said:
            reply = _join(reply, pick_variant(beats[match.key].replies, f"beat:{match.key}", current, seed, turn)
                          or "")
        speaker = _speaker(script, beats[chosen[0].key], character)
        info.update(beats=[m.key for m in said], trigger=chosen[0].trigger, score=chosen[0].score)
        if len(chosen) > 1 or info.get("carried"):
            info["matches"] = [{"beat": m.key, "trigger": m.trigger, "score": m.score} for m in said]
        current["misses"] = 0
        current["nudge"] = None  # the scene moved on: a hint may be given again
    else:
        nudge = _nudge(script, current) if current["misses"] >= NUDGE_AFTER else None
        if nudge is not None:
            reply = nudge.nudge.strip()
            speaker = _speaker(script, nudge, character)
            current["nudge"] = nudge.id
            current["misses"] = 0
            info["nudge"] = nudge.id
        else:
            reply = _fallback(script, current, seed, turn)
            current["misses"] += 1
    if pending:
        info["pending"] = list(pending)
    current["turns"] = turn
    info["mood"] = current["mood"]
    info["character_id"] = speaker.id
    ended, reason = False, None
    for index, condition in enumerate(play.end_conditions):
        if _met(condition, current):
            if condition.kind == "mood_at_most" and condition.warning_line.strip() \
                    and index not in current["warned"]:
                # A last warning instead of walking out: one chance to recover, then the scene ends.
                current["warned"] = [*current["warned"], index]
                current["mood"] = min(MOOD_MAX, current["mood"] + 1)
                info["mood"] = current["mood"]
                info["warning"] = True
                reply = _join(reply, condition.warning_line)
                continue
            ended, reason = True, condition.reason or _default_reason(condition)
            if condition.closing_line.strip():
                reply = _join(reply, condition.closing_line)
            break
    return Turn(text=reply, character_id=speaker.id, state=current, ended=ended, end_reason=reason, info=info)


def _nudge(script: Script, state: Mapping[str, Any]) -> Beat | None:
    """The first beat, in script order, the learner could take next and that has a nudge not just said."""
    for beat in script.scripted.beats:
        if beat.nudge.strip() and beat.id not in state["fired"] and beat.id != state["nudge"] and eligible(beat, state):
            return beat
    return None


def _fallback(script: Script, state: dict[str, Any], seed: int, turn: int) -> str:
    """A fallback for the mood, never one said in the last :data:`FALLBACK_MEMORY` turns if there is another.

    The band that fits the mood comes first; when all of its replies were said lately, a
    neighbouring band's reply is borrowed before one is repeated (scripts should give every
    band five or more replies, so this rarely happens).
    """
    fallbacks = script.scripted.fallbacks
    if not fallbacks:
        language = script.language.split("-")[0].lower()
        return GENERIC_FALLBACK.get(language, GENERIC_FALLBACK["en"])
    mood = state["mood"]
    fits = next((i for i, f in enumerate(fallbacks) if _in_mood(mood, f.min_mood, f.max_mood)), None)
    if fits is None:  # none fits this mood: stay in character with the last one rather than a stock line
        fits = len(fallbacks) - 1
    else:
        state["mood"] = max(MOOD_MIN, min(MOOD_MAX, mood + fallbacks[fits].mood_effect))
    state["recent"] = [[t, crc] for t, crc in state["recent"] if t >= turn - FALLBACK_MEMORY]
    avoid = frozenset(crc for _, crc in state["recent"])
    bands = sorted(range(len(fallbacks)), key=lambda i: (i != fits, _distance(mood, fallbacks[i]), i))
    reply = next((r for i in bands if (r := pick_variant(fallbacks[i].replies, f"fallback:{i}", state, seed, turn,
                                                          avoid)) is not None), None)
    if reply is None:  # fewer distinct replies than the memory: repeat the one said longest ago
        said = {crc: t for t, crc in state["recent"]}
        reply = min((r for i in bands for r in fallbacks[i].replies), key=lambda r: said.get(_crc(r), -1))
    state["recent"] = [*state["recent"], [turn, _crc(reply)]][-FALLBACK_MEMORY:]
    return reply


def _distance(mood: int, fallback: Any) -> int:
    if fallback.min_mood is not None and mood < fallback.min_mood:
        return fallback.min_mood - mood
    if fallback.max_mood is not None and mood > fallback.max_mood:
        return mood - fallback.max_mood
    return 0


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
        learner = next((m for m in reversed(request.history) if m.role == LEARNER), None)
        turn = play_turn(request.script, request.character, learner.text if learner else "", request.state,
                         seed=request.seed)
        for piece in chunks(turn.text):
            yield ReplyDelta(piece)
        yield Reply(text=turn.text, state=turn.state, ended=turn.ended, end_reason=turn.end_reason, info=turn.info)
