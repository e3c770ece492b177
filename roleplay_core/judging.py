"""The judge prompt, built once for every model provider.

A provider's ``judge`` call turns a :class:`~roleplay_core.models.JudgeRequest`
into a system instruction, a user message and a JSON schema for the answer.
Building them here, not in each provider, means Gemini, OpenAI or a local model
are asked exactly the same thing, so their scores can be compared and a prompt
fix reaches every provider at once.

The prompt holds the scenario, every criterion (with its rule check said in
plain words, as guidance), the rules' findings as candidate evidence, and the
transcript with message numbers and speakers. A long transcript is windowed:
the opening messages and the most recent ones that fit a token budget are
shown, with a marker saying which messages were left out.
"""

from __future__ import annotations

import json
import math
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from .models import JudgeRequest, RuleFinding
from .script import Criterion, Script
from .text import lexicon_for
from .transcript import LEARNER, TranscriptMessage

#: At most this many phrases (and synonyms per concept) of a check are spelt out in the prompt.
MAX_PHRASES = 8
MAX_SYNONYMS = 3
#: A persona is written for playing the character; the judge needs only who they are.
MAX_PERSONA = 300
#: Rule evidence is candidate evidence: a few quotes per criterion are enough to point the judge at them.
MAX_FINDING_QUOTES = 4

#: Latin-script text averages about four characters a token with the usual BPE/SentencePiece
#: vocabularies; a Han, kana or Hangul character is about one token.
CHARS_PER_TOKEN = 4


def _wide(char: str) -> bool:
    """A Han, kana or Hangul character (or a full-width sign): about a token each."""
    return unicodedata.east_asian_width(char) in ("W", "F")


def estimate_tokens(text: str) -> int:
    """A rough token count of ``text`` for budgeting a prompt, without a provider's tokenizer.

    Wide (CJK) characters count one token each; the rest four characters a
    token. Good enough to keep a prompt inside a budget and to compare prompt
    sizes; not a bill.
    """
    wide = sum(1 for char in text if _wide(char))
    return wide + math.ceil((len(text) - wide) / CHARS_PER_TOKEN)


@attrs.frozen(kw_only=True)
class JudgePrompt:
    """What a provider sends: ``instruction`` as the system message, ``text`` as the user message,
    and ``schema`` as the JSON schema of the answer (structured output)."""

    instruction: str
    text: str
    schema: dict[str, Any]
    #: Message numbers shown to the judge, and those the window left out.
    shown: tuple[int, ...]
    left_out: tuple[int, ...] = ()

    @property
    def tokens(self) -> int:
        """The estimated size of the whole request in tokens (see :func:`estimate_tokens`)."""
        return estimate_tokens(self.instruction) + estimate_tokens(self.text) + estimate_tokens(
            json.dumps(self.schema, ensure_ascii=False))


def _lines(*parts: str) -> str:
    return "\n".join(part for part in parts if part)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " ..."


def _quoted(items: Iterable[str]) -> str:
    return ", ".join(f'"{item}"' for item in items)


# -- the scenario and the criteria ---------------------------------------------


def speaker(message: TranscriptMessage, script: Script) -> str:
    """``learner``, or the character's name (its id when the script no longer has it)."""
    if message.role == LEARNER:
        return "learner"
    try:
        return script.character(message.character_id).name
    except KeyError:
        return message.character_id or "character"


def transcript_line(message: TranscriptMessage, script: Script) -> str:
    """``[seq] learner: text``; a spoken turn is marked, since its text is a speech transcription."""
    who = "learner" if message.role == LEARNER else f"character {speaker(message, script)}"
    return f"[{message.seq}] {who}{' (spoken)' if message.voice else ''}: {message.text}"


def scenario_text(script: Script) -> str:
    characters = "; ".join(f"{c.name}: {_short(c.persona, MAX_PERSONA)}" if c.persona else c.name
                           for c in script.characters)
    return _lines(
        f"Scenario: {script.title}",
        f"Summary: {script.summary}" if script.summary else "",
        f"Setting: {script.setting}" if script.setting else "",
        f"The learner plays: {script.learner_role}" if script.learner_role else "",
        "The learner's objectives:\n" + "\n".join(f"- {o}" for o in script.objectives) if script.objectives else "",
        f"Characters: {characters}",
    )


def _concept(concept: str, script: Script) -> str:
    words = tuple(script.scripted.synonyms.get(concept, ()))[:MAX_SYNONYMS]
    name = concept.replace("_", " ")
    return f'the idea "{name}"' + (f" (for example {_quoted(words)})" if words else "")


