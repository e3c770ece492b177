"""Endpoint guards for HTTP and the first-message rule for WebSockets."""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Awaitable, Callable
from typing import TypeVar

from starlette.requests import HTTPConnection, Request
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

    Returns the principal after sending ``{"type": "authenticated", ...}``. On a
    missing, late, malformed or invalid first message the socket is closed with
    4401 (4403 for a role refusal) and ``None`` is returned.
    """
    kernel = websocket.app.state.kernel
    timeout = float(kernel.settings.get("security.websocket_auth_timeout", 5.0))
    await websocket.accept()
    try:
        raw = await asyncio.wait_for(websocket.receive_text(), timeout)
        message = json.loads(raw)
        if not isinstance(message, dict) or message.get("type") != "auth" or not isinstance(message.get("token"), str):
            raise ValueError("the first message must be {\"type\": \"auth\", \"token\": \"...\"}")
        principal = kernel.tokens.verify(message["token"])
    except TimeoutError:
        await _close(websocket, WS_UNAUTHORIZED, "authentication timed out")
        return None
    except WebSocketDisconnect:
        return None
    except InvalidToken as exc:
        await _close(websocket, WS_UNAUTHORIZED, f"authentication failed: {exc}"[:120])
        return None
    except Exception:  # malformed, too deep, not text, binary: one clear message, no internals
        await _close(websocket, WS_UNAUTHORIZED,
                     'authentication failed: the first message must be {"type": "auth", "token": "..."}')
        return None
    if minimum_role is not None and not principal.has_role(minimum_role):
        await _close(websocket, WS_FORBIDDEN, f"this needs the {minimum_role} role")
        return None
    websocket.scope["user"] = principal
    await websocket.send_json({"type": "authenticated", "user": {"id": principal.id, "roles": list(principal.roles)}})
    return principal


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    try:
        await websocket.send_json({"type": "error", "code": code, "message": reason})
        await websocket.close(code, reason)
    except Exception:  # the client may already be gone
        pass
