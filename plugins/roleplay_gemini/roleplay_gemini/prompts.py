"""What the Gemini provider says to the model: system instructions, history and the judge schema."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from google.genai import types

from roleplay_core import Character, Criterion, Script, TranscriptMessage

LEARNER = "learner"


def _lines(*parts: str) -> str:
    return "\n".join(part for part in parts if part)


def scene(script: Script) -> str:
    """The scenario as the character should understand it."""
    return _lines(
        f"Scenario: {script.title}.",
        f"Summary: {script.summary}" if script.summary else "",
        f"Setting: {script.setting}" if script.setting else "",
        f"The learner plays: {script.learner_role}" if script.learner_role else "",
    )


def character_instruction(script: Script, character: Character, *, spoken: bool = False) -> str:
    """The system instruction that makes the model play ``character`` in ``script``."""
    others = [c.name for c in script.characters if c.id != character.id]
    return _lines(
        f"You are {character.name}, a character in a role-play conversation that helps a learner practise.",
        character.persona,
        f"Your traits: {', '.join(character.traits)}." if character.traits else "",
        f"How you speak: {character.speaking_style}" if character.speaking_style else "",
        scene(script),
        f"Other people in the scene: {', '.join(others)}." if others else "",
        f"Always answer in the language with the BCP 47 tag '{script.language}'.",
        "Stay in character. Never mention that you are an AI, a model or a role-play, and never coach the learner.",
        "Keep each answer short, as people do when they talk." if spoken else "Answer with what you say only: no stage directions, no name prefix.",
    )


def speaker(message: TranscriptMessage, script: Script) -> str:
    if message.role == LEARNER:
        return "learner"
    try:
        return script.character(message.character_id).name
    except KeyError:
        return message.character_id or "character"


def history_contents(script: Script, character: Character,
                     history: Iterable[TranscriptMessage]) -> list[types.Content]:
    """The transcript as Gemini turns: the learner is ``user``, the played character ``model``.

    Other characters' lines go in as user-side context so the model does not speak
    for them. Consecutive turns of one role merge, and a conversation the
    character opened starts with a short user turn, because Gemini expects the
    contents to begin with the user.
    """
    contents: list[types.Content] = []
    for message in history:
        mine = message.role != LEARNER and (message.character_id in (None, character.id))
        role = "model" if mine else "user"
        text = message.text if mine or message.role == LEARNER else f"[{speaker(message, script)}]: {message.text}"
        if contents and contents[-1].role == role:
            contents[-1].parts.append(types.Part(text=text))
        else:
            contents.append(types.Content(role=role, parts=[types.Part(text=text)]))
    if not contents or contents[0].role != "user":
        contents.insert(0, types.Content(role="user", parts=[types.Part(text="(The conversation begins.)")]))
    return contents


def history_text(script: Script, history: Iterable[TranscriptMessage]) -> str:
    """The conversation so far as plain lines, for a live session's system instruction."""
    lines = [f"{speaker(m, script)}: {m.text}" for m in history]
    return _lines("The conversation so far:", *lines) if lines else ""


def transcript_text(script: Script, transcript: Iterable[TranscriptMessage]) -> str:
    """Numbered lines ``[seq] learner: text`` that evidence quotes point back to."""
    return "\n".join(
        f"[{m.seq}] {'learner' if m.role == LEARNER else 'character ' + speaker(m, script)}: {m.text}"
        for m in transcript
    )


def judge_instruction(script: Script) -> str:
    return _lines(
        "You assess a learner's performance in a role-play practice conversation against rubric criteria.",
        scene(script),
        "Objectives: " + "; ".join(script.objectives) if script.objectives else "",
        "Score each criterion from 0 (absent) to 100 (excellent). Judge only what the learner said.",
        "Evidence quotes must be copied exactly, character for character, from the numbered transcript lines,",
        "with the line's number as seq. A suggestion is one short thing the learner could say instead.",
        f"Write justifications and suggestions in the language '{script.language}'.",
    )


def judge_prompt(script: Script, criteria: Iterable[Criterion], transcript: Iterable[TranscriptMessage]) -> str:
    rubric = "\n".join(
        _lines(
            f"- id: {c.id}",
            f"  title: {c.title}",
            f"  description: {c.description}" if c.description else "",
            f"  good looks like: {c.check.good_looks_like}" if c.check.good_looks_like else "",
        )
        for c in criteria
    )
    return f"Criteria:\n{rubric}\n\nTranscript:\n{transcript_text(script, transcript)}"


def judge_schema(criteria: Iterable[Criterion]) -> dict[str, Any]:
    """A JSON schema for the answer; ``criterion_id`` may only name the requested criteria."""
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
