"""Turn a transcript into a :class:`Report`: criteria scores, overall score, feedback, confidence."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import importlib.metadata
import json
from collections.abc import Sequence

from roleplay_core import Script, Transcript, TranscriptMessage, unstructure

from . import judge, rules
from .messages import quoted, say
from .questions import rules_for
from .report import MODEL, CriterionResult, Quote, Report, Statistics

#: Fewer learner turns than this make any score shaky.
FEW_TURNS = 3


def version() -> str:
    try:
        return importlib.metadata.version("roleplay-evaluator")
    except importlib.metadata.PackageNotFoundError:  # running from a source tree
        return "0"


def rubric_digest(script: Script) -> str:
    """A short digest of the rubric, so a report names exactly what it was scored against."""
    body = json.dumps(unstructure(script.rubric), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def scored(results: Sequence[CriterionResult]) -> list[CriterionResult]:
    """The criteria with a score: one that could not be measured (``score`` None) counts for nothing."""
    return [r for r in results if r.score is not None]


def overall(results: Sequence[CriterionResult]) -> int:
    """The weighted mean of the criteria scores, 0-100 (a plain mean when every weight is zero)."""
    results = scored(results)
    if not results:
        return 0
    total = sum(r.weight for r in results)
    if total <= 0:
        value = sum(r.score for r in results) / len(results)
    else:
        value = sum(r.score * r.weight for r in results) / total
    return int(min(100, max(0, value)) + 0.5)


def confidence(results: Sequence[CriterionResult], stats: Statistics) -> float:
    results = scored(results)
    if not results:
        return 0.0
    total = sum(r.weight for r in results)
    if total <= 0:
        value = sum(r.confidence for r in results) / len(results)
    else:
        value = sum(r.confidence * r.weight for r in results) / total
    if stats.learner_turns < FEW_TURNS:
        value *= 0.75  # a couple of lines say little about a skill
    return round(value, 2)


def feedback(results: Sequence[CriterionResult], stats: Statistics, bar: int, passed: bool,
             language: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """Up to three strengths, up to three improvements and up to three next steps, from the criteria."""
    results = scored(results)
    good = sorted((r for r in results if r.score >= bar), key=lambda r: (-r.score * r.weight, r.criterion_id))
    weak = sorted((r for r in results if r.score < bar), key=lambda r: (-(100 - r.score) * r.weight, r.criterion_id))
    strengths = tuple(say(language, "feedback.strength", title=r.title, justification=r.justification)
                      for r in good[:3])
    improvements = tuple(say(language, "feedback.improve", title=r.title, score=f"{r.score:g}",
                             justification=r.justification) for r in weak[:3])
    steps: list[str] = []
    for r in weak[:2]:
        if r.suggestion:
            steps.append(say(language, "feedback.step", title=r.title, suggestion=r.suggestion))
    if stats.learner_turns >= FEW_TURNS and stats.talk_share > 0.65:
        steps.append(say(language, "feedback.listen", share=round(stats.talk_share * 100)))
    if stats.closed_questions > stats.open_questions and stats.closed_questions >= 2:
        steps.append(say(language, "feedback.open"))
    if not steps:
        steps.append(say(language, "feedback.passed" if passed else "feedback.again"))
    return strengths, improvements, tuple(steps[:3])


def duration(transcript: Transcript, messages: Sequence[TranscriptMessage]) -> float | None:
    end = transcript.ended_at or (messages[-1].created_at if messages else None)
    if end is None:
        return None
    try:
        return round(max(0.0, (end - transcript.started_at).total_seconds()), 1)
    except TypeError:  # one naive, one aware datetime: say nothing rather than something wrong
        return None


async def evaluate(kernel, transcript: Transcript, upto_seq: int | None = None, *,
                   model: str | None = None, judge_timeout: float = 30.0, review_below: float = 0.6) -> Report:
    """Score ``transcript`` (messages up to ``upto_seq``) against its script's rubric."""
    messages = tuple(m for m in transcript.messages if upto_seq is None or m.seq <= upto_seq)
    script = transcript.script
    language = transcript.language or script.language
    seconds = duration(transcript, messages)

    def run_rules() -> tuple[list[CriterionResult], Statistics, tuple[Quote, ...]]:
        return (rules.score_all(script, messages, language), rules.statistics(messages, language, seconds),
                rules.contempt(script, messages))

    # The rules are pure CPU work: off the event loop (one hop for all three passes) so a long
    # transcript does not stall other requests.
    results, stats, contempt = await asyncio.to_thread(run_rules)
    notes: list[str] = []
    evaluator = "rules"
    # With a model, it judges every criterion in one call, except those the author keeps mechanical.
    judged_criteria = [c for c in script.rubric.criteria if not c.mechanical]
    disagreed = False
    if model and judged_criteria:
        by_id = {r.criterion_id: r for r in results}
        outcome = await judge.judge(kernel, model, script, judged_criteria, messages, language, by_id, judge_timeout)
        results = [outcome.results.get(r.criterion_id, r) for r in results]
        notes.extend(outcome.notes)
        disagreed = outcome.needs_review
        judged = any(r.method == MODEL for r in outcome.results.values())
        evaluator = f"rules+model:{model}" + (f" ({outcome.model})" if outcome.model else "")
        if not judged:
            evaluator = "rules"
    if evaluator == "rules":
        notes.insert(0, say(language, "note.no_model"))
    unscored = [r.title for r in results if r.score is None]
    if unscored:
        notes.append(say(language, "note.not_scored", titles=quoted(unscored, language, limit=len(unscored))))
    if not rules_for(language).supported and any(r.kind == "open_questions" for r in results):
        notes.append(say(language, "note.rough_questions", tag=language))
    if stats.learner_turns < FEW_TURNS:
        notes.append(say(language, "note.short"))
    if not results:
        notes.append(say(language, "note.no_criteria"))
    score = overall(results)
    bar = script.rubric.passing_score
    # Conduct is checked by the rules in every rubric, with a model or without: mocking, belittling or
    # threatening the other person fails the conversation, quoted, whatever the criteria scored.
    if contempt:
        said = quoted([q.quote for q in contempt], language)
        cap = int(bar * rules.CONTEMPT_CAP)
        score = min(score, cap)
        notes.insert(0, say(language, "note.contempt", cap=cap, said=said))
    # A criterion the author marked required (the scenario's core task) that was hardly shown fails
    # the conversation however the others averaged: warmth that never gets to the refund is no pass.
    required = {c.id for c in script.rubric.criteria if c.required}
    missing = [r for r in results if r.criterion_id in required and r.score is not None
               and r.score < rules.REQUIRED_FLOOR]
    if missing:
        titles = quoted([r.title for r in missing], language, limit=len(missing))
        cap = max(bar - 1, 0)
        if score > cap:
            score = cap
            notes.insert(0, say(language, "note.required", cap=cap, titles=titles))
        else:
            notes.insert(0, say(language, "note.required_below", titles=titles))
    passed = bool(results) and score >= bar and not contempt and not missing
    strengths, improvements, steps = feedback(results, stats, bar, passed, language)
    if contempt:
        steps = (say(language, "feedback.contempt", said=said), *steps[:2])
    sure = confidence(results, stats)
    return Report(
        session_id=transcript.session_id,
        scenario_id=transcript.scenario_id,
        scenario_title=script.title,
        language=language,
        overall_score=score,
        passing_score=bar,
        passed=passed,
        criteria=tuple(results),
        strengths=strengths,
        improvements=improvements,
        next_steps=steps,
        statistics=stats,
        evaluator=evaluator,
        evaluator_version=version(),
        script_version=transcript.script_version,
        rubric_digest=rubric_digest(script),
        upto_seq=max((m.seq for m in messages), default=0),
        confidence=sure,
        needs_human_review=sure < review_below or disagreed,
        notes=tuple(notes),
        created_at=dt.datetime.now(dt.UTC),
    )
