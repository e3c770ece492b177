"""Pure ASGI middleware: request ids, CORS, body size limit, bearer-token authentication.

Pure ASGI (no ``BaseHTTPMiddleware``) so streaming responses, WebSockets and
the hot path pay one function call each, not a task and a queue. Every request
goes through all of them, so each scans the raw header list once, allocates as
little as it can and wraps ``send``/``receive`` only when it has something to do
there (see ``benchmarks/kernel_auth_route.py`` for what that buys).
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import re
from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware as StarletteCORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .principal import ANONYMOUS, Anonymous
from .tokens import InvalidToken, TokenService

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
# Matched against the raw header bytes with fullmatch: no trailing newline slips through.
_SAFE_ID = re.compile(rb"[A-Za-z0-9._-]{1,64}")


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
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        raw_id = None
        for key, value in scope.get("headers", ()):
            if key == b"x-request-id":
                if _SAFE_ID.fullmatch(value):
                    raw_id = value
                break
        if raw_id is None:
            # 32 hex characters like uuid4().hex, without building a UUID object per request.
            request_id = os.urandom(16).hex()
            raw_id = request_id.encode()
        else:
            request_id = raw_id.decode("ascii")
        scope["request_id"] = request_id
        token = request_id_var.set(request_id)
        if kind == "websocket":
            try:
                await self.app(scope, receive, send)
            finally:
                request_id_var.reset(token)
            return
        header = (b"x-request-id", raw_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                # A new list: the response object may reuse its own header list.
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)


class CORSMiddleware(StarletteCORSMiddleware):
    """Starlette's CORS policy, same settings and same answers, with a cheaper simple-request path.

    Preflight requests are answered by Starlette's own code. For every other
    request this scans the raw headers once instead of building ``Headers`` /
    ``MutableHeaders`` objects twice per request, and sets the response headers
    exactly as Starlette does: the simple headers and an explicit
    ``Access-Control-Allow-Origin`` for an allowed ``Origin``, and ``Vary: Origin``
    on every response.
    """

    def __init__(self, app: ASGIApp, **options) -> None:
        super().__init__(app, **options)
        self._simple_raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in self.simple_headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        origin = None
        preflight = False
        for key, value in scope.get("headers", ()):
            if key == b"origin":
                if origin is None:
                    origin = value
            elif key == b"access-control-request-method":
                preflight = True
        if origin is not None and preflight and scope["method"] == "OPTIONS":
            response = self.preflight_response(request_headers=Headers(scope=scope))
            await response(scope, receive, send)
            return
        explicit = None
        if origin is not None:
            text = origin.decode("latin-1")
            if (self.allow_all_origins and self.allow_credentials) or (
                not self.allow_all_origins and self.is_allowed_origin(origin=text)
            ):
                explicit = origin
        simple = self._simple_raw if origin is not None else ()

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                for key, value in simple:
                    _set_header(headers, key, value)
                if explicit is not None:
                    _set_header(headers, b"access-control-allow-origin", explicit)
                vary = [value for key, value in headers if key == b"vary"]
                _set_header(headers, b"vary", b", ".join([*vary, b"Origin"]) if vary else b"Origin")
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_cors)


def _set_header(headers: list[tuple[bytes, bytes]], key: bytes, value: bytes) -> None:
    """Set ``key`` in a raw header list, dropping duplicates, as ``MutableHeaders.__setitem__`` does."""
    found = [i for i, (name, _) in enumerate(headers) if name == key]
    if not found:
        headers.append((key, value))
        return
    for i in reversed(found[1:]):
        del headers[i]
    headers[found[0]] = (key, value)


class BodyLimitMiddleware:
    """Refuse request bodies over ``max_bytes`` with 413, by header or while streaming."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = None
        lengths = 0
        chunked = False
        for key, value in scope.get("headers", ()):
            if key == b"content-length":
                lengths += 1
                if length is None:
                    length = value
            elif key == b"transfer-encoding":
                chunked = True
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await _send_problem(send, 413, f"The request body is over the limit of {self.max_bytes} bytes.")
            return
        # HTTP/1.x frames a request body by its one Content-Length (now known to be within the
        # limit), or has no body at all without Transfer-Encoding: the server never hands on
        # more, so there is nothing to count. Chunked bodies, HTTP/2 and odd headers are counted.
        if not chunked and lengths <= 1 and (length is None or length.isdigit()) \
                and scope.get("http_version") in ("1.1", "1.0"):
            await self.app(scope, receive, send)
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

    Every verification goes through :meth:`TokenService.verify`, whose cache of
    verified tokens (exact bytes, expiry still checked) keeps this cheap.
    """

    def __init__(self, app: ASGIApp, tokens: Callable[[], TokenService]) -> None:
        self.app = app
        self.tokens = tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            user = ANONYMOUS
            for key, value in scope.get("headers", ()):
                if key == b"authorization":
                    if value:
                        user = self._authenticate(value.decode("latin-1"))
                    break
            scope["user"] = user
            scope["auth"] = None
        elif kind == "websocket":
            scope["user"] = ANONYMOUS
            scope["auth"] = None
        await self.app(scope, receive, send)

    def _authenticate(self, header: str):
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if not token or scheme.lower() != "bearer":
            return Anonymous("expected 'Authorization: Bearer <token>'")
        try:
            return self.tokens().verify(token)
        except InvalidToken as exc:
            return Anonymous(str(exc))


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
