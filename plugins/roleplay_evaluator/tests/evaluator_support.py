"""Test helpers: a transcript source plugin, a small rubric script, fake judges, transcripts."""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib.metadata
from collections.abc import Iterable, Sequence

import pytest

from roleplay_core import (
    CriterionJudgement,
    Evidence,
    Judgement,
    JudgeRequest,
    ModelProvider,
    ProviderError,
    Script,
    Transcript,
    TranscriptMessage,
    hookimpl,
    script_from_dict,
)

T0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)

#: End-to-end tests need the plugin that owns sessions and ships the starter scripts. Found by its
#: entry point (as the kernel finds it), never imported.
CHAT_INSTALLED = bool(importlib.metadata.entry_points(group="roleplay", name="chat"))
requires_chat = pytest.mark.skipif(not CHAT_INSTALLED, reason="needs roleplay-chat installed: it owns practice "
                                   "sessions and ships the starter scripts")


class TranscriptSource:
    """A stand-in session owner: answers the kernel's ``get_transcript`` hook from a dict."""

    name = "fake_transcripts"

    def __init__(self) -> None:
        self.transcripts: dict[str, Transcript] = {}

    def add(self, transcript: Transcript) -> Transcript:
        self.transcripts[transcript.session_id] = transcript
        return transcript

    @hookimpl
    def get_transcript(self, kernel, session_id):
        async def answer():
            await asyncio.sleep(0)  # an awaitable answer, as the hook allows
            return self.transcripts.get(session_id)

        return answer()


def transcript(script: Script, turns: Sequence[tuple[str, str]], *, session_id: str = "s1", user_id: str = "alice",
               beats: Sequence[Iterable[str] | None] | None = None, started_at: dt.datetime = T0,
               status: str = "ended") -> Transcript:
    """Messages numbered from 1, a minute apart; ``turns`` are ``(role, text)`` with role 'l' or 'c'."""
    messages = []
    for n, (role, text) in enumerate(turns):
        fired = None
        if beats is not None:
            fired = tuple(beats[n]) if beats[n] is not None else ()
        messages.append(TranscriptMessage(
            seq=n + 1, role="learner" if role == "l" else "character", text=text,
            created_at=started_at + dt.timedelta(minutes=n + 1), beats=fired,
        ))
    return Transcript(
        session_id=session_id, user_id=user_id, scenario_id=script.id, script=script, script_version="3",
        character_id=script.characters[0].id, language=script.language, status=status, started_at=started_at,
        ended_at=started_at + dt.timedelta(minutes=len(turns) + 1) if status == "ended" else None,
        messages=tuple(messages),
    )


def small_script(language: str = "en", *, with_model: bool = True) -> Script:
    """A rubric with every check kind, for unit tests."""
    criteria = [
        {"id": "empathy", "title": "Shows empathy", "weight": 2.0,
         "check": {"kind": "phrases_used", "phrases": ["I understand"], "concepts": ["sorry"], "min_count": 2},
         "suggestion": "Say: \"I understand how frustrating this is, and I'm sorry.\""},
        {"id": "no-blame", "title": "Does not blame the customer", "weight": 1.0,
         "check": {"kind": "phrases_avoided", "phrases": ["your fault", "calm down"]}},
        {"id": "explore", "title": "Asks open questions", "weight": 1.0,
         "check": {"kind": "open_questions", "min_count": 2}},
        {"id": "resolution", "title": "Reaches a resolution", "weight": 2.0,
         "check": {"kind": "beat_reached", "beats": ["offer-refund"]}},
    ]
    if with_model:
        criteria.append({"id": "tone", "title": "Professional, warm tone", "weight": 1.0,
                         "check": {"kind": "model", "good_looks_like":
                                   "Acknowledges the frustration, apologises sincerely and proposes a concrete "
                                   "next step with a clear timeline."}})
    return script_from_dict({
        "id": "refund-small", "language": language, "title": "Refund (small)",
        "characters": [{"id": "dana", "name": "Dana"}],
        "scripted": {
            "synonyms": {"refund": ["money back", "reimburse"], "sorry": ["apologise", "apologize", "my apologies"]},
            "beats": [
                {"id": "greet", "triggers": ["hello", "good morning"], "replies": ["Hi."]},
                {"id": "offer-refund", "triggers": ["full refund", "refund you"], "replies": ["Fine, thanks."],
                 "description": "offers the refund"},
            ],
        },
        "rubric": {"passing_score": 70, "criteria": criteria},
    })


GOOD = [
    ("l", "Good morning, I'm Sam from support."),
    ("c", "Finally! My blender broke after two days."),
    ("l", "I understand, that sounds really frustrating. I'm so sorry about that. What happened when you used it?"),
    ("c", "It just stopped and smelled of smoke."),
    ("l", "Thank you for telling me. How did you feel when it happened?"),
    ("c", "Scared, honestly."),
    ("l", "I can offer you a full refund today, and the money back will reach you within five days."),
    ("c", "Fine, thanks."),
]

POOR = [
    ("l", "Yes?"),
    ("c", "My blender broke after two days."),
    ("l", "Did you read the manual? It's probably your fault."),
    ("c", "Excuse me?"),
    ("l", "Calm down. Is it plugged in?"),
    ("c", "I want to talk to a manager."),
]


class Judge(ModelProvider):
    """A fake judge: scores every criterion it is asked about, quoting the learner's first line."""

    name = "fake-judge"
    capabilities = frozenset({"judge"})

    def __init__(self, kernel=None, *, score: float = 90.0, invent: bool = False, delay: float = 0.0,
                 fail: bool = False, malformed: bool = False) -> None:
        self.score, self.invent, self.delay, self.fail, self.malformed = score, invent, delay, fail, malformed
        self.requests: list[JudgeRequest] = []

    async def judge(self, request: JudgeRequest):
        self.requests.append(request)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail:
            raise ProviderError("quota exceeded")
        if self.malformed:
            return {"criteria": [{"criterion_id": request.criteria[0].id, "score": 250}]}
        first = next(m for m in request.transcript if m.role == "learner")
        evidence = [Evidence(seq=first.seq, quote=first.text[:12])]
        if self.invent:
            evidence = [Evidence(seq=first.seq, quote="I promise you a free car"),
                        Evidence(seq=99, quote="words nobody said")]
        return Judgement(
            criteria=tuple(CriterionJudgement(criterion_id=c.id, score=self.score, justification="Warm and clear.",
                                              evidence=tuple(evidence), suggestion="Name a timeline.")
                           for c in request.criteria) + (
                CriterionJudgement(criterion_id="not-asked", score=100.0),),  # ignored: not asked for
            model="fake-1",
        )


class JudgePlugin:
    """Registers judges through the kernel's model-provider hook."""

    name = "fake_judges"

    def __init__(self, **judges: Judge) -> None:
        self.judges = judges

    @hookimpl
    def register_model_providers(self):
        return {name: (lambda kernel, judge=judge: judge) for name, judge in self.judges.items()}
