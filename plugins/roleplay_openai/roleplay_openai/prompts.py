"""What the openai provider says to the model: chat messages built from the kernel's prompts.

The character's system instruction is the kernel's (:func:`roleplay_core.character_instruction`)
and so is the judge prompt (:func:`roleplay_core.build_judge_prompt`): every provider plays the
same character and asks the same questions. Only the message layout is OpenAI's.
"""

from __future__ import annotations

import json
from typing import Any

from roleplay_core import ReplyRequest, character_instruction, is_own_line, turn_text
from roleplay_core.prompting import OPENING


def reply_messages(request: ReplyRequest) -> list[dict[str, str]]:
    """The system message (persona and scene, in the session's language), then the recent history
    as turns: the learner is ``user``, the played character ``assistant``.

    Other characters' lines are user-side context (``[Name]: text``) so the model does not speak
    for them. Consecutive turns of one role merge and a conversation the character opened starts
    with a short user turn, because many local servers' chat templates (Llama, Mistral, Gemma)
    require user and assistant turns to alternate, starting with the user.
    """
    script, character = request.script, request.character
    system = character_instruction(script, character, language=request.language)
    turns: list[dict[str, str]] = []
    for message in request.history:
        role = "assistant" if is_own_line(message, character) else "user"
        text = turn_text(message, script, character)
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"] += "\n" + text
        else:
            turns.append({"role": role, "content": text})
    if not turns or turns[0]["role"] != "user":
        turns.insert(0, {"role": "user", "content": OPENING})
    return [{"role": "system", "content": system}, *turns]


def with_schema(instruction: str, schema: dict[str, Any]) -> str:
    """The judge instruction for a server without json_schema output: the schema goes in the prompt."""
    return (f"{instruction}\nAnswer with one JSON object only, no other text, matching this JSON schema:\n"
            f"{json.dumps(schema, ensure_ascii=False)}")
