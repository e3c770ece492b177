"""Recent re-authentication for the changes a stolen access token must not be able to make.

Removing a sign-in method, setting or changing the password, changing the email and deleting
the account take over or destroy an account for good. An access token alone does not allow
them: the request must also prove the person is at the keyboard now, either

- with the current password in the body (``current_password``), or
- with an access token from a sign-in (password or provider) at most ``auth.reauth_max_age``
  seconds ago. The token carries that time as its ``auth_time`` claim; a refresh keeps the
  original time, so refreshing never counts as signing in again.

Otherwise the answer is 401 with ``WWW-Authenticate: Bearer error="insufficient_user_authentication"``
and ``max_age`` (RFC 9470, the OAuth step-up challenge) and the problem code
``reauthentication_required``.
"""

from __future__ import annotations

import time

import attrs
from starlette.requests import Request

from roleplay_core import FieldError, Problem, current_principal, read_json, structure, validation_problem

from .service import AuthService, service
from .users import User


@attrs.frozen(kw_only=True)
class Reauth:
    """The optional body of ``DELETE /users/me`` and ``DELETE /users/me/auth-methods/{id}``."""

    current_password: str | None = None


def max_age(auth: AuthService) -> int:
    return auth.config.reauth_max_age


async def optional_body(request: Request) -> Reauth:
    """The body of a DELETE: empty, or a JSON object with ``current_password``."""
    if not (await request.body()).strip():
        return Reauth()
    data = await read_json(request)
    if not isinstance(data, dict):
        raise validation_problem([FieldError("$", "expected a JSON object")])
    return structure(data, Reauth)


async def verify_password(request: Request, user: User, password: str) -> None:
    """422 naming ``current_password`` unless ``password`` is ``user``'s; throttled like a sign-in."""
    from .auth_routes import client_address, device_of

    auth = service(request.app.state.kernel)
    if not user.password_hash:
        raise validation_problem([FieldError("current_password", "this account has no password; sign in again "
                                                                 "with its provider instead")])
    ip = client_address(request)
    account = user.email or user.id
    await auth.throttle.check(account, ip, device_of(request))
    if not await auth.passwords.verify(user.password_hash, password):
        await auth.throttle.failure(account, ip)
        await auth.record("login.failed", user_id=user.id, method="local", reason="re-authentication",
                          ip=ip)
        raise validation_problem([FieldError("current_password", "is wrong")])


async def require_recent(request: Request, user: User, current_password: str | None) -> str:
    """Pass when the caller re-authenticated (see the module docstring); returns ``"password"`` or ``"recent"``."""
    if current_password:
        await verify_password(request, user, current_password)
        return "password"
    auth = service(request.app.state.kernel)
    limit = max_age(auth)
    auth_time = current_principal(request).auth_time
    if auth_time is not None and 0 <= time.time() - auth_time <= limit:
        return "recent"
    methods = "your current password as current_password" if user.password_hash else "a fresh sign-in"
    raise Problem(
        401,
        f"This change needs a recent sign-in: send {methods}, or sign in again (within the last {limit} "
        "seconds) and retry.",
        headers={"WWW-Authenticate": f'Bearer realm="roleplay", error="insufficient_user_authentication", '
                                     f'max_age={limit}'},
        extra={"code": "reauthentication_required", "max_age": limit},
    )