def _items(labels: Sequence[str], script: Script) -> str:
    """Concepts and phrases of a check, in plain words."""
    lexicon = lexicon_for(script)
    return "; ".join(_concept(label, script) if lexicon.concept_of(label) else f'"{label}"' for label in labels)


def check_guidance(criterion: Criterion, script: Script) -> str:
    """How the rules check ``criterion``, in plain words: guidance for the judge, not a word list."""
    check = criterion.check
    if check.kind == "beat_reached":
        beats = {beat.id: beat for beat in script.scripted.beats}
        named = {beat.id: beat.label or beat.description or beat.id for beat in script.scripted.beats}
        moments = []
        for beat_id in check.beats:
            beat = beats.get(beat_id)
            said = f" (for example by saying {_quoted(beat.triggers[:2])})" if beat and beat.triggers else ""
            moments.append(named.get(beat_id, beat_id) + said)
        needed = min(check.min_count, len(moments))
        text = f"The learner brings about {needed} of these moments of the scene: " + "; ".join(moments) + "."
        for undo in check.undone_by:
            if undo.after:
                after = "; ".join(named.get(beat_id, beat_id) for beat_id in undo.after)
                text += (f" Once the learner has done this ({after}), saying {_items(undo.says, script)} takes back "
                         f"every moment, those that come after it too")
            else:
                text += f" A moment the learner takes back later no longer counts: by saying {_items(undo.says, script)}"
            if undo.until:
                text += f", unless they then say {_items(undo.until, script)}"
            text += "."
        return text
    if check.kind in ("phrases_used", "phrases_avoided"):
        items = [f'"{phrase}"' for phrase in check.phrases] + [_concept(c, script) for c in check.concepts]
        listed = "; ".join(items[:MAX_PHRASES]) + ("; ..." if len(items) > MAX_PHRASES else "")
        if check.kind == "phrases_avoided":
            return f"The learner never says any of these, in these or other words with the same meaning: {listed}."
        needed = min(check.min_count, len(items))
        return f"The learner says {needed} of these, in these or other words with the same meaning: {listed}."
    if check.kind == "open_questions":
        return (f"The learner asks at least {check.min_count} open question(s), ones that invite a story or an "
                "explanation (what, how, why, tell me about...), rather than yes-or-no questions.")
    return "Judged against what good looks like."


def criterion_text(criterion: Criterion, script: Script) -> str:
    return _lines(
        f"- id: {criterion.id}",
        f"  title: {criterion.title}",
        f"  weight: {criterion.weight:g}",
        f"  description: {criterion.description}" if criterion.description else "",
        f"  what good looks like: {criterion.check.good_looks_like}" if criterion.check.good_looks_like else "",
        f"  check: {check_guidance(criterion, script)}",
    )


def finding_text(finding: RuleFinding) -> str:
    score = "not measured" if finding.score is None else f"{finding.score:g}/100"
    quotes = "; ".join(f'[{e.seq}] "{e.quote}"' for e in finding.evidence[:MAX_FINDING_QUOTES])
    return _lines(
        f"- {finding.criterion_id}: the rules scored {score}.",
        f"  {finding.summary}" if finding.summary else "",
        f"  Matched lines: {quotes}" if quotes else "",
    )


# -- the transcript window ------------------------------------------------------


def window(messages: Sequence[TranscriptMessage], lines: Sequence[str], budget: int,
           opening: int) -> tuple[list[int], list[int]]:
    """Which messages to show (indexes into ``messages``) within ``budget`` tokens, and which to leave out.

    The opening (up to ``opening`` messages, within half the budget) sets the
    scene and holds the greeting; the rest of the budget goes to the most recent
    messages, where the conversation ends up. The first and the last message are
    always shown, even when one alone is over budget.
    """
    costs = [estimate_tokens(line) + 1 for line in lines]  # +1: the newline
    if budget <= 0 or sum(costs) <= budget:
        return list(range(len(messages))), []
    head: list[int] = []
    spent = 0
    for index in range(min(opening, len(messages))):
        if head and spent + costs[index] > budget // 2:
            break
        head.append(index)
        spent += costs[index]
    tail: list[int] = []
    for index in range(len(messages) - 1, head[-1], -1):
        if tail and spent + costs[index] > budget:
            break
        tail.append(index)
        spent += costs[index]
    tail.reverse()
    shown = head + tail
    left_out = [index for index in range(head[-1] + 1, tail[0] if tail else len(messages))]
    return shown, left_out


