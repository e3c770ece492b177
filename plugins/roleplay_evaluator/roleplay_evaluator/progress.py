"""Scores over time: per scenario, and per criterion within it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .report import DONE, Evaluation


def _at(evaluation: Evaluation) -> str:
    return (evaluation.session_started_at or evaluation.created_at).isoformat()


def progress(evaluations: Iterable[Evaluation]) -> list[dict[str, Any]]:
    """One entry per scenario, sessions oldest first.

    A session evaluated more than once counts once, with its newest evaluation:
    progress is about practice sessions, not about how often one was scored.
    """
    latest: dict[str, Evaluation] = {}
    for evaluation in evaluations:
        if evaluation.status != DONE or evaluation.overall_score is None:
            continue
        kept = latest.get(evaluation.session_id)
        if kept is None or evaluation.id > kept.id:  # ids sort by creation time
            latest[evaluation.session_id] = evaluation
    by_scenario: dict[str, list[Evaluation]] = {}
    for evaluation in latest.values():
        by_scenario.setdefault(evaluation.scenario_id, []).append(evaluation)
    out = []
    for scenario_id, items in sorted(by_scenario.items()):
        items.sort(key=lambda e: (_at(e), e.id))
        scores = [e.overall_score for e in items]
        criteria: dict[str, dict[str, Any]] = {}
        for e in items:
            for criterion_id, score in e.scores.items():
                entry = criteria.setdefault(criterion_id, {"criterion_id": criterion_id,
                                                           "title": e.titles.get(criterion_id, criterion_id),
                                                           "points": []})
                entry["points"].append({"evaluation_id": e.id, "session_id": e.session_id, "at": _at(e),
                                        "score": score})
        for entry in criteria.values():
            values = [p["score"] for p in entry["points"]]
            entry.update(first=values[0], latest=values[-1], best=max(values), change=round(values[-1] - values[0], 1))
        out.append({
            "scenario_id": scenario_id,
            "scenario_title": items[-1].scenario_title,
            "sessions": len(items),
            "first_score": scores[0],
            "latest_score": scores[-1],
            "best_score": max(scores),
            "change": scores[-1] - scores[0],
            "points": [{"evaluation_id": e.id, "session_id": e.session_id, "at": _at(e),
                        "overall_score": e.overall_score, "passed": e.passed} for e in items],
            "criteria": list(criteria.values()),
        })
    return out
