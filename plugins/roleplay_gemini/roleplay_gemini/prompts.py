"""What the Gemini provider says to the model: system instructions and history.

The judge prompt and its answer schema are the kernel's (:func:`roleplay_core.build_judge_prompt`),
shared by every provider.
"""

from __future__ import annotations

from collections.abc import Iterable

from google.genai import types

from roleplay_core import (
    LEARNER,
    Character,
    JudgePrompt,
    JudgeRequest,
    Script,
    TranscriptMessage,
    build_judge_prompt,
    speaker,
)


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


def judge_prompt(request: JudgeRequest) -> JudgePrompt:
    """The judge request as every provider sends it (built by the kernel, so Gemini asks what others ask)."""
    return build_judge_prompt(request)