def transcript_text(request: JudgeRequest) -> tuple[str, tuple[int, ...], tuple[int, ...]]:
    """The numbered transcript lines (windowed), the message numbers shown and those left out."""
    messages = request.transcript
    lines = [transcript_line(m, request.script) for m in messages]
    shown, left_out = window(messages, lines, request.transcript_tokens, request.opening_messages)
    out: list[str] = []
    gap = set(left_out)
    marked = False
    for index in shown:
        if not marked and index - 1 in gap:
            first, last = messages[left_out[0]].seq, messages[left_out[-1]].seq
            out.append(f"[... messages {first} to {last} ({len(left_out)} messages) are left out here to keep "
                       "this short ...]")
            marked = True
        out.append(lines[index])
    return "\n".join(out), tuple(messages[i].seq for i in shown), tuple(messages[i].seq for i in left_out)


# -- the whole prompt -------------------------------------------------------------


def instruction(language: str) -> str:
    """The system instruction: how to judge and how to answer."""
    return _lines(
        "You are a fair and careful assessor of a learner's performance in a role-play practice conversation.",
        "Score every listed criterion from 0 (not done at all) to 100 (done excellently). Judge only what the "
        "learner said; the characters' lines are context.",
        "Credit a behaviour however it is phrased: paraphrases, casual wording and, in lines marked (spoken), "
        "speech-to-text errors count. Something said with a negation (\"I can't refund that\") is not saying it.",
        "Each criterion's check says how a simple rule measures it: take it as guidance on what matters, not as "
        "a word list to match.",
        "The rule findings come from a keyword matcher: they miss paraphrases and can be fooled. Use their "
        "matched lines as candidate evidence, check them against the transcript, and score what the transcript "
        "shows even when that differs from the rules' score.",
        "Evidence: quote the learner's own words exactly, character for character, as one unbroken piece of a "
        "single numbered line, with that line's number as seq. Quote only lines shown in the transcript. Give "
        "no evidence rather than invent it.",
        "Justification: one to three sentences on why this score, naming what the learner did or did not do.",
        "Suggestion: one or two sentences the learner could say next time, built on what this learner actually "
        "said (rework their own words into better ones). When the criterion is fully met, give a way to do even "
        "better, or leave it empty.",
        "In a long conversation some messages in the middle may be left out; judge what is shown and do not "
        "mark the learner down for what you cannot see.",
        f"Write justifications and suggestions in the language with the BCP 47 tag '{language}'. Quotes stay "
        "in the transcript's own words.",
        "Answer with JSON that matches the schema: one entry for each criterion, in the order listed.",
    )


def schema(criteria: Iterable[Criterion]) -> dict[str, Any]:
    """The JSON schema of the answer; ``criterion_id`` may only name the requested criteria."""
    return {
        "type": "object",
        "properties": {
            "criteria": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "criterion_id": {"type": "string", "enum": [c.id for c in criteria]},
                        "score": {"type": "number", "minimum": 0, "maximum": 100},
                        "justification": {"type": "string"},
                        "evidence": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {"seq": {"type": "integer"}, "quote": {"type": "string"}},
                                "required": ["seq", "quote"],
                            },
                        },
                        "suggestion": {"type": "string"},
                    },
                    "required": ["criterion_id", "score", "justification", "evidence", "suggestion"],
                },
            }
        },
        "required": ["criteria"],
    }


def build_judge_prompt(request: JudgeRequest) -> JudgePrompt:
    """The system instruction, user message and answer schema for ``request``: the same for every provider."""
    script = request.script
    wanted = {c.id for c in request.criteria}
    findings = [f for f in request.rule_findings if f.criterion_id in wanted]
    transcript, shown, left_out = transcript_text(request)
    text = "\n\n".join(part for part in (
        scenario_text(script),
        f"Criteria ({len(request.criteria)}):\n" + "\n".join(criterion_text(c, script) for c in request.criteria),
        ("Rule findings (candidate evidence, not the answer):\n" + "\n".join(finding_text(f) for f in findings))
        if findings else "",
        "Transcript (each line: [message number] speaker: words):\n" + transcript,
    ) if part)
    return JudgePrompt(instruction=instruction(request.language), text=text, schema=schema(request.criteria),
                       shown=shown, left_out=left_out)
