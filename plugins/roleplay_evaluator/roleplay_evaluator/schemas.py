"""The shapes the evaluator's routes answer with, as attrs classes: what ``/openapi.json`` describes.

The report itself is :class:`roleplay_evaluator.report.Report`, stored and answered as is; the
rest the handlers build as dictionaries, and the schemathesis run (``tests/test_api_fuzz.py``)
checks every answer against these classes.
"""

from __future__ import annotations

from typing import Any

import attrs

from .report import Report


@attrs.frozen(kw_only=True)
class EvaluationView:
    """An evaluation: ``pending``, ``done`` (with its report) or ``failed`` (with a ``reason``).

    ``reused: true`` marks an evaluation that already existed for the unchanged session.
    """

    id: str
    status: str
    reason: str | None
    user_id: str
    session_id: str
    scenario_id: str
    scenario_title: str
    request_id: str | None
    created_at: str
    finished_at: str | None
    upto_seq: int
    overall_score: int | None
    passed: bool | None
    report: Report | None = None
    reused: bool | None = None


@attrs.frozen(kw_only=True)
class EvaluationList:
    """A page of evaluations, newest first (without their reports)."""

    items: list[EvaluationView]
    next_cursor: str | None


@attrs.frozen(kw_only=True)
class Progress:
    """Scores over time: one entry per scenario, with each criterion's points (docs/api/evaluator.md)."""

    user_id: str
    scenarios: list[dict[str, Any]]
