"""The evaluation report and the evaluation record, as frozen attrs value types."""

from __future__ import annotations

import datetime as dt

import attrs

#: How a criterion was scored.
RULES = "rules"  # the built-in rule-based checks
MODEL = "model"  # judged by the configured language model
FALLBACK = "rules-fallback"  # the model failed or timed out; the rule-based approximation stands in
NOT_SCORED = "not-scored"  # a ``model`` check with no model configured: left out of the overall score

PENDING = "pending"
DONE = "done"
FAILED = "failed"


@attrs.frozen(kw_only=True)
class Quote:
    """A line from the transcript, verbatim: ``quote`` is a substring of message ``seq``'s text."""

    seq: int
    quote: str


@attrs.frozen(kw_only=True)
class CriterionResult:
    criterion_id: str
    title: str
    #: The rubric check kind (beat_reached, phrases_used, phrases_avoided, open_questions, model).
    kind: str
    #: 0 to 100; ``None`` when the criterion could not be measured (a ``model`` check without a
    #: model): it is then left out of the overall score and the report's notes say so.
    score: float | None
    weight: float
    justification: str
    evidence: tuple[Quote, ...] = ()
    #: "Say this instead": set when the score is below the criterion's bar.
    suggestion: str | None = None
    #: One of rules, rules-approximation, model, rules-fallback.
    method: str = RULES
    #: 0 to 1: how far the evaluator trusts this score.
    confidence: float = 1.0
    #: How it was judged, in the report's language ("Judged by the language model ...",
    #: "Checked for phrases such as ...").
    judged_how: str = ""
    #: The rules' own score when a language model judged this criterion (for comparison).
    rules_score: float | None = None
    #: Judge and rules disagreed by more than ``evaluator.disagreement_points``: a person should look.
    needs_review: bool = False


@attrs.frozen(kw_only=True)
class Statistics:
    #: Messages by each side.
    learner_turns: int
    character_turns: int
    learner_words: int
    character_words: int
    #: The learner's share of all words said, 0 to 1.
    talk_share: float
    questions: int
    open_questions: int
    closed_questions: int
    #: From session start to end (or to the last message when the session is still active).
    duration_seconds: float | None


@attrs.frozen(kw_only=True)
class Report:
    session_id: str
    scenario_id: str
    scenario_title: str
    language: str
    #: 0 to 100, the weighted mean of the criteria scores (computed here, never a model's total).
    overall_score: int
    passing_score: int
    passed: bool
    criteria: tuple[CriterionResult, ...]
    strengths: tuple[str, ...]
    improvements: tuple[str, ...]
    next_steps: tuple[str, ...]
    statistics: Statistics
    #: "rules" or "rules+model:<provider>".
    evaluator: str
    evaluator_version: str
    #: The script version as practised (from the transcript) and a digest of its rubric.
    script_version: str | None
    rubric_digest: str
    #: The last message number the evaluation read.
    upto_seq: int
    confidence: float
    needs_human_review: bool
    #: Plain-language notes: fallbacks, dropped quotes, unsupported language...
    notes: tuple[str, ...] = ()
    created_at: dt.datetime


@attrs.frozen(kw_only=True)
class Evaluation:
    """The state of one evaluation request (the report itself is a separate, create-only record)."""

    id: str
    user_id: str
    session_id: str
    scenario_id: str
    status: str  # pending, done, failed
    scenario_title: str = ""
    created_at: dt.datetime
    request_id: str | None = None
    reason: str | None = None
    finished_at: dt.datetime | None = None
    #: Message numbers up to this one are evaluated (the transcript as it was when asked).
    upto_seq: int = 0
    session_started_at: dt.datetime | None = None
    #: Filled when done, so listings and progress need not open every report.
    overall_score: int | None = None
    passed: bool | None = None
    scores: dict[str, float] = attrs.field(factory=dict)
    titles: dict[str, str] = attrs.field(factory=dict)
    #: Run bookkeeping: which process holds the work and until when (epoch seconds).
    attempts: int = 0
    lease_owner: str | None = None
    lease_until: float = 0.0
