"""Pure ASGI middleware: request ids, body size limit, bearer-token authentication.

Pure ASGI (no ``BaseHTTPMiddleware``) so streaming responses, WebSockets and
the hot path pay one function call each, not a task and a queue.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import uuid
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .principal import ANONYMOUS, Anonymous
from .tokens import InvalidToken, TokenService

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every log record, for format strings like ``%(request_id)s``."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get() or "-"
        return True


class RequestIdMiddleware:
    """Take ``X-Request-ID`` from the client when it is sane, else make one; echo it back."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, b"x-request-id")
        request_id = incoming if incoming and _SAFE_ID.match(incoming) else uuid.uuid4().hex
        scope["request_id"] = request_id
        token = request_id_var.set(request_id)
        raw_id = request_id.encode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", raw_id)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id if scope["type"] == "http" else send)
        finally:
            request_id_var.reset(token)


class BodyLimitMiddleware:
    """Refuse request bodies over ``max_bytes`` with 413, by header or while streaming."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = _header(scope, b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await _send_problem(send, 413, f"The request body is over the limit of {self.max_bytes} bytes.")
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLarge:
            if not started:
                await _send_problem(send, 413, f"The request body is over the limit of {self.max_bytes} bytes.")


class _BodyTooLarge(Exception):
    pass


class AuthenticationMiddleware:
    """Verify ``Authorization: Bearer`` on HTTP requests; set ``scope["user"]``.

    A missing or refused token leaves an :class:`Anonymous` user (with the reason
    for a refused one): endpoints that need a user answer 401 themselves, so
    public endpoints stay public. WebSockets authenticate with their first
    message instead (tokens never travel in URLs), see
    :func:`roleplay_core.security.authenticate_websocket`.
    """

    def __init__(self, app: ASGIApp, tokens: Callable[[], TokenService]) -> None:
        self.app = app
        self.tokens = tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            header = _header(scope, b"authorization")
            user = ANONYMOUS
            if header:
                scheme, _, token = header.partition(" ")
                if scheme.lower() != "bearer" or not token.strip():
                    user = Anonymous("expected 'Authorization: Bearer <token>'")
                else:
                    try:
                        user = self.tokens().verify(token.strip())
                    except InvalidToken as exc:
                        user = Anonymous(str(exc))
            scope["user"] = user
            scope["auth"] = None
        elif scope["type"] == "websocket":
            scope["user"] = ANONYMOUS
            scope["auth"] = None
        await self.app(scope, receive, send)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


async def _send_problem(send: Send, status: int, detail: str) -> None:
    from http import HTTPStatus

    body = json.dumps({"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status,
                       "detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/problem+json"),
                            (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
