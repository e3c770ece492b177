"""``/users/*``: the signed-in user's profile and sign-in methods; admin user management; audit."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re

import attrs
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from roleplay_core import (
    JSON,
    ROLES,
    FieldError,
    Problem,
    Query,
    operation,
    parse_body,
    query_int,
    read_json,
    structure,
    validation_problem,
)

from . import reauth
from .auth_routes import auth_of, client_address, stored_user
from .bodies import AdminUpdate, ChangePassword, UpdateMe, checked_language, checked_name, reject_unknown
from .schemas import AuditPage, AuthMethodList, TokenPair, UserDetail, UserList
from .users import LastAdmin, User, now_iso

MAX_PAGE = 200


# -- the signed-in user -------------------------------------------------------


@operation("The signed-in user, with their sign-in methods", responses={200: UserDetail}, problems=(403,))
async def get_me(request: Request) -> Response:
    user = await stored_user(request)
    return JSON({**user.public(), "auth_methods": user.auth_methods()})


@operation("Change my display name or language", body=UpdateMe, responses={200: UserDetail}, problems=(403,))
async def patch_me(request: Request) -> Response:
    user = await stored_user(request)
    raw = await read_json(request)
    if not isinstance(raw, dict):
        raise validation_problem([FieldError("$", "expected a JSON object")])
    reject_unknown(raw, UpdateMe, reason="cannot be changed here")  # roles, disabled, email: 422
    body = structure(raw, UpdateMe)
    changes = {}
    if "display_name" in raw:
        if body.display_name is None:
            raise validation_problem([FieldError("display_name", "must not be null")])
        changes["display_name"] = checked_name(body.display_name)
    if "preferred_language" in raw:
        changes["preferred_language"] = checked_language(body.preferred_language)
    _, after = await auth_of(request).users.update(user.id, lambda u: attrs.evolve(u, **changes))
    return JSON({**after.public(), "auth_methods": after.auth_methods()})


@operation("Delete my account and everything kept for me", body=reauth.Reauth, body_required=False,
           responses={204: None}, problems=(403, 409, 429))
async def delete_me(request: Request) -> Response:
    user = await stored_user(request)
    auth = auth_of(request)
    await reauth.require_recent(request, user, (await reauth.optional_body(request)).current_password)
    try:
        await auth.users.delete(user.id)
    except LastAdmin:
        raise Problem(409, "You are the last admin; make someone else admin first.") from None
    await auth.record("user.deleted", user_id=user.id, by=user.id, ip=client_address(request))
    await request.app.state.kernel.user_deleted(user.id)  # sessions, evaluations, audio: every plugin erases
    return Response(status_code=204)


@operation("Change (or set a first) password; other sessions end", body=ChangePassword,
           responses={200: TokenPair}, problems=(403, 409, 429))
async def change_password(request: Request) -> Response:
    user = await stored_user(request)
    auth = auth_of(request)
    body = await parse_body(request, ChangePassword)
    if user.password_hash:
        # Changing a password always takes the current one: a fresh provider sign-in is not enough.
        if not body.current_password:
            raise validation_problem([FieldError("current_password", "is required to change the password")])
        await reauth.verify_password(request, user, body.current_password)
    elif not user.email:
        raise Problem(409, "This account has no email address, so it cannot have a password.")
    else:  # setting a first password: only right after a sign-in with the account's provider
        await reauth.require_recent(request, user, None)
    problems = auth.password_problems(body.new_password, user.email)
    if problems:
        raise validation_problem([FieldError("new_password", p) for p in problems])
    new_hash = await auth.passwords.hash(body.new_password)
    old_hash = user.password_hash

    def change(current: User) -> User:
        if current.password_hash != old_hash:
            raise Problem(409, "The password changed meanwhile; try again.")
        # A new epoch ends every other session: a stolen refresh token dies with the old password.
        return attrs.evolve(current, password_hash=new_hash, password_set_at=now_iso(),
                            session_epoch=current.session_epoch + 1)

    _, after = await auth.users.update(user.id, change)
    await auth.record("password.changed", user_id=user.id, ip=client_address(request))
    return JSON(await auth.sign_in(after))


@operation("List my sign-in methods", responses={200: AuthMethodList}, problems=(403,))
async def auth_methods(request: Request) -> Response:
    user = await stored_user(request)
    return JSON({"items": user.auth_methods(), "next_cursor": None})


@operation("Remove one of my sign-in methods", body=reauth.Reauth, body_required=False,
           responses={204: None}, problems=(403, 409, 429))
async def delete_auth_method(request: Request) -> Response:
    user = await stored_user(request)
    auth = auth_of(request)
    method_id = request.path_params["method_id"]
    if method_id not in {m["id"] for m in user.auth_methods()}:
        raise Problem(404, f"No sign-in method {method_id!r} on this account.")
    await reauth.require_recent(request, user, (await reauth.optional_body(request)).current_password)
    removed = []

    def change(current: User) -> User:
        methods = current.auth_methods()
        if method_id not in {m["id"] for m in methods}:
            raise Problem(404, f"No sign-in method {method_id!r} on this account.")
        if len(methods) <= 1:
            raise Problem(409, "This is your last sign-in method; add another before removing it.")
        if method_id == "password":
            return attrs.evolve(current, password_hash=None, password_set_at=None)
        removed[:] = [i for i in current.identities if i.id == method_id]
        return attrs.evolve(current, identities=tuple(i for i in current.identities if i.id != method_id))

    await auth.users.update(user.id, change)
    for identity in removed:
        await auth.users.release_identity(user.id, identity)
    await auth.record("auth_method.removed", user_id=user.id, method=method_id, ip=client_address(request))
    return Response(status_code=204)


# -- admin ----------------------------------------------------------------------


async def stored_admin(request: Request) -> User:
    """An admin by token AND by the stored record now: a demoted or disabled admin is refused at once."""
    user = await stored_user(request)
    if not user.is_admin:
        raise Problem(403, "This needs the admin role.")
    return user


@operation("List or search users (admins)", query=(
    Query("q", str, "Text in the email or display name (at most 200 characters)"),
    Query("limit", int, f"Page size, 1 to {MAX_PAGE} (50)", minimum=1, maximum=MAX_PAGE),
    Query("cursor", str, "The next_cursor of the previous page")),
    responses={200: UserList}, problems=(403,))
async def list_users(request: Request) -> Response:
    await stored_admin(request)
    limit = query_int(request, "limit", 50, minimum=1, maximum=MAX_PAGE)
    cursor = decode_cursor(request.query_params.get("cursor") or None)
    query = request.query_params.get("q", "")
    if len(query) > 200:
        raise validation_problem([FieldError("q", "must have at most 200 characters")])
    try:
        users, next_cursor = await auth_of(request).users.search(query, limit=limit, cursor=cursor)
    except ValueError:  # a storage backend refusing the page cursor inside
        raise validation_problem([FieldError("cursor", "is not a cursor this endpoint returned")]) from None
    return JSON({"items": [u.public() for u in users], "next_cursor": encode_cursor(next_cursor)})


def encode_cursor(cursor: tuple | None) -> str | None:
    if cursor is None:
        return None
    return base64.urlsafe_b64encode(json.dumps(list(cursor)).encode()).decode().rstrip("=")


def decode_cursor(raw: str | None) -> tuple[str | None, str | None] | None:
    if raw is None:
        return None
    try:
        if len(raw) > 4096:
            raise ValueError
        value = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        page, after = value
        if not all(v is None or isinstance(v, str) for v in (page, after)):
            raise ValueError
        if after is not None and not after.startswith("auth/users/"):
            raise ValueError
    except (ValueError, TypeError, UnicodeDecodeError):
        raise validation_problem([FieldError("cursor", "is not a cursor this endpoint returned")]) from None
    return page, after


#: How many audit events one filtered request reads at most: a filter that matches little cannot
#: make one request read the whole log. A page cut short by it ends with ``next_after`` at the last
#: event read, so the caller pages on (a page may then hold fewer than ``limit`` events, even none).
AUDIT_SCAN = 2000
#: An event type (``user.roles_changed``) or a family of them (``user.``, ``login.``).
AUDIT_TYPE = re.compile(r"^[a-z][a-z_]*(?:\.[a-z_]*)*$")


def _query_time(request: Request, name: str) -> dt.datetime | None:
    """An ISO 8601 date or date-time query parameter (UTC when it names no zone); 422 naming it."""
    raw = request.query_params.get(name) or None
    if raw is None:
        return None
    try:
        value = dt.datetime.fromisoformat(raw) if len(raw) <= 64 else None
    except ValueError:
        value = None
    if value is None:
        raise validation_problem([FieldError(name, "expected an ISO 8601 date-time, such as 2026-11-30T10:00:00Z")])
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _audit_filter(request: Request):
    """The ``user``, ``type``, ``since`` and ``until`` filters of ``GET /users/audit`` as one test."""
    query = request.query_params
    user = query.get("user") or None
    kind = query.get("type") or None
    if user is not None and len(user) > 200:
        raise validation_problem([FieldError("user", "must have at most 200 characters")])
    if kind is not None and (len(kind) > 64 or not AUDIT_TYPE.match(kind)):
        raise validation_problem([FieldError("type", "expected an event type such as user.roles_changed, or a "
                                                     "family such as user.")])
    since, until = _query_time(request, "since"), _query_time(request, "until")
    if since and until and since > until:
        raise validation_problem([FieldError("since", "must not be after until")])

    def matches(event) -> bool:
        # "About or by": a role change names the admin who made it under `by`.
        if user is not None and user not in (event.data.get("user_id"), event.data.get("by")):
            return False
        if kind is not None and not (event.type == kind or (kind.endswith(".") and event.type.startswith(kind))):
            return False
        return since is None or event.created_at >= since

    return matches, until, (user, kind, since, until) != (None, None, None, None)


@operation("Read the audit log (admins)", query=(
    Query("cursor", str, "The next_cursor of the previous page (absent: from the start)"),
    Query("limit", int, f"Page size, 1 to {MAX_PAGE} (50)", minimum=1, maximum=MAX_PAGE),
    Query("user", str, "Only events about or by this user id"),
    Query("type", str, "Only this event type (user.roles_changed) or family (user.)"),
    Query("since", str, "Only events at or after this ISO 8601 date-time (UTC when it names no zone)"),
    Query("until", str, "Only events at or before this ISO 8601 date-time")),
    responses={200: AuditPage}, problems=(403,))
async def audit(request: Request) -> Response:
    await stored_admin(request)
    # The cursor is the seq of the last event seen (what next_cursor says), as a decimal string.
    after = query_int(request, "cursor", 0, minimum=0, maximum=10**12)
    limit = query_int(request, "limit", 50, minimum=1, maximum=MAX_PAGE)
    matches, until, filtered = _audit_filter(request)
    log = auth_of(request).audit
    if not filtered:
        events = await log.read(after=after, limit=limit)
        next_after = events[-1].seq if len(events) == limit else None
    else:
        events, next_after, scanned = [], None, 0
        async for event in log.iter(after):
            if until is not None and event.created_at > until:
                break  # the log is in time order: nothing later can match
            scanned += 1
            if matches(event):
                events.append(event)
                if len(events) == limit:
                    next_after = event.seq
                    break
            if scanned >= AUDIT_SCAN:
                next_after = event.seq
                break
    items = [{"seq": e.seq, "type": e.type, "data": dict(e.data), "created_at": e.created_at.isoformat()}
             for e in events]
    return JSON({"items": items, "next_cursor": None if next_after is None else str(next_after)})


async def _target(request: Request) -> User:
    user = await auth_of(request).users.get_user(request.path_params["user_id"])
    if user is None:
        raise Problem(404, "No such user.")
    return user


@operation("One user (admins)", responses={200: UserDetail}, problems=(403,))
async def get_user(request: Request) -> Response:
    await stored_admin(request)
    user = await _target(request)
    return JSON({**user.public(), "auth_methods": user.auth_methods()})


@operation("Change a user's roles, disabled flag, name or language (admins)", body=AdminUpdate,
           responses={200: UserDetail}, problems=(403, 409))
async def patch_user(request: Request) -> Response:
    admin = await stored_admin(request)
    auth = auth_of(request)
    target = await _target(request)
    raw = await read_json(request)
    if not isinstance(raw, dict):
        raise validation_problem([FieldError("$", "expected a JSON object")])
    reject_unknown(raw, AdminUpdate)
    body = structure(raw, AdminUpdate)
    changes: dict = {}
    if body.roles is not None:
        unknown = [r for r in body.roles if r not in ROLES]
        if unknown or not body.roles:
            raise validation_problem([FieldError("roles", f"must be a non-empty list of {', '.join(ROLES)}")])
        changes["roles"] = tuple(r for r in ROLES if r in body.roles)
    if body.disabled is not None:
        changes["disabled"] = body.disabled
    if body.display_name is not None:
        changes["display_name"] = checked_name(body.display_name)
    if "preferred_language" in raw:
        changes["preferred_language"] = checked_language(body.preferred_language)

    def change(current: User) -> User:
        updated = attrs.evolve(current, **changes)
        if updated.disabled and not current.disabled:
            updated = attrs.evolve(updated, session_epoch=current.session_epoch + 1)
        return updated

    try:
        before, after = await auth.users.update(target.id, change)
    except LastAdmin:
        raise Problem(409, "This is the last admin: it cannot be demoted or disabled.") from None
    ip = client_address(request)
    if before.roles != after.roles:
        await auth.record("user.roles_changed", user_id=after.id, by=admin.id, old=list(before.roles),
                          new=list(after.roles), ip=ip)
    if before.disabled != after.disabled:
        await auth.record("user.disabled" if after.disabled else "user.enabled", user_id=after.id, by=admin.id, ip=ip)
    return JSON({**after.public(), "auth_methods": after.auth_methods()})


@operation("Delete a user and everything kept for them (admins)", responses={204: None}, problems=(403, 409))
async def delete_user(request: Request) -> Response:
    admin = await stored_admin(request)
    auth = auth_of(request)
    target = await _target(request)
    try:
        await auth.users.delete(target.id)
    except LastAdmin:
        raise Problem(409, "This is the last admin: it cannot be deleted.") from None
    await auth.record("user.deleted", user_id=target.id, by=admin.id, ip=client_address(request))
    await request.app.state.kernel.user_deleted(target.id)
    return Response(status_code=204)


def routes() -> list[Route]:
    # Fixed paths before /users/{user_id}: Starlette matches in order.
    return [
        Route("/users/me", get_me, methods=["GET"]),
        Route("/users/me", patch_me, methods=["PATCH"]),
        Route("/users/me", delete_me, methods=["DELETE"]),
        Route("/users/me/password", change_password, methods=["POST"]),
        Route("/users/me/auth-methods", auth_methods, methods=["GET"]),
        Route("/users/me/auth-methods/{method_id}", delete_auth_method, methods=["DELETE"]),
        Route("/users/audit", audit, methods=["GET"]),
        Route("/users", list_users, methods=["GET"]),
        Route("/users/{user_id}", get_user, methods=["GET"]),
        Route("/users/{user_id}", patch_user, methods=["PATCH"]),
        Route("/users/{user_id}", delete_user, methods=["DELETE"]),
    ]
