"""Endpoint guards for HTTP and the first-message rule for WebSockets."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, TypeVar

from starlette.requests import HTTPConnection, Request
from starlette.types import Message
from starlette.websockets import WebSocket, WebSocketDisconnect

from .errors import Problem
from .principal import ROLES, Principal
from .tokens import InvalidToken

Endpoint = TypeVar("Endpoint", bound=Callable[..., Awaitable])

#: WebSocket close codes (4000-4999 are ours to define).
WS_UNAUTHORIZED = 4401
WS_FORBIDDEN = 4403
WS_NOT_FOUND = 4404
WS_BAD_FRAME = 4400
WS_CONFLICT = 4409
WS_TOO_MANY = 4429
WS_UNAVAILABLE = 4503
WS_TOO_BIG = 1009  # RFC 6455: a message too big to process

#: Bytes a close frame's reason may have (125 bytes of payload less the 2-byte code).
CLOSE_REASON_BYTES = 123
#: Defaults of ``security.websocket_auth_max_bytes`` and ``security.websocket_max_frame_bytes``.
AUTH_FRAME_BYTES = 4096
FRAME_BYTES = 1_048_576


def current_principal(conn: HTTPConnection, minimum_role: str | None = None) -> Principal:
    """The signed-in principal, or a 401/403 :class:`Problem`."""
    user = conn.scope.get("user")
    if not isinstance(user, Principal):
        reason = getattr(user, "reason", None)
        raise Problem(
            401,
            f"Sign in first: {reason}." if reason else "Sign in first: send 'Authorization: Bearer <token>'.",
            headers={"WWW-Authenticate": 'Bearer realm="roleplay"'},
        )
    if minimum_role is not None and not user.has_role(minimum_role):
        raise Problem(403, f"This needs the {minimum_role} role.")
    return user


def requires_user(endpoint: Endpoint) -> Endpoint:
    """Endpoint guard: any signed-in user (401 otherwise)."""

    @functools.wraps(endpoint)
    async def guarded(request: Request, *args, **kwargs):
        current_principal(request)
        return await endpoint(request, *args, **kwargs)

    return guarded  # type: ignore[return-value]


def requires_role(minimum: str) -> Callable[[Endpoint], Endpoint]:
    """Endpoint guard: a signed-in user with ``minimum`` role or above (401, then 403)."""
    if minimum not in ROLES:
        raise ValueError(f"unknown role {minimum!r}; roles are {ROLES}")

    def decorate(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def guarded(request: Request, *args, **kwargs):
            current_principal(request, minimum)
            return await endpoint(request, *args, **kwargs)

        return guarded  # type: ignore[return-value]

    return decorate


async def authenticate_websocket(websocket: WebSocket, minimum_role: str | None = None) -> Principal | None:
    """Accept the socket and wait for ``{"type": "auth", "token": "..."}`` as the first message.

    Returns the principal after sending ``{"type": "authenticated", "user": ..., "expires_at": ...}``.
    A first message over ``security.websocket_auth_max_bytes`` (4 KiB) is refused before it is
    parsed (close 1009). On a missing, late, malformed or invalid first message the socket is
    closed with 4401 (4403 for a role refusal) and ``None`` is returned. The socket then lives
    only as long as the token: see :class:`SocketAuth`.
    """
    kernel = websocket.app.state.kernel
    timeout = float(kernel.settings.get("security.websocket_auth_timeout", 5.0))
    limit = int(kernel.settings.get("security.websocket_auth_max_bytes", AUTH_FRAME_BYTES))
    await websocket.accept()
    try:
        received = await asyncio.wait_for(websocket.receive(), timeout)
        if received["type"] == "websocket.disconnect":
            return None
        if frame_size(received) > limit:
            await _close(websocket, SocketClosed(WS_TOO_BIG, "frame_too_big", f"the first message may be at most {limit} bytes"))
            return None
        message = json.loads(received["text"])
        if not isinstance(message, dict) or message.get("type") != "auth" or not isinstance(message.get("token"), str):
            raise ValueError("the first message must be {\"type\": \"auth\", \"token\": \"...\"}")
        try:
            principal = kernel.tokens.verify(message["token"])
        except InvalidToken:
            principal = await kernel.authenticate(message["token"])  # an API key, another issuer's token
            if principal is None:
                raise
    except TimeoutError:
        await _close(websocket, SocketClosed(WS_UNAUTHORIZED, "auth_timeout", "authentication timed out"))
        return None
    except WebSocketDisconnect:
        return None
    except InvalidToken as exc:
        await _close(websocket, SocketClosed(WS_UNAUTHORIZED, "bad_auth", f"authentication failed: {exc}"))
        return None
    except Exception:  # malformed, too deep, not text, binary: one clear message, no internals
        await _close(websocket, SocketClosed(
            WS_UNAUTHORIZED, "bad_auth", 'authentication failed: the first message must be {"type": "auth", "token": "..."}'))
        return None
    if minimum_role is not None and not principal.has_role(minimum_role):
        await _close(websocket, SocketClosed(WS_FORBIDDEN, "forbidden", f"this needs the {minimum_role} role"))
        return None
    websocket.scope["user"] = principal
    await websocket.send_json(authenticated_frame(principal))
    return principal


def authenticated_frame(principal: Principal) -> dict:
    return {"type": "authenticated", "user": {"id": principal.id, "roles": list(principal.roles)},
            "expires_at": int(principal.expires_at) if principal.expires_at else None}


def frame_size(message: Message) -> int:
    """The size in bytes of a received WebSocket message (text as UTF-8)."""
    if message.get("bytes") is not None:
        return len(message["bytes"])
    text = message.get("text") or ""
    # Never more than 4 bytes a character: skip encoding a text that is clearly small enough.
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


class SocketClosed(Exception):
    """The socket must close: its token expired, the account changed, or a frame was too big."""

    def __init__(self, close_code: int, code: str, reason: str) -> None:
        super().__init__(reason)
        self.close_code = close_code
        self.code = code
        self.reason = reason

    @property
    def status(self) -> int:
        return {WS_UNAUTHORIZED: 401, WS_FORBIDDEN: 403, WS_NOT_FOUND: 404, WS_CONFLICT: 409, WS_TOO_BIG: 413,
                WS_TOO_MANY: 429, WS_UNAVAILABLE: 503}.get(self.close_code, 400)

    def frame(self) -> dict:
        """The one shape of an error frame on every socket, the kernel's and plugins':
        ``{"type": "error", "status": <HTTP-like status>, "code": "<slug>", "detail": "<sentence>"}``."""
        return {"type": "error", "status": self.status, "code": self.code, "detail": self.reason}


class SocketAuth:
    """Keeps an authenticated WebSocket's authentication current, for as long as it stays open.

    - **Expiry.** The socket lives as long as its access token. Before it expires the client
      sends a fresh one in-band, ``{"type": "auth", "token": "..."}`` (for the same user), which
      the socket hands to :meth:`renew`; the answer is a new ``authenticated`` frame with the new
      ``expires_at``. Otherwise the socket closes with 4401 (code ``token_expired``) at expiry.
    - **The account.** Every ``security.websocket_recheck_seconds`` (60) the kernel's
      ``check_principal`` hooks are asked whether the account still stands; a deleted, disabled
      or demoted account closes the socket with 4401/4403 (code ``account_changed``).
    - **Frame size.** Frames over ``security.websocket_max_frame_bytes`` close it with 1009.

    Endpoints read frames through :meth:`receive` (which refuses a frame that arrives after expiry
    or is too big) and run :meth:`watch` beside their loop (``async with guard.watching():``, or as
    one more task), which closes an idle socket on time. Both raise :class:`SocketClosed`;
    :meth:`close` sends its error frame and the close.
    """

    def __init__(self, websocket: WebSocket, principal: Principal) -> None:
        self.websocket = websocket
        self.kernel = websocket.app.state.kernel
        self.principal = principal
        settings = self.kernel.settings
        self.recheck = float(settings.get("security.websocket_recheck_seconds", 60.0))
        self.max_frame = int(settings.get("security.websocket_max_frame_bytes", FRAME_BYTES))
        self.next_check = time.time() + self.recheck
        #: Set when :meth:`watching` closed the socket.
        self.closed: SocketClosed | None = None

    def _deadline(self) -> float:
        expires = self.principal.expires_at or float("inf")
        return min(expires, self.next_check)

    async def check(self) -> None:
        """Raise :class:`SocketClosed` when the token has expired or the account no longer stands."""
        now = time.time()
        if self.principal.expires_at is not None and now >= self.principal.expires_at:
            raise SocketClosed(WS_UNAUTHORIZED, "token_expired",
                               'the access token expired; send {"type": "auth", "token": "..."} with a fresh one '
                               "before it does")
        if now >= self.next_check:
            reason = await self.kernel.principal_problem(self.principal)
            if reason:
                raise SocketClosed(WS_FORBIDDEN if "role" in reason or "disabled" in reason else WS_UNAUTHORIZED,
                                   "account_changed", reason)
            self.next_check = now + self.recheck

    async def receive(self) -> Message:
        """The next message from the client; raises :class:`SocketClosed` for a frame that arrives
        after expiry or is too big. (Waiting for a frame is not cut short here: :meth:`watch` does that.)"""
        message = await self.websocket.receive()
        if message["type"] == "websocket.receive":
            await self.check()
            if frame_size(message) > self.max_frame:
                raise SocketClosed(WS_TOO_BIG, "frame_too_big", f"a frame may be at most {self.max_frame} bytes")
        return message

    async def watch(self) -> None:
        """Sleep until the token expires or the account is due a re-check; raise :class:`SocketClosed`
        when the socket must close. Never returns otherwise: run it as a task beside the socket's loop."""
        while True:
            await asyncio.sleep(max(0.0, self._deadline() - time.time()))
            await self.check()

    @contextlib.asynccontextmanager
    async def watching(self) -> AsyncIterator[SocketAuth]:
        """Run :meth:`watch` beside the ``async with`` body; when it fires, send the error frame and
        close the socket. Errors the body then meets on the closed socket are not errors."""
        async def run() -> None:
            try:
                await self.watch()
            except SocketClosed as closed:
                self.closed = closed
                await self.close(closed)

        task = asyncio.create_task(run(), name="websocket-auth")
        try:
            yield self
        except Exception:
            if self.closed is None:
                raise
        finally:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task

    async def renew(self, frame: Mapping[str, Any]) -> dict:
        """Take a fresh token from an in-band ``auth`` frame; the ``authenticated`` frame to send back."""
        token = frame.get("token")
        if not isinstance(token, str):
            raise SocketClosed(WS_UNAUTHORIZED, "bad_auth", 'an auth frame is {"type": "auth", "token": "..."}')
        try:
            principal = self.kernel.tokens.verify(token)
        except InvalidToken as exc:
            principal = await self.kernel.authenticate(token)  # an API key, as the first frame may be
            if principal is None:
                raise SocketClosed(WS_UNAUTHORIZED, "bad_auth", f"authentication failed: {exc}") from None
        if principal.id != self.principal.id:
            raise SocketClosed(WS_FORBIDDEN, "bad_auth", "the new token is for another user")
        reason = await self.kernel.principal_problem(principal)
        if reason:
            raise SocketClosed(WS_UNAUTHORIZED, "account_changed", reason)
        self.principal = principal
        self.websocket.scope["user"] = principal
        self.next_check = time.time() + self.recheck
        return authenticated_frame(principal)

    async def close(self, closed: SocketClosed) -> None:
        await _close(self.websocket, closed)


def close_reason(reason: str) -> str:
    """``reason`` cut to the 123 bytes of UTF-8 a WebSocket close frame can carry (RFC 6455 5.5),
    never in the middle of a character: a longer one makes the server fail the close."""
    encoded = reason.encode("utf-8", "replace")
    if len(encoded) <= CLOSE_REASON_BYTES:
        return reason
    return encoded[:CLOSE_REASON_BYTES].decode("utf-8", "ignore")


async def _close(websocket: WebSocket, closed: SocketClosed) -> None:
    """Send the one error frame shape (:meth:`SocketClosed.frame`), then close with its code."""
    try:
        await websocket.send_json(closed.frame())
        await websocket.close(closed.close_code, close_reason(closed.reason))
    except Exception:  # the client may already be gone
        pass
