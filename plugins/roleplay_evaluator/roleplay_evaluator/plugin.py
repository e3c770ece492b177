"""Hook implementations of the `evaluator` plugin."""

from __future__ import annotations

from typing import Any

import attrs

from roleplay_core import hookimpl

from . import routes
from .runner import runner_of

DEFAULTS = {
    "evaluator": {
        #: A model provider name ("gemini"...) to judge ``model`` criteria; empty: rules only.
        "model": "",
        #: Seconds to wait for the provider's judge call before falling back to the rules.
        "judge_timeout": 30.0,
        #: Judge and rules this many points apart (0-100) on a criterion: flagged for human review.
        "disagreement_points": 35.0,
        #: About this many tokens of transcript go into the judge prompt; a longer transcript keeps its
        #: opening and its most recent messages (0: always the whole transcript).
        "judge_transcript_tokens": 32000,
        #: Seconds POST /evaluations waits for the result before answering 202.
        "inline_wait": 0.5,
        #: How long a process's claim on an evaluation lasts unless renewed; the running process renews
        #: it every third of this, so after a crash another process takes over within
        #: lease_seconds + resume_interval.
        "lease_seconds": 15.0,
        #: How often each process looks for pending evaluations nobody is running (0: only at startup).
        "resume_interval": 10.0,
        #: An evaluation interrupted this many times is marked failed.
        "max_attempts": 3,
        #: Reports with confidence below this recommend a human review.
        "review_below": 0.6,
        #: Default page size of GET /evaluations.
        "list_limit": 50,
        #: New evaluations one user may start per UTC day (0: no limit).
        "daily_limit": 50,
    }
}


def _between(low: float, high: float) -> list[Any]:
    return [attrs.validators.ge(low), attrs.validators.le(high)]


@attrs.frozen(kw_only=True)
class EvaluatorSettings:
    """The ``evaluator`` table, structured by the kernel's strict converter (``settings_schema``)."""

    model: str
    judge_timeout: float = attrs.field(validator=_between(0.1, 600.0))
    disagreement_points: float = attrs.field(validator=_between(0.0, 100.0))
    judge_transcript_tokens: int = attrs.field(validator=_between(0, 2_000_000))
    inline_wait: float = attrs.field(validator=_between(0.0, 30.0))
    lease_seconds: float = attrs.field(validator=_between(1.0, 86_400.0))
    resume_interval: float = attrs.field(validator=_between(0.0, 86_400.0))
    max_attempts: int = attrs.field(validator=_between(1, 100))
    review_below: float = attrs.field(validator=_between(0.0, 1.0))
    list_limit: int = attrs.field(validator=_between(1, 200))
    daily_limit: int = attrs.field(validator=attrs.validators.ge(0))


@hookimpl
def settings_defaults(env):
    return DEFAULTS


@hookimpl
def settings_schema():
    return {"evaluator": EvaluatorSettings}


@hookimpl
async def user_deleted(kernel, user_id):
    """A deleted account leaves no evaluations behind (an admin no longer lists them)."""
    await runner_of(kernel).store.delete_user(user_id)


@hookimpl
def check_storage(kernel, fsck):
    from . import fsck as evaluator_fsck

    return evaluator_fsck.check(kernel, fsck)


@hookimpl
def register_routes(kernel):
    return routes.routes()


@hookimpl
async def startup(kernel):
    await runner_of(kernel).startup()


@hookimpl
async def shutdown(kernel):
    await runner_of(kernel).shutdown()
