"""RFC 9457 problem details: the one error shape every endpoint answers with."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Any

import attrs
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

logger = logging.getLogger("roleplay")

PROBLEM_CONTENT_TYPE = "application/problem+json"


@attrs.frozen
class FieldError:
    """One failing input field: ``field`` is a dotted path such as ``characters[0].name``."""

    field: str
    message: str


class Problem(Exception):
    """Raise anywhere in a request to answer with ``application/problem+json``.

    ``type`` defaults to ``about:blank`` as RFC 9457 recommends when the status
    code says it all; ``errors`` carries field-level validation failures.
    """

    def __init__(
        self,
        status: int,
        detail: str | None = None,
        *,
        title: str | None = None,
        type: str = "about:blank",
        errors: Iterable[FieldError] = (),
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        self.status = status
        self.title = title or HTTPStatus(status).phrase
        self.detail = detail
        self.type = type
        self.errors = tuple(errors)
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})
        super().__init__(detail or self.title)

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": self.type, "title": self.title, "status": self.status}
        if self.detail:
            body["detail"] = self.detail
        if self.errors:
            body["errors"] = [{"field": e.field, "message": e.message} for e in self.errors]
        body.update(self.extra)
        return body


def validation_problem(errors: Iterable[FieldError], detail: str | None = None) -> Problem:
    errors = tuple(errors)
    if detail is None:
        detail = "; ".join(f"{e.field}: {e.message}" for e in errors) or "Invalid input"
    return Problem(422, detail, errors=errors)


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_CONTENT_TYPE


def problem_response(problem: Problem, request_id: str | None = None) -> Response:
    body = problem.to_dict()
    if request_id:
        body.setdefault("request_id", request_id)
    return ProblemResponse(body, status_code=problem.status, headers=problem.headers)


async def handle_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return problem_response(exc, request.scope.get("request_id"))


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    problem = Problem(exc.status_code, exc.detail if exc.detail != HTTPStatus(exc.status_code).phrase else None,
                      headers=exc.headers)
    return problem_response(problem, request.scope.get("request_id"))


async def handle_server_error(request: Request, exc: Exception) -> Response:
    # The traceback goes to the log under the request id, never to the client.
    request_id = request.scope.get("request_id")
    logger.exception("unhandled error in request %s", request_id, exc_info=exc)
    # This response is sent by Starlette's outermost error middleware, outside the
    # request-id middleware, so it carries the header itself.
    headers = {"X-Request-ID": request_id} if request_id else {}
    headers["X-Content-Type-Options"] = "nosniff"
    problem = Problem(500, "The server hit an unexpected error; it has been logged.", headers=headers)
    return problem_response(problem, request_id)


async def handle_storage_error(request: Request, exc: Exception) -> Response:
    """A storage error a plugin let through: answer it as what it means, never as a 500.

    A malformed id in a path cannot name anything (404); a record gone or changed under a
    request is a conflict the client can retry (404 / 409); an unreachable backend is a 503.
    """
    from .storage import InvalidKey, NotFound, PreconditionFailed, StorageUnavailable

    request_id = request.scope.get("request_id")
    if isinstance(exc, (InvalidKey, NotFound)):
        problem = Problem(404, "No such resource.")
    elif isinstance(exc, PreconditionFailed):
        problem = Problem(409, "The resource changed while this request was handled; try again.",
                          headers={"Retry-After": "1"})
    elif isinstance(exc, StorageUnavailable):
        logger.error("storage unavailable in request %s: %s", request_id, exc)
        problem = Problem(503, "Storage is unavailable; try again shortly.", headers={"Retry-After": "5"})
    else:
        return await handle_server_error(request, exc)
    return problem_response(problem, request_id)


EXCEPTION_HANDLERS = {
    Problem: handle_problem,
    HTTPException: handle_http_exception,
    Exception: handle_server_error,
}


def _register_storage_errors() -> None:
    from .storage import StorageError

    EXCEPTION_HANDLERS[StorageError] = handle_storage_error


_register_storage_errors()
