"""Chat's domain errors, and the one mapping of each to an HTTP problem and to a WebSocket error frame.

The domain (turns, access to a session, the limits, the voice quota) raises a :class:`ChatError`
in its own words: what went wrong, and the facts a client needs (the message waiting for its
reply, the seconds to wait). It knows no URL, no HTTP response and no socket. Only the edges
translate: :func:`problem` for the HTTP routes and their Server-Sent Events, :func:`frame` and
:func:`close_code` for the two WebSockets. The links a client follows (``retry``) are added here,
the one place chat's domain meets its paths.
"""

from __future__ import annotations

import math
from typing import Any

from starlette.routing import BaseRoute, Route

from roleplay_core import (
    WS_BAD_FRAME,
    WS_CONFLICT,
    WS_FORBIDDEN,
    WS_NOT_FOUND,
    WS_TOO_BIG,
    WS_TOO_MANY,
    WS_UNAVAILABLE,
    FieldError,
    Problem,
)

#: The path that generates a reply still missing (``POST``), relative to the server's root.
RETRY_PATH = "/chat/sessions/{session_id}/retry"


class ChatError(Exception):
    """A refusal of chat's domain: ``status`` and ``code`` say which, ``detail`` says it to a person.

    ``retry_after`` (seconds, rounded up to a whole second, at least 1) tells the client when to
    try again; ``errors`` names invalid fields; ``extra`` holds further facts (``pending_seq``,
    ``message``...) that every edge passes on. ``session_id`` is set when the client may act on
    the session next (the edge turns it into a link).
    """

    status = 500
    code = "error"
    title: str | None = None

    def __init__(self, detail: str, *, retry_after: float | None = None, errors: tuple[FieldError, ...] = (),
                 session_id: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry_after = None if retry_after is None else max(1, math.ceil(retry_after))
        self.errors = tuple(errors)
        self.session_id = session_id
        self.extra = extra


class Invalid(ChatError):
    """Learner input that breaks a rule (blank, control characters): 422 naming the field."""

    status, code = 422, "validation"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", errors=(FieldError(field, message),), field=field)


class TooLong(ChatError):
    status, code = 413, "message_chars"


class SessionMissing(ChatError):
    """No such session, or one the caller may not know exists."""

    status, code = 404, "session_not_found"


class NotOwner(ChatError):
    status, code = 403, "not_owner"


class SessionEnded(ChatError):
    status, code = 409, "session_ended"


class SessionBusy(ChatError):
    """Another turn holds the session's lease; ``retry_after`` is the time left on it."""

    status, code = 409, "session_busy"


class ReplyPending(ChatError):
    """A learner message still waits for its reply (``pending_seq``); the client retries it first."""

    status, code = 409, "reply_pending"


class NothingToRetry(ChatError):
    status, code = 409, "nothing_to_retry"


class TurnLimit(ChatError):
    status, code = 409, "turns_per_session"


class LeaseLost(ChatError):
    status, code = 409, "lease_lost"


class RateLimited(ChatError):
    """A per-user limit (``code`` names which) is reached; ``retry_after`` says when it frees up."""

    status = 429

    def __init__(self, detail: str, code: str, retry_after: float | None = None) -> None:
        super().__init__(detail, retry_after=retry_after)
        self.code = code


class ReplyTimedOut(ChatError):
    """The provider did not answer in time; the learner's message is kept (``message``) for a retry."""

    status, code, title = 504, "reply_timeout", "Reply timed out"


class ReplyFailed(ChatError):
    """The provider failed; the learner's message is kept (``message``) for a retry."""

    status, code, title = 502, "provider_error", "Reply failed"


class VoiceRefused(ChatError):
    """A voice call cannot start or go on (a provider without live speech, a stalled relay...)."""

    def __init__(self, status: int, code: str, detail: str, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.status, self.code = status, code


class BadAudio(ChatError):
    """A torn or oversized audio frame: dropped, and the call goes on (until too many)."""

    status, code = 400, "bad_audio"


class BadFrame(ChatError):
    """The client broke a socket's protocol; ``field`` names the part of the frame when one is at fault."""

    status, code = 400, "bad_frame"

    def __init__(self, detail: str, field: str | None = None) -> None:
        super().__init__(detail, **({"field": field} if field else {}))
        self.field = field


def _facts(error: ChatError) -> dict[str, Any]:
    """What every edge passes on besides status, code and detail, links included."""
    facts: dict[str, Any] = {}
    if error.retry_after is not None:
        facts["retry_after"] = error.retry_after
    facts.update(error.extra)
    if isinstance(error, (ReplyTimedOut, ReplyFailed)) and error.session_id:
        facts["retry"] = RETRY_PATH.format(session_id=error.session_id)
    return facts


def _detail(error: ChatError) -> str:
    if isinstance(error, ReplyPending) and error.session_id:
        return f"{error.detail}; POST {RETRY_PATH.format(session_id=error.session_id)} first."
    return error.detail


def problem(error: ChatError) -> Problem:
    """The HTTP answer to ``error``: an ``application/problem+json`` body with ``code`` and the facts."""
    headers = {"Retry-After": str(error.retry_after)} if error.retry_after is not None else None
    return Problem(error.status, _detail(error), title=error.title, errors=error.errors, headers=headers,
                   extra={"code": error.code, **_facts(error)})


def http_edge(route: BaseRoute) -> BaseRoute:
    """``route`` answering a :class:`ChatError` its handler raises with :func:`problem` (the kernel's
    problem handler writes it); sockets map errors to frames themselves."""
    if isinstance(route, Route):
        app = route.app

        async def answering(scope: Any, receive: Any, send: Any) -> None:
            try:
                await app(scope, receive, send)
            except ChatError as error:
                raise problem(error) from None

        route.app = answering
    return route


def frame(error: ChatError) -> dict[str, Any]:
    """The WebSocket error frame of ``error``: ``{"type": "error", "status", "code", "detail", ...facts}``."""
    body: dict[str, Any] = {"type": "error", "status": error.status, "code": error.code, "detail": _detail(error)}
    if error.errors:
        body["errors"] = [{"field": e.field, "message": e.message} for e in error.errors]
    body.update(_facts(error))
    return body


#: The close code of a socket that ``error`` ends, by status (4xxx mirrors HTTP; docs/voice.md).
_CLOSE_CODES = {400: WS_BAD_FRAME, 403: WS_FORBIDDEN, 404: WS_NOT_FOUND, 409: WS_CONFLICT, 413: WS_TOO_BIG,
                429: WS_TOO_MANY}


def close_code(error: ChatError) -> int:
    """The close code when ``error`` ends a socket: the status's 44xx, or 4503 for a server-side failure."""
    return _CLOSE_CODES.get(error.status, WS_UNAVAILABLE)
