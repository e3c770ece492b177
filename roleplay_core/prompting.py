"""The character prompt, built once for every model provider.

A provider that plays a character tells its model who the character is, what
the scene is and how to behave. Building that text here, not in each provider,
means Gemini, OpenAI or a local model play the same character from the same
script, and a prompt fix reaches every provider at once. How the history is
laid out (Gemini's ``user``/``model`` contents, OpenAI's chat messages) stays
with each provider, since it follows each API's rules; the speaker names come
from :func:`roleplay_core.judging.speaker`.
"""

from __future__ import annotations

from collections.abc import Iterable

from .judging import speaker
from .script import Character, Script
from .transcript import LEARNER, TranscriptMessage

#: What a provider sends for a conversation the character opens: some APIs want a user turn first.
OPENING = "(The conversation begins.)"


def _lines(*parts: str) -> str:
    return "\n".join(part for part in parts if part)


def scene_text(script: Script) -> str:
    """The scenario as the character should understand it."""
    return _lines(
        f"Scenario: {script.title}.",
        f"Summary: {script.summary}" if script.summary else "",
        f"Setting: {script.setting}" if script.setting else "",
        f"The learner plays: {script.learner_role}" if script.learner_role else "",
    )


def character_instruction(script: Script, character: Character, *, spoken: bool = False,
                          language: str | None = None) -> str:
    """The system instruction that makes a model play ``character`` in ``script``.

    ``language`` is the session's language (a BCP 47 tag), the script's when not given: the
    character answers in it. ``spoken`` asks for short, speakable answers (voice calls).
    """
    others = [c.name for c in script.characters if c.id != character.id]
    return _lines(
        f"You are {character.name}, a character in a role-play conversation that helps a learner practise.",
        character.persona,
        f"Your traits: {', '.join(character.traits)}." if character.traits else "",
        f"How you speak: {character.speaking_style}" if character.speaking_style else "",
        scene_text(script),
        f"Other people in the scene: {', '.join(others)}." if others else "",
        f"Always answer in the language with the BCP 47 tag '{language or script.language}'.",
        "Stay in character. Never mention that you are an AI, a model or a role-play, and never coach the learner.",
        "Keep each answer short, as people do when they talk." if spoken else "Answer with what you say only: no stage directions, no name prefix.",
    )


def is_own_line(message: TranscriptMessage, character: Character) -> bool:
    """Whether ``message`` was said by the played character (its turns are the model's own)."""
    return message.role != LEARNER and message.character_id in (None, character.id)


def turn_text(message: TranscriptMessage, script: Script, character: Character) -> str:
    """A line as the model sees it: its own and the learner's words bare, another character's as
    ``[Name]: text`` context, so the model does not speak for them."""
    if message.role == LEARNER or is_own_line(message, character):
        return message.text
    return f"[{speaker(message, script)}]: {message.text}"


def history_text(script: Script, history: Iterable[TranscriptMessage]) -> str:
    """The conversation so far as plain lines, for a live session's system instruction."""
    lines = [f"{speaker(m, script)}: {m.text}" for m in history]
    return _lines("The conversation so far:", *lines) if lines else ""


__all__ = ["OPENING", "character_instruction", "history_text", "is_own_line", "scene_text", "turn_text"]
