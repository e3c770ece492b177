"""Admin routes for service accounts: create (the key is shown once), list, revoke."""

from __future__ import annotations

import time

import attrs
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from roleplay_core import JSON, ROLES, FieldError, Problem, operation, read_json, structure, validation_problem

from .auth_routes import auth_of
from .bodies import checked_name, reject_unknown
from .schemas import NewServiceAccount, ServiceAccountList, ServiceAccountView
from .users_routes import stored_admin

MAX_DAYS = 3650


@attrs.frozen(kw_only=True)
class CreateServiceAccount:
    name: str
    roles: list[str]
    #: Days until the key stops working; ``None``: it works until revoked.
    expires_in_days: int | None = None


@operation("Create a service account and its API key (admins; the key is shown once)",
           body=CreateServiceAccount, responses={201: NewServiceAccount}, problems=(403,),
           links={"revoke": ("DELETE /auth/service-accounts/{account_id}", {"account_id": "$response.body#/id"})})
async def create(request: Request) -> Response:
    admin = await stored_admin(request)
    raw = await read_json(request)
    if not isinstance(raw, dict):
        raise validation_problem([FieldError("$", "expected a JSON object")])
    reject_unknown(raw, CreateServiceAccount)
    body = structure(raw, CreateServiceAccount)
    name = checked_name(body.name, "name")
    if not body.roles or any(role not in ROLES for role in body.roles):
        raise validation_problem([FieldError("roles", f"must be a non-empty list of {', '.join(ROLES)}")])
    days = body.expires_in_days
    if days is not None and not 1 <= days <= MAX_DAYS:
        raise validation_problem([FieldError("expires_in_days", f"must be between 1 and {MAX_DAYS}")])
    auth = auth_of(request)
    account, key = await auth.api_keys.create(
        name=name, roles=tuple(r for r in ROLES if r in body.roles), created_by=admin.id,
        expires_at=time.time() + days * 86400 if days else None)
    await auth.record("service_account.created", account_id=account.id, name=account.name, by=admin.id,
                      roles=list(account.roles), expires_at=account.expires_at)
    return JSON({**account.public(), "api_key": key}, status_code=201,
                headers={"Location": f"{request.url.path.rstrip('/')}/{account.id}", "Cache-Control": "no-store"})


@operation("List the service accounts (admins)", responses={200: ServiceAccountList}, problems=(403,))
async def list_accounts(request: Request) -> Response:
    await stored_admin(request)
    accounts = await auth_of(request).api_keys.list()
    return JSON({"items": [a.public() for a in accounts], "next_cursor": None})


@operation("Revoke a service account's key (admins)", responses={200: ServiceAccountView}, problems=(403,))
async def revoke(request: Request) -> Response:
    admin = await stored_admin(request)
    auth = auth_of(request)
    account_id = request.path_params["account_id"]
    before = await auth.api_keys.get(account_id)
    if before is None:
        raise Problem(404, "No such service account.")
    account = await auth.api_keys.revoke(account_id, admin.id)
    if before.revoked_at is None:
        await auth.record("service_account.revoked", account_id=account_id, name=before.name, by=admin.id)
    return JSON(account.public() if account else before.public())


def routes() -> list[Route]:
    return [
        Route("/auth/service-accounts", list_accounts, methods=["GET"]),
        Route("/auth/service-accounts", create, methods=["POST"]),
        Route("/auth/service-accounts/{account_id}", revoke, methods=["DELETE"]),
    ]
