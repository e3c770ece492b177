"""HTTP API: request an evaluation, read, list, export, progress. Own data only; admins all."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

import attrs
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from roleplay_core import (
    JSON,
    LEARNER,
    Content,
    FieldError,
    Principal,
    Problem,
    Query,
    current_principal,
    operation,
    parse_body,
    query_int,
    validation_problem,
)

from . import export
from .progress import progress
from .report import DONE, FAILED, PENDING, Evaluation, Report
from .runner import fetch_transcript, now, runner_of
from .schemas import EvaluationList, EvaluationView, Progress
from .store import EvaluationStore, new_id

MAX_ID = 200


def _text(limit: int):
    def check(instance: Any, attribute: attrs.Attribute, value: str | None) -> None:
        if value is not None and not 1 <= len(value.strip()) <= limit:
            raise ValueError(f"'{attribute.name}' must have 1 to {limit} characters")

    return check


@attrs.frozen(kw_only=True)
class EvaluationRequest:
    session_id: str = attrs.field(validator=_text(MAX_ID))
    #: An idempotency key: the same key (for the same user) always means the same evaluation.
    request_id: str | None = attrs.field(default=None, validator=_text(MAX_ID))
    #: Evaluate again even though the session has not changed since its last evaluation.
    new: bool = False


def _kernel(request: Request):
    return request.app.state.kernel


def _store(request: Request) -> EvaluationStore:
    return runner_of(_kernel(request)).store


def _settings(request: Request) -> Any:
    """The typed ``evaluator`` settings (``EvaluatorSettings``)."""
    return _kernel(request).typed_settings("evaluator")


def present(evaluation: Evaluation, report: Report | None = None, *, with_report: bool = True) -> dict[str, Any]:
    """The public shape of an evaluation (lease bookkeeping left out)."""
    body: dict[str, Any] = {
        "id": evaluation.id,
        "status": evaluation.status,
        "reason": evaluation.reason,
        "user_id": evaluation.user_id,
        "session_id": evaluation.session_id,
        "scenario_id": evaluation.scenario_id,
        "scenario_title": evaluation.scenario_title,
        "request_id": evaluation.request_id,
        "created_at": evaluation.created_at,
        "finished_at": evaluation.finished_at,
        "upto_seq": evaluation.upto_seq,
        "overall_score": evaluation.overall_score,
        "passed": evaluation.passed,
    }
    if with_report:
        body["report"] = report
    return body


async def _visible(request: Request, evaluation_id: str) -> tuple[Evaluation, Principal]:
    principal = current_principal(request)
    evaluation = await _store(request).find(evaluation_id)
    # Someone else's evaluation is answered like a missing one: its existence is not ours to reveal.
    if evaluation is None or (evaluation.user_id != principal.id and not principal.is_admin):
        raise Problem(404, f"No evaluation {evaluation_id!r}.")
    return evaluation, principal


async def _answer(request: Request, evaluation_id: str, *, replayed: bool = False, reused: bool = False
                  ) -> Response:
    store = _store(request)
    evaluation = await store.find(evaluation_id)
    if evaluation is None:  # written a moment ago: only a storage that loses writes gets here
        raise Problem(503, "The evaluation could not be read back; try again.", headers={"Retry-After": "1"})
    headers = {"Location": f"{request.url.path.rstrip('/')}/{evaluation.id}"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    extra = {"reused": True} if reused else {}
    if evaluation.status == PENDING:
        return JSON({**present(evaluation, None), **extra}, status_code=202, headers={**headers, "Retry-After": "1"})
    report = await store.report(evaluation.id) if evaluation.status == DONE else None
    # 200, not 201, for an evaluation that already existed: this request created nothing.
    return JSON({**present(evaluation, report), **extra}, status_code=200 if reused else 201, headers=headers)


async def _reuse_or_claim(request: Request, store: EvaluationStore, principal: Principal, session_id: str,
                          upto_seq: int, evaluation_id: str, new: bool) -> Evaluation | None:
    """The evaluation of this session as it stands (same last message), unless ``new`` is asked for.

    ``None`` means ``evaluation_id`` is now bound to the session state and is to be created.
    """
    if new:
        await store.claim_latest(principal.id, session_id, upto_seq, evaluation_id, replace=True)
        return None
    bound = await store.claim_latest(principal.id, session_id, upto_seq, evaluation_id)
    if bound == evaluation_id:
        return None
    existing = await store.find(bound)
    if existing is None:  # another request claimed it a moment ago and is writing it now
        raise Problem(409, "An evaluation of this session is being created right now; try again.",
                      headers={"Retry-After": "1"})
    if existing.status == FAILED:  # a failed evaluation is not worth keeping: run a new one
        await store.claim_latest(principal.id, session_id, upto_seq, evaluation_id, replace=True)
        return None
    return existing


@operation("Evaluate a practice session", body=EvaluationRequest, headers=(
    Query("Idempotency-Key", str, "The same key (for the same user) always means the same evaluation; "
          "or request_id in the body"),),
           responses={200: EvaluationView, 201: EvaluationView, 202: EvaluationView}, problems=(404, 409, 429),
           links={name: (target, {"evaluation_id": "$response.body#/id"}) for name, target in (
               ("read", "GET /evaluations/{evaluation_id}"), ("export", "GET /evaluations/{evaluation_id}/export"))})
async def create_evaluation(request: Request) -> Response:
    """POST /evaluations {session_id, request_id?}: 201 with the report when quick, else 202 and the id."""
    principal = current_principal(request)
    body = await parse_body(request, EvaluationRequest)
    header = request.headers.get("idempotency-key")
    if header is not None and not 1 <= len(header.strip()) <= MAX_ID:
        raise validation_problem([FieldError("Idempotency-Key", f"must have 1 to {MAX_ID} characters")])
    if header is not None and body.request_id is not None and header != body.request_id:
        raise validation_problem([FieldError("request_id", "differs from the Idempotency-Key header")])
    request_id = body.request_id if body.request_id is not None else header
    kernel = _kernel(request)
    transcript = await fetch_transcript(kernel, body.session_id)
    if transcript is None or (transcript.user_id != principal.id and not principal.is_admin):
        raise Problem(404, f"No practice session {body.session_id!r}.")
    messages = [m for m in transcript.messages if m.role == LEARNER and m.text.strip()]
    if not messages:
        raise Problem(409, "The session has no learner messages yet: there is nothing to evaluate.")
    runner = runner_of(kernel)
    store = runner.store
    evaluation_id = new_id()
    upto_seq = max(m.seq for m in transcript.messages)
    replayed = False
    if request_id is not None:
        bound_id, bound_session = await store.claim_request(principal.id, request_id, evaluation_id,
                                                            body.session_id)
        if bound_session != body.session_id:
            raise validation_problem([FieldError("request_id", "was already used for another session")])
        replayed = bound_id != evaluation_id
        evaluation_id = bound_id
    if not replayed:
        # Each evaluation may be a paid judge call: an unchanged session gets the one it has, and
        # new ones are limited per user per day.
        existing = await _reuse_or_claim(request, store, principal, body.session_id, upto_seq, evaluation_id,
                                         body.new)
        if existing is not None:
            if request_id is not None:
                await store.rebind_request(principal.id, request_id, existing.id, body.session_id)
            return await _answer(request, existing.id, reused=True)
        wait = await store.charge_daily(principal.id, _settings(request).daily_limit)
        if wait:
            await store.release_latest(principal.id, body.session_id, upto_seq, evaluation_id)
            if request_id is not None:
                await store.release_request(principal.id, request_id, evaluation_id)
            raise Problem(429, "You have reached today's limit of evaluations (evaluator.daily_limit); "
                               "try again tomorrow.", headers={"Retry-After": str(int(wait) + 1)},
                          extra={"code": "daily_limit"})
    if not replayed or await store.find(evaluation_id) is None:
        # A replay whose first request died before writing the record writes it now, under the same id.
        await store.create(Evaluation(
            id=evaluation_id,
            user_id=transcript.user_id,
            session_id=transcript.session_id,
            scenario_id=transcript.scenario_id,
            scenario_title=transcript.script.title,
            status=PENDING,
            created_at=now(),
            request_id=request_id,
            upto_seq=upto_seq,
            session_started_at=transcript.started_at,
        ))
    evaluation = await store.find(evaluation_id)
    if evaluation is not None and evaluation.status == PENDING:
        runner.start(evaluation_id)
        await runner.wait(evaluation_id, _settings(request).inline_wait)
    return await _answer(request, evaluation_id, replayed=replayed)


@operation("One evaluation, with its report once done", responses={200: EvaluationView})
async def get_evaluation(request: Request) -> Response:
    evaluation, _ = await _visible(request, request.path_params["evaluation_id"])
    report = await _store(request).report(evaluation.id) if evaluation.status == DONE else None
    return JSON(present(evaluation, report))


def _target_user(request: Request, principal: Principal) -> str:
    user_id = request.query_params.get("user_id")
    if user_id is None or user_id == principal.id:
        return principal.id
    if not principal.is_admin:
        raise Problem(403, "Only admins may read another user's evaluations.")
    if not 1 <= len(user_id) <= MAX_ID:
        raise validation_problem([FieldError("user_id", f"must have 1 to {MAX_ID} characters")])
    return user_id


async def _evaluations_of(store: EvaluationStore, user_id: str) -> list[Evaluation]:
    ids = sorted(await store.user_ids(user_id), reverse=True)
    found = await asyncio.gather(*(store.find(i) for i in ids))
    return [e for e in found if e is not None]


@operation("List my evaluations (admins: anyone's with user_id)", query=(
    Query("session_id", str, "Only evaluations of this session"),
    Query("scenario_id", str, "Only evaluations of this scenario"),
    Query("status", Literal["pending", "done", "failed"], "Only evaluations in this state"),
    Query("user_id", str, "Another user's evaluations (admins)"),
    Query("limit", int, "Page size, 1 to 200 (evaluator.list_limit)", minimum=1, maximum=200),
    Query("cursor", str, "The next_cursor of the previous page")),
    responses={200: EvaluationList}, problems=(403,))
async def list_evaluations(request: Request) -> Response:
    """GET /evaluations?session_id=&scenario_id=&status=&user_id=(admins)&limit=&cursor=, newest first."""
    principal = current_principal(request)
    user_id = _target_user(request, principal)
    limit = query_int(request, "limit", _settings(request).list_limit, minimum=1, maximum=200)
    params = request.query_params
    status = params.get("status")
    if status is not None and status not in (PENDING, DONE, FAILED):
        raise validation_problem([FieldError("status", "must be one of pending, done, failed")])
    cursor = params.get("cursor")
    items = await _evaluations_of(_store(request), user_id)
    items = [
        e for e in items
        if (params.get("session_id") is None or e.session_id == params["session_id"])
        and (params.get("scenario_id") is None or e.scenario_id == params["scenario_id"])
        and (status is None or e.status == status)
        and (cursor is None or e.id < cursor)
    ]
    page = items[:limit]
    next_cursor = page[-1].id if len(items) > limit else None
    return JSON({"items": [present(e, with_report=False) for e in page], "next_cursor": next_cursor})


@operation("My scores over time, per scenario and criterion", query=(
    Query("scenario_id", str, "Only this scenario"),
    Query("user_id", str, "Another user's progress (admins)")),
    responses={200: Progress}, problems=(403,))
async def get_progress(request: Request) -> Response:
    """GET /evaluations/progress?scenario_id=&user_id=(admins): scores over time per scenario and criterion."""
    principal = current_principal(request)
    user_id = _target_user(request, principal)
    items = await _evaluations_of(_store(request), user_id)
    scenario_id = request.query_params.get("scenario_id")
    if scenario_id is not None:
        items = [e for e in items if e.scenario_id == scenario_id]
    return JSON({"user_id": user_id, "scenarios": progress(items)})


@operation("Download a finished report", query=(
    Query("format", Literal["json", "markdown"], "The file's format (json)"),),
    responses={200: Content({"application/json": EvaluationView, "text/markdown": str})}, problems=(409,))
async def export_evaluation(request: Request) -> Response:
    """GET /evaluations/{id}/export?format=json|markdown: a download of a finished report."""
    evaluation, _ = await _visible(request, request.path_params["evaluation_id"])
    fmt = request.query_params.get("format", "json")
    if fmt not in ("json", "markdown"):
        raise validation_problem([FieldError("format", "must be json or markdown")])
    if evaluation.status != DONE:
        detail = f"failed: {evaluation.reason}" if evaluation.status == FAILED else "still pending"
        raise Problem(409, f"The evaluation is {detail}; only a finished report can be exported.")
    report = await _store(request).report(evaluation.id)
    if report is None:  # done is written only after the report: this is storage losing data
        raise Problem(409, "The report of this evaluation is missing.")
    name = f"evaluation-{evaluation.id}"
    if fmt == "markdown":
        return Response(export.markdown(evaluation, report), media_type="text/markdown; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}.md"'})
    return JSON(present(evaluation, report), headers={"Content-Disposition": f'attachment; filename="{name}.json"'})


def routes() -> list[Route]:
    # /evaluations/progress comes before /evaluations/{id} so it is not read as an id.
    return [
        Route("/evaluations", create_evaluation, methods=["POST"]),
        Route("/evaluations", list_evaluations, methods=["GET"]),
        Route("/evaluations/progress", get_progress, methods=["GET"]),
        Route("/evaluations/{evaluation_id}", get_evaluation, methods=["GET"]),
        Route("/evaluations/{evaluation_id}/export", export_evaluation, methods=["GET"]),
    ]
