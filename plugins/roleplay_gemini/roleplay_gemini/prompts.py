"""What the Gemini provider says to the model: system instructions and history.

The judge prompt and its answer schema are the kernel's (:func:`roleplay_core.build_judge_prompt`),
shared by every provider.
"""

from __future__ import annotations

from collections.abc import Iterable

from google.genai import types

from roleplay_core import (
    Character,
    JudgePrompt,
    JudgeRequest,
    Script,
    TranscriptMessage,
    build_judge_prompt,
    character_instruction,
    history_text,
    is_own_line,
    turn_text,
)
from roleplay_core.prompting import OPENING

#: The character prompt is the kernel's (:mod:`roleplay_core.prompting`), shared with every provider,
#: so Gemini plays the same character as OpenAI or a local model. Re-exported for the live module.
__all__ = ["character_instruction", "history_contents", "history_text", "judge_prompt"]

def _lines(*parts: str) -> str:
    return "\n".join(part for part in parts if part)


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
        role = "model" if is_own_line(message, character) else "user"
        text = turn_text(message, script, character)
        if contents and contents[-1].role == role:
            contents[-1].parts.append(types.Part(text=text))
        else:
            contents.append(types.Content(role=role, parts=[types.Part(text=text)]))
    if not contents or contents[0].role != "user":
        contents.insert(0, types.Content(role="user", parts=[types.Part(text=OPENING)]))
    return contents


def judge_prompt(request: JudgeRequest) -> JudgePrompt:
    """The judge request as every provider sends it (built by the kernel, so Gemini asks what others ask)."""
    return build_judge_prompt(request)
