"""The kernel's edge: the drain gate, request ids, CORS, body size limit and bearer-token authentication.

One pure ASGI layer (no ``BaseHTTPMiddleware``, so streaming responses and
WebSockets pass straight through) does the five jobs in the order five separate
layers would: the drain gate outermost, then the request id, then CORS, then the
body limit, then authentication. Every request pays for this layer, so it reads the raw header
list once, wraps ``send`` once (CORS headers and ``X-Request-ID``) and wraps
``receive`` only when HTTP framing does not already bound the body
(``benchmarks/kernel_auth_route.py`` measures what that buys).
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .principal import ANONYMOUS, Anonymous, Principal
from .tokens import InvalidToken, TokenService

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
# Matched against the raw header bytes with fullmatch: no trailing newline slips through.
_SAFE_ID = re.compile(rb"[A-Za-z0-9._-]{1,64}")
# Request ids: a private generator (nobody's random.seed() makes them repeat), seeded from the
# OS now and again in every forked child, so worker processes never share a sequence.
_rng = random.Random()
os.register_at_fork(after_in_child=_rng.seed)


#: Called once per finished HTTP request with its scope, status and seconds (access lines, metrics).
Observer = Callable[[Scope, int, float], None]


def route_template(scope: Scope) -> str:
    """The template of the route that answered (``/chat/sessions/{session_id}``), never the raw path.

    ``<unmatched>`` when no route did (a 404): raw paths would make one label per probe.
    """
    return template_of(scope.get("route"))


def template_of(route: Any) -> str:
    """:func:`route_template` of the route object a request matched (``None`` for none)."""
    path = getattr(route, "path", None)
    if path is None:
        return "<unmatched>"
    return path + "/{path}" if type(route).__name__ == "Mount" else path


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def method_label(method: str) -> str:
    """The method, or ``OTHER`` for one outside HTTP's usual set (a metric label must stay bounded)."""
    return method if method in _METHODS else "OTHER"


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every log record, for format strings like ``%(request_id)s``."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get() or "-"
        return True


class CORSPolicy(CORSMiddleware):
    """Starlette's CORS policy (same options, same answers), applied to raw header lists.

    Preflight requests are answered by Starlette's own code; for the others
    :meth:`apply` sets the response headers exactly as Starlette does, without
    building ``Headers`` objects per request. Never called as an app itself.
    """

    def __init__(self, **options: Any) -> None:
        super().__init__(None, **options)  # type: ignore[arg-type]
        self.simple_raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in self.simple_headers.items()]

    def explicit_origin(self, origin: bytes | None) -> bytes | None:
        """The origin to echo in ``Access-Control-Allow-Origin`` instead of ``*``, if any."""
        if origin is None:
            return None
        if self.allow_all_origins:
            return origin if self.allow_credentials else None
        return origin if self.is_allowed_origin(origin=origin.decode("latin-1")) else None

    def apply(self, headers: list[tuple[bytes, bytes]], origin: bytes | None, explicit: bytes | None) -> None:
        """Add the CORS headers of a simple (non-preflight) response to ``headers`` in place."""
        if origin is not None:
            for key, value in self.simple_raw:
                _set_header(headers, key, value)
        if explicit is not None:
            _set_header(headers, b"access-control-allow-origin", explicit)
        # Every response varies by Origin, whether or not this request sent one.
        vary = [value for key, value in headers if key == b"vary"]
        if vary:
            _set_header(headers, b"vary", b", ".join([*vary, b"Origin"]))
        else:
            headers.append((b"vary", b"Origin"))


