"""Preview: play a draft with the built-in character engine, without publishing or saving anything.

The engine is the ``scripted`` model provider that roleplay_chat registers; the
scripter reaches it only through ``kernel.model("scripted")``. Each learner
message becomes one ``ReplyRequest`` whose ``state`` is the previous reply's,
exactly as chat threads it through a session.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs

from roleplay_core import (
    Character,
    FieldError,
    NotSupported,
    Problem,
    ProviderError,
    Reply,
    ReplyDelta,
    ReplyRequest,
    Script,
    TranscriptMessage,
    validation_problem,
)

PROVIDER = "scripted"
#: What ``engine`` may name: the offline engine, or the model chat plays characters with.
ENGINES = ("scripted", "configured")


@attrs.frozen(kw_only=True)
class PreviewRequest:
    """``POST /scripts/{id}/preview``: the learner's messages, in order."""

    messages: tuple[str, ...]
    #: Which version to play; the latest draft when omitted.
    version: int | None = None
    character_id: str | None = None
    seed: int = 0
    #: ``scripted`` (the offline engine, the default) or ``configured``: the provider ``chat.model``
    #: names, the one learners' sessions use (``scripted`` when it is unset).
    engine: str = "scripted"


@attrs.frozen(kw_only=True)
class PreviewTurn:
    learner: str
    reply: str
    #: Beats that fired on this turn (from the provider's ``Reply.info["beats"]``).
    beats: tuple[str, ...] = ()
    mood: int | None = None
    fallback: bool = False
    ended: bool = False
    end_reason: str | None = None
    info: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class Preview:
    script_id: str
    version: int | None
    character_id: str
    opening_line: str | None
    turns: tuple[PreviewTurn, ...]
    #: Every beat that fired, in order.
    beats_fired: tuple[str, ...]
    ended: bool
    end_reason: str | None
    #: Learner messages not played because the scene ended first.
    unplayed: int = 0
    #: The model provider that played it.
    engine: str = PROVIDER


def _message(seq: int, role: str, text: str, character_id: str | None = None) -> TranscriptMessage:
    return TranscriptMessage(seq=seq, role=role, text=text, created_at=dt.datetime.now(dt.UTC),
                             character_id=character_id)


def pick_character(script: Script, character_id: str | None) -> Character:
    try:
        return script.character(character_id)
    except KeyError:
        raise validation_problem([FieldError("character_id", f"the script has no character {character_id!r}")]) from None


def engine_name(kernel: Any, engine: str) -> str:
    """The model provider an ``engine`` choice names: ``chat.model`` for ``configured`` (the rule chat
    plays sessions by), else the offline engine."""
    if engine == "configured":
        return str(kernel.settings.get("chat.model") or PROVIDER)
    return PROVIDER


async def run_preview(kernel: Any, script: Script, request: PreviewRequest, *, version: int | None) -> Preview:
    """Play ``request.messages`` against ``script``; 503 when the engine is not installed."""
    name = engine_name(kernel, request.engine)
    try:
        provider = kernel.model(name)
    except LookupError:
        if name != PROVIDER:
            raise Problem(503, f"chat.model names {name!r}, and no model provider has that name here.") from None
        raise Problem(503, "Preview needs the built-in character engine (the 'scripted' model provider, shipped "
                           "by roleplay-chat), and it is not installed.") from None
    if "reply" not in provider.capabilities:
        raise Problem(503, f"The '{name}' model provider installed here cannot play characters.")
    character = pick_character(script, request.character_id)
    history: list[TranscriptMessage] = []
    opening = character.opening_line if character.speaks_first and character.opening_line.strip() else None
    if opening:
        history.append(_message(1, "character", opening, character.id))
    state: dict[str, Any] = {}
    turns: list[PreviewTurn] = []
    fired: list[str] = []
    ended, end_reason = False, None
    for text in request.messages:
        if ended:
            break
        history.append(_message(len(history) + 1, "learner", text))
        reply_request = ReplyRequest(script=script, character=character, history=tuple(history), state=state,
                                     seed=request.seed, language=script.language)
        final = await _collect(provider, reply_request)
        state = dict(final.state)
        info = dict(final.info)
        beats = tuple(str(b) for b in info.get("beats") or ())
        fired.extend(beats)
        ended, end_reason = final.ended, final.end_reason
        turns.append(PreviewTurn(learner=text, reply=final.text, beats=beats, mood=info.get("mood"),
                                 fallback=bool(info.get("fallback", not beats)), ended=final.ended,
                                 end_reason=final.end_reason, info=info))
        history.append(_message(len(history) + 1, "character", final.text, info.get("character_id") or character.id))
    return Preview(script_id=script.id, version=version, character_id=character.id, opening_line=opening,
                   turns=tuple(turns), beats_fired=tuple(fired), ended=ended, end_reason=end_reason,
                   unplayed=len(request.messages) - len(turns), engine=name)


async def _collect(provider: Any, request: ReplyRequest) -> Reply:
    deltas: list[str] = []
    final: Reply | None = None
    try:
        async for item in provider.reply(request):
            if isinstance(item, ReplyDelta):
                deltas.append(item.text)
            elif isinstance(item, Reply):
                final = item
    except NotSupported as exc:
        raise Problem(503, str(exc)) from None
    except ProviderError as exc:
        raise Problem(502, f"The character engine failed: {exc}") from None
    if final is None:  # a provider that only streamed: keep what it said
        final = Reply(text="".join(deltas))
    return final
