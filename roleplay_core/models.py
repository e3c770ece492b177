"""The model-provider interface that chat and the evaluator share.

A provider plays a character (:meth:`ModelProvider.reply`, streamed) and judges
a transcript against rubric criteria (:meth:`ModelProvider.judge`,
structured). Providers that can hold a real-time speech conversation also
implement :meth:`ModelProvider.connect_live`. Register a factory through the
``register_model_providers`` hook; chat and the evaluator look providers up by
name with ``kernel.model(name)``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import attrs

from .script import Character, Criterion, Script
from .transcript import TranscriptMessage


class NotSupported(Exception):
    """The provider does not have this capability (for example no live speech)."""


class ProviderError(Exception):
    """The provider failed (network, quota, malformed answer). The message is safe to show."""


@attrs.frozen(kw_only=True)
class ReplyRequest:
    script: Script
    character: Character
    #: The conversation so far, oldest first, ending with the learner's newest message.
    #: Chat may send only a recent window of a very long session.
    history: tuple[TranscriptMessage, ...]
    #: What this provider returned as ``Reply.state`` last time in this session ({} at first).
    state: Mapping[str, Any] = attrs.field(factory=dict)
    #: Deterministic providers must give the same replies for the same seed and input.
    seed: int = 0
    language: str = "en"


@attrs.frozen
class ReplyDelta:
    """A piece of the reply text, streamed as it is produced."""

    text: str


@attrs.frozen(kw_only=True)
class Reply:
    """The whole reply, yielded last. ``text`` is the concatenation of the deltas."""

    text: str
    #: Opaque, JSON-serialisable provider state, handed back in the next ``ReplyRequest``.
    state: Mapping[str, Any] = attrs.field(factory=dict)
    #: True when the scene is over (an end condition was met).
    ended: bool = False
    end_reason: str | None = None
    #: Provider facts for authors and logs, for example ``{"beats": ["greet"], "mood": -2}``.
    info: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class Evidence:
    seq: int
    quote: str


@attrs.frozen(kw_only=True)
class RuleFinding:
    """What the rule-based checks found for one criterion, offered to a judge as candidate evidence."""

    criterion_id: str
    #: The rules' score, 0 to 100 (``None`` when the rules cannot measure the criterion).
    score: float | None
    #: The rules' justification, in plain words.
    summary: str = ""
    #: The lines the rules matched, verbatim, with their message numbers.
    evidence: tuple[Evidence, ...] = ()


@attrs.frozen(kw_only=True)
class JudgeRequest:
    script: Script
    #: The criteria to judge: every criterion of the rubric except the ``mechanical`` ones.
    criteria: tuple[Criterion, ...]
    #: The whole transcript; the prompt shows a window of it when ``transcript_tokens`` is set.
    transcript: tuple[TranscriptMessage, ...]
    language: str = "en"
    #: The rules' results for the criteria, as candidate evidence for the judge.
    rule_findings: tuple[RuleFinding, ...] = ()
    #: At most about this many tokens of transcript go into the prompt (0: all of it). A longer
    #: transcript keeps its first ``opening_messages`` and then the most recent messages that fit.
    transcript_tokens: int = attrs.field(default=0, validator=attrs.validators.ge(0))
    opening_messages: int = attrs.field(default=6, validator=attrs.validators.ge(0))


@attrs.frozen(kw_only=True)
class CriterionJudgement:
    criterion_id: str
    #: 0 to 100.
    score: float = attrs.field(validator=[attrs.validators.ge(0), attrs.validators.le(100)])
    justification: str = ""
    evidence: tuple[Evidence, ...] = ()
    suggestion: str = ""


@attrs.frozen(kw_only=True)
class Judgement:
    criteria: tuple[CriterionJudgement, ...]
    model: str = ""


class ModelProvider:
    """Base class for model providers. Override what the provider can do."""

    #: The name it is registered under.
    name: str = "abstract"
    #: What it can do: any of "reply", "judge", "live".
    capabilities: frozenset[str] = frozenset()

    def reply(self, request: ReplyRequest) -> AsyncIterator[ReplyDelta | Reply]:
        """Yield :class:`ReplyDelta` pieces, then exactly one :class:`Reply`."""
        raise NotSupported(f"model provider {self.name!r} cannot play characters")

    async def judge(self, request: JudgeRequest) -> Judgement:
        """Score ``request.criteria`` against the transcript, quoting evidence verbatim."""
        raise NotSupported(f"model provider {self.name!r} cannot judge transcripts")

    async def connect_live(self, request: Any) -> Any:
        """Open a real-time speech session (see ``roleplay_core.live``)."""
        raise NotSupported(f"model provider {self.name!r} has no live speech capability")

    async def close(self) -> None:
        """Release clients and connections at shutdown."""