class KernelMiddleware:
    """Request id, CORS, body limit and authentication for every HTTP request and WebSocket.

    - **Request id**: ``X-Request-ID`` from the client when it is 1-64 of
      ``[A-Za-z0-9._-]``, else 32 random hex digits; in ``scope["request_id"]``,
      in log records (:class:`RequestIdFilter`) and echoed on the response.
    - **CORS**: ``cors`` holds Starlette ``CORSMiddleware`` options (:class:`CORSPolicy`).
    - **Body limit**: 413 problem for a body over ``max_bytes``, by ``Content-Length``
      or while streaming.
    - **Authentication**: ``Authorization: Bearer`` on HTTP requests, verified by
      ``tokens()`` (a :class:`TokenService`, whose cache of verified tokens keeps this
      cheap); ``scope["user"]`` is the :class:`Principal`, or an :class:`Anonymous`
      with the reason a presented token was refused. Endpoints that need a user
      answer 401 themselves, so public endpoints stay public. WebSockets are
      anonymous here and authenticate with their first message (tokens never
      travel in URLs), see :func:`roleplay_core.security.authenticate_websocket`.
    """

    def __init__(self, app: ASGIApp, *, tokens: Callable[[], TokenService], max_bytes: int,
                 cors: Mapping[str, Any] | None = None, observe: Observer | None = None,
                 authenticate: Callable[[str], Awaitable[Principal | None]] | None = None,
                 draining: Callable[[], bool] | None = None) -> None:
        self.app = app
        #: True while the server drains (SIGTERM): new HTTP requests get 503, ``/healthz`` still answers.
        self.draining = draining
        self.tokens = tokens
        #: Plugins' ``authenticate_request`` hooks, asked only for credentials the JWT check refused.
        self.authenticate = authenticate
        self.max_bytes = max_bytes
        self.cors = CORSPolicy(**dict(cors or {}))
        self.observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http":
            if kind == "websocket":
                await self._websocket(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        if self.draining is not None and self.draining() and scope.get("path") != "/healthz":
            # A load balancer sees /readyz fail and sends the next request elsewhere; a client that
            # gets this 503 sends it again (Retry-After: 1), and another server takes it.
            await _send_draining(send)
            return
        raw_id = origin = length = authorization = api_key = None
        lengths = 0
        chunked = preflight = False
        for key, value in scope.get("headers", ()):  # the one pass over the request headers
            if key == b"authorization":
                if authorization is None:
                    authorization = value
            elif key == b"x-api-key":
                if api_key is None:
                    api_key = value
            elif key == b"origin":
                if origin is None:
                    origin = value
            elif key == b"x-request-id":
                if raw_id is None:
                    raw_id = value if _SAFE_ID.fullmatch(value) else b""
            elif key == b"content-length":
                lengths += 1
                if length is None:
                    length = value
            elif key == b"transfer-encoding":
                chunked = True
            elif key == b"access-control-request-method":
                preflight = True

        if raw_id:
            request_id = raw_id.decode("ascii")
        else:
            request_id = _new_request_id()
            raw_id = request_id.encode()
        scope["request_id"] = request_id
        context = request_id_var.set(request_id)
        observe = self.observe
        # Off (None) unless JSON access lines or metrics are on: no cost then. The status is taken
        # by the one send wrapper that adds headers, not by a second one; 500 is what the client
        # gets when the app raises before answering.
        status = [500] if observe is not None else None
        started = time.perf_counter() if observe is not None else 0.0
        try:
            cors = self.cors
            if preflight and origin is not None and scope["method"] == "OPTIONS":
                response = cors.preflight_response(request_headers=Headers(scope=scope))
                await response(scope, receive, _with_headers(send, raw_id, status=status))
                return
            send = _with_headers(send, raw_id, cors, origin, None if origin is None else cors.explicit_origin(origin),
                                 status=status)

            if length is not None and length.isdigit() and int(length) > self.max_bytes:
                await _send_problem(send, 413, f"The request body is over the limit of {self.max_bytes} bytes.")
                return

            user: Principal | Anonymous = ANONYMOUS
            if authorization:
                scheme, _, token = authorization.decode("latin-1").partition(" ")
                token = token.strip()
                if not token or scheme.lower() != "bearer":
                    user = Anonymous("expected 'Authorization: Bearer <token>'")
                else:
                    try:
                        user = self.tokens().verify(token)
                    except InvalidToken as exc:
                        user = await self._plugin_principal(token) or Anonymous(str(exc))
            elif api_key:
                key = api_key.decode("latin-1").strip()
                user = (key and await self._plugin_principal(key)) or Anonymous("the X-API-Key is not valid")
            scope["user"] = user
            scope["auth"] = None

            # HTTP/1.x frames a request body by its one Content-Length (now known to be within the
            # limit), or has none at all without Transfer-Encoding: the server never hands on more,
            # so there is nothing to count. Chunked bodies, HTTP/2 and odd headers are counted.
            if not chunked and lengths <= 1 and (length is None or length.isdigit()) \
                    and scope.get("http_version") in ("1.1", "1.0"):
                await self.app(scope, receive, send)
            else:
                await self._counting(scope, receive, send)
        finally:
            if observe is not None:
                observe(scope, status[0], time.perf_counter() - started)
            request_id_var.reset(context)

    async def _plugin_principal(self, token: str) -> Principal | None:
        return await self.authenticate(token) if self.authenticate is not None else None

    async def _counting(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app while counting the body it reads; 413 as soon as it passes the limit."""
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

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw_id = None
        for key, value in scope.get("headers", ()):
            if key == b"x-request-id":
                raw_id = value if _SAFE_ID.fullmatch(value) else b""
                break
        request_id = raw_id.decode("ascii") if raw_id else _new_request_id()
        scope["request_id"] = request_id
        scope["user"] = ANONYMOUS
        scope["auth"] = None
        context = request_id_var.set(request_id)
        try:
            await self.app(scope, receive, send)
        finally:
            request_id_var.reset(context)


async def _send_draining(send: Send) -> None:
    body = json.dumps({"type": "about:blank", "title": "Service Unavailable", "status": 503,
                       "code": "server_draining",
                       "detail": "This server is shutting down; send the request again."}).encode()
    await send({"type": "http.response.start", "status": 503, "headers": [
        (b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode()),
        (b"retry-after", b"1"), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def _new_request_id() -> str:
    # 32 hex digits like uuid4().hex, but without a UUID object and a getrandom() system call
    # per request: a request id needs to be unique, not secret (clients may choose their own).
    return f"{_rng.getrandbits(128):032x}"


def _with_headers(send: Send, raw_id: bytes, cors: CORSPolicy | None = None, origin: bytes | None = None,
                  explicit: bytes | None = None, *, status: list[int] | None = None) -> Send:
    """``send`` that adds CORS headers (unless ``cors`` is None) and ``X-Request-ID`` to the response,
    and puts the response's status in ``status[0]`` when given."""
    request_id = (b"x-request-id", raw_id)

    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            if status is not None:
                status[0] = message["status"]
            # A new list: a response object may send its own header list again.
            headers = list(message.get("headers", ()))
            vary = nosniff = False
            for key, _ in headers:  # one pass: what the response already says
                if key == b"vary":
                    vary = True
                elif key == b"x-content-type-options":
                    nosniff = True
            if cors is not None:
                if origin is None and not vary:  # the common case, cut short: only Vary changes
                    headers.append(_VARY_ORIGIN)
                else:
                    cors.apply(headers, origin, explicit)
            # Every response says what it is: a browser must not sniff JSON (or a user's text) into HTML.
            if not nosniff:
                headers.append(_NOSNIFF)
            headers.append(request_id)
            message["headers"] = headers
        await send(message)

    return send_with_headers


_VARY_ORIGIN = (b"vary", b"Origin")
_NOSNIFF = (b"x-content-type-options", b"nosniff")


def _set_header(headers: list[tuple[bytes, bytes]], key: bytes, value: bytes) -> None:
    """Set ``key`` in a raw header list, dropping duplicates, as ``MutableHeaders.__setitem__`` does."""
    found = [i for i, (name, _) in enumerate(headers) if name == key]
    if not found:
        headers.append((key, value))
        return
    for i in reversed(found[1:]):
        del headers[i]
    headers[found[0]] = (key, value)


class _BodyTooLarge(Exception):
    pass


async def _send_problem(send: Send, status: int, detail: str) -> None:
    from http import HTTPStatus

    body = json.dumps({"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status,
                       "detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/problem+json"), _NOSNIFF,
                            (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
