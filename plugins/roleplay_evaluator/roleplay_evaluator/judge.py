"""Model judging: criteria with check kind ``model`` scored by a provider's structured ``judge`` call.

The provider's answer is re-validated with cattrs (it may come from a language
model, so nothing is trusted): scores must be 0-100, criterion ids must be the
ones asked for, and every quote must be found verbatim in the transcript.
Quotes that are not found are dropped and lower the criterion's confidence.
Any failure or a timeout leaves the rule-based approximation in place and the
report says so.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import attrs

from roleplay_core import (
    Criterion,
    Judgement,
    JudgeRequest,
    Problem,
    Script,
    TranscriptMessage,
    structure,
    unstructure,
)

from .report import FALLBACK, MODEL, CriterionResult, Quote

logger = logging.getLogger("roleplay.evaluator")

#: Confidence in a model's score before quotes are checked, and what each dropped quote costs.
MODEL_CONFIDENCE = 0.85
DROPPED_QUOTE_COST = 0.15


@attrs.frozen
class JudgeOutcome:
    results: dict[str, CriterionResult]
    notes: tuple[str, ...]
    #: The model name the provider reported (for the report's evaluator field).
    model: str = ""


def validate(answer: object) -> Judgement:
    """Re-structure the provider's answer with cattrs; a 422 :class:`Problem` when it is malformed."""
    if isinstance(answer, dict):
        data = answer
    elif attrs.has(type(answer)):
        data = unstructure(answer)  # round-trip: a provider may have built it without validators running
    else:
        raise Problem(422, f"expected a Judgement, got {type(answer).__name__}")
    return structure(data, Judgement)


def verify_quote(quote: str, seq: int, messages: Sequence[TranscriptMessage]) -> Quote | None:
    """The quote if it is verbatim in message ``seq`` (or, renumbered, in another message); else ``None``."""
    if not quote.strip():
        return None
    by_seq = {m.seq: m for m in messages}
    message = by_seq.get(seq)
    if message is not None and quote in message.text:
        return Quote(seq=seq, quote=quote)
    # A right quote with a wrong number is still evidence: renumber it to the first message holding it.
    for message in messages:
        if quote in message.text:
            return Quote(seq=message.seq, quote=quote)
    return None


async def judge(kernel, provider_name: str, script: Script, criteria: Sequence[Criterion],
                messages: Sequence[TranscriptMessage], language: str, fallback: dict[str, CriterionResult],
                seconds: float) -> JudgeOutcome:
    """Judge ``criteria`` with the provider; every criterion it cannot judge keeps its ``fallback`` result."""
    ids = ", ".join(c.id for c in criteria)

    def fall_back(reason: str) -> JudgeOutcome:
        logger.warning("evaluator: model judge %r failed (%s); rule-based results stand for %s",
                       provider_name, reason, ids)
        results = {c.id: attrs.evolve(fallback[c.id], method=FALLBACK) for c in criteria}
        note = (f"The language model ({provider_name}) {reason}; the criteria {ids} were scored by the "
                "rule-based approximation instead.")
        return JudgeOutcome(results, (note,))

    try:
        provider = kernel.model(provider_name)
        request = JudgeRequest(script=script, criteria=tuple(criteria), transcript=tuple(messages),
                               language=language)
        answer = await asyncio.wait_for(provider.judge(request), seconds)
        judgement = validate(answer)
    except TimeoutError:
        return fall_back(f"did not answer within {seconds:g} seconds")
    except Problem as problem:
        return fall_back(f"gave a malformed answer ({problem.detail})")
    except LookupError as exc:
        return fall_back(f"is not available ({exc})")
    except Exception as exc:  # a provider's own failure must never fail the evaluation
        return fall_back(f"failed ({type(exc).__name__}: {exc})"[:300])

    wanted = {c.id: c for c in criteria}
    answered = {j.criterion_id: j for j in judgement.criteria if j.criterion_id in wanted}
    results: dict[str, CriterionResult] = {}
    notes: list[str] = []
    dropped_total = 0
    for criterion in criteria:
        verdict = answered.get(criterion.id)
        if verdict is None:
            results[criterion.id] = attrs.evolve(fallback[criterion.id], method=FALLBACK)
            notes.append(f"The language model did not judge '{criterion.id}'; the rule-based approximation stands.")
            continue
        kept: list[Quote] = []
        dropped = 0
        for evidence in verdict.evidence:
            quote = verify_quote(evidence.quote, evidence.seq, messages)
            if quote is None:
                dropped += 1
            elif quote not in kept:
                kept.append(quote)
        dropped_total += dropped
        justification = verdict.justification.strip()[:600] or "Judged by the language model."
        if dropped:
            justification += f" ({dropped} quoted line(s) were not found in the transcript and were dropped.)"
        fell_short = verdict.score < script.rubric.passing_score
        suggestion = (criterion.suggestion or verdict.suggestion.strip() or criterion.check.good_looks_like or None)
        results[criterion.id] = CriterionResult(
            criterion_id=criterion.id,
            title=criterion.title,
            kind=criterion.check.kind,
            score=round(float(verdict.score), 1),
            weight=criterion.weight,
            justification=justification,
            evidence=tuple(kept),
            suggestion=suggestion if fell_short else None,
            method=MODEL,
            confidence=round(max(0.2, MODEL_CONFIDENCE - DROPPED_QUOTE_COST * dropped), 2),
        )
    if dropped_total:
        notes.append(f"{dropped_total} quote(s) from the language model were not found verbatim in the "
                     "transcript and were dropped; confidence is lower.")
    return JudgeOutcome(results, tuple(notes), judgement.model)
