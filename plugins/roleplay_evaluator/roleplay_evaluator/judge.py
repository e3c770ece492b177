"""Model judging: when ``evaluator.model`` is set, one structured ``judge`` call scores every criterion.

Every criterion of the rubric goes to the provider in ONE call, except those
an author marked ``mechanical`` (always the rules' result). The request carries
the rules' findings as candidate evidence; the prompt itself is built by the
kernel (:func:`roleplay_core.build_judge_prompt`) so every provider asks the
same thing.

The provider's answer is re-validated with cattrs (it may come from a language
model, so nothing is trusted): scores must be 0-100, criterion ids must be the
ones asked for, and every quote must be found verbatim in the transcript.
Quotes that are not found are dropped and lower the criterion's confidence.
Where the judge and the rules differ by more than ``evaluator.disagreement_points``
the criterion is flagged for a person to review, with both figures. Any
failure or a timeout leaves the rules' results in place and the report says so.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence

import attrs

from roleplay_core import (
    Criterion,
    Evidence,
    Judgement,
    JudgeRequest,
    Problem,
    RuleFinding,
    Script,
    TranscriptMessage,
    build_judge_prompt,
    structure,
    unstructure,
)

from .messages import say
from .report import FALLBACK, MODEL, NOT_SCORED, CriterionResult, Quote

logger = logging.getLogger("roleplay.evaluator")

#: Confidence in a model's score before quotes are checked, and what each dropped quote costs.
MODEL_CONFIDENCE = 0.85
DROPPED_QUOTE_COST = 0.15
#: Every sentence model judging puts in a report, in English, in one place so it can be translated.
def text(key: str, language: str = "en", **values: object) -> str:
    """The report sentence ``key`` filled with ``values``, in the report's language."""
    return say(language, "how.model" if key == "judged_how" else f"judge.{key}", **values)


def fell_back(result: CriterionResult, language: str) -> CriterionResult:
    """The rules' result standing in for the judge's (a criterion the rules cannot score stays unscored)."""
    if result.score is None:
        return result
    return attrs.evolve(result, method=FALLBACK, judged_how=say(language, "how.fallback"))


@attrs.frozen
class JudgeOutcome:
    results: dict[str, CriterionResult]
    notes: tuple[str, ...]
    #: The model name the provider reported (for the report's evaluator field).
    model: str = ""
    #: The judge and the rules disagreed on at least one criterion.
    needs_review: bool = False


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


def measured(result: CriterionResult) -> bool:
    """The rules really measured this criterion (a ``model`` check without offline rules is unscored)."""
    return result.score is not None and result.method != NOT_SCORED


def findings(criteria: Sequence[Criterion], rules: Mapping[str, CriterionResult]) -> tuple[RuleFinding, ...]:
    """The rules' results as candidate evidence. Keyword estimates of ``model`` checks are left out: too
    rough to show a judge, they would only anchor it."""
    out = []
    for criterion in criteria:
        result = rules.get(criterion.id)
        if result is not None and measured(result):
            out.append(RuleFinding(criterion_id=criterion.id, score=result.score, summary=result.justification,
                                   evidence=tuple(Evidence(seq=q.seq, quote=q.quote) for q in result.evidence)))
    return tuple(out)


async def judge(kernel, provider_name: str, script: Script, criteria: Sequence[Criterion],
                messages: Sequence[TranscriptMessage], language: str, fallback: dict[str, CriterionResult],
                seconds: float) -> JudgeOutcome:
    """Judge ``criteria`` in one provider call; every criterion it cannot judge keeps its ``fallback`` result."""
    ids = ", ".join(c.id for c in criteria)
    settings = kernel.typed_settings("evaluator")
    points, budget = settings.disagreement_points, settings.judge_transcript_tokens

    def fall_back(reason: str) -> JudgeOutcome:
        logger.warning("evaluator: model judge %r failed (%s); rule-based results stand for %s",
                       provider_name, reason, ids)
        results = {c.id: fell_back(fallback[c.id], language) for c in criteria}
        return JudgeOutcome(results, (text("fallback", language, provider=provider_name, reason=reason, ids=ids),))

    request = JudgeRequest(script=script, criteria=tuple(criteria), transcript=tuple(messages), language=language,
                           rule_findings=findings(criteria, fallback), transcript_tokens=budget)
    try:
        provider = kernel.model(provider_name)
        answer = await asyncio.wait_for(provider.judge(request), seconds)
        judgement = validate(answer)
    except TimeoutError:
        return fall_back(text("timeout", language, seconds=seconds))
    except Problem as problem:
        return fall_back(text("malformed", language, detail=problem.detail))
    except LookupError as exc:
        return fall_back(text("unavailable", language, detail=exc))
    except Exception as exc:  # a provider's own failure must never fail the evaluation
        return fall_back(text("failed", language, detail=f"{type(exc).__name__}: {exc}"[:300]))

    wanted = {c.id: c for c in criteria}
    answered = {j.criterion_id: j for j in judgement.criteria if j.criterion_id in wanted}
    results: dict[str, CriterionResult] = {}
    notes: list[str] = []
    dropped_total = 0
    review = False
    model = judgement.model or provider_name
    for criterion in criteria:
        verdict = answered.get(criterion.id)
        if verdict is None:
            results[criterion.id] = fell_back(fallback[criterion.id], language)
            notes.append(text("not_judged", language, criterion=criterion.id))
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
        justification = verdict.justification.strip()[:600] or text("justification", language)
        if dropped:
            justification += text("dropped", language, count=dropped)
        score = round(float(verdict.score), 1)
        rules = fallback[criterion.id]
        rules_score = rules.score if measured(rules) else None
        apart = abs(score - rules_score) if rules_score is not None else 0.0
        flagged = apart > points
        if flagged:
            review = True
            notes.append(text("disagreement", language, title=criterion.title, judge=score, rules=rules_score,
                              points=round(apart, 1)))
        fell_short = score < script.rubric.passing_score
        # The judge's suggestion is built on what this learner said, so it comes before the author's general one.
        suggestion = verdict.suggestion.strip() or criterion.suggestion or criterion.check.good_looks_like or None
        results[criterion.id] = CriterionResult(
            criterion_id=criterion.id,
            title=criterion.title,
            kind=criterion.check.kind,
            score=score,
            weight=criterion.weight,
            justification=justification,
            evidence=tuple(kept),
            suggestion=suggestion if fell_short else None,
            method=MODEL,
            confidence=round(max(0.2, MODEL_CONFIDENCE - DROPPED_QUOTE_COST * dropped), 2),
            judged_how=text("judged_how", language, model=model),
            rules_score=rules_score,
            needs_review=flagged,
        )
    if dropped_total:
        notes.append(text("dropped_note", language, count=dropped_total))
    prompt = build_judge_prompt(request)
    if prompt.left_out and any(r.method == MODEL for r in results.values()):
        shown = [seq for seq in prompt.shown if seq < prompt.left_out[0]]
        after = [seq for seq in prompt.shown if seq > prompt.left_out[-1]]
        notes.append(text("window", language, head=shown[-1] if shown else 0, tail=after[0] if after else 0,
                          count=len(prompt.left_out)))
    return JudgeOutcome(results, tuple(notes), judgement.model, review)
