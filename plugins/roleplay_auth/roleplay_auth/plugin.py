"""Hook implementations of the ``auth`` plugin: accounts, sign-in methods, tokens, admin."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time

from roleplay_core import hookimpl

from . import apikey_routes, auth_routes, cli, config, users_routes
from .apikeys import ID_PREFIX
from .local import LocalPasswordProvider
from .oidc import OIDCProvider
from .prune import prune_pending
from .service import service

logger = logging.getLogger("roleplay.auth")


@hookimpl
def settings_defaults(env):
    return config.defaults(env)


@hookimpl
def settings_schema():
    return {"auth": config.AuthSettings}


@hookimpl
def validate_settings(settings):
    return config.problems(settings)


@hookimpl
def register_routes(kernel):
    return [*auth_routes.routes(), *users_routes.routes(), *apikey_routes.routes()]


@hookimpl
def register_auth_providers(kernel):
    factories = {"local": _local}
    for name in sorted(config.enabled_oidc(kernel.settings)):
        factories[name] = functools.partial(_oidc, name)
    return factories


def _local(kernel):
    auth = service(kernel)
    return LocalPasswordProvider(auth.users, auth.passwords)


def _oidc(name, kernel):
    return OIDCProvider(
        name, config.enabled_oidc(kernel.settings)[name], kernel.storage,
        state_ttl=config.typed(kernel).oauth_state_ttl,
        cache_seconds=config.typed(kernel).oidc_cache_seconds,
    )


@hookimpl
def authenticate_request(kernel, token):
    """API keys of service accounts (``rp_...``); any other token is not ours (``None`` at once)."""
    if not token.startswith("rp_"):
        return None
    return service(kernel).api_keys.principal(token)


@hookimpl
async def check_principal(kernel, principal):
    """Long-lived connections ask this now and then: is the account behind ``principal`` still good?"""
    if principal.id.startswith(ID_PREFIX):
        account = await service(kernel).api_keys.get(principal.id)
        if account is None:
            return "the service account no longer exists"
        if account.revoked_at is not None:
            return "the API key was revoked"
        return None if account.active(time.time()) else "the API key expired"
    user = await service(kernel).users.get_user(principal.id)
    if user is None:
        return "the account no longer exists"
    if user.disabled:
        return "the account is disabled"
    if any(role not in user.roles for role in principal.roles):
        return "the account's roles changed; sign in again"
    return None


@hookimpl
def register_commands(subparsers):
    cli.add_commands(subparsers)


@hookimpl
async def startup(kernel):
    auth = service(kernel)
    await auth.passwords.warm_up()  # the dummy hash for unknown-email logins
    await bootstrap_admin(kernel)
    interval = config.typed(kernel).oauth_prune_seconds
    if interval > 0:
        auth.sweeper = asyncio.create_task(sweep_pending(kernel, interval), name="auth-oauth-sweep")


async def sweep_pending(kernel, interval: float) -> None:
    """Delete expired pending sign-ins now and then: every anonymous /login call stores one."""
    while True:
        await asyncio.sleep(interval)
        try:
            await prune_pending(kernel.storage)
        except Exception:  # storage briefly away: try again next time
            logger.warning("could not sweep expired OAuth sign-ins", exc_info=True)


@hookimpl
async def shutdown(kernel):
    auth = service(kernel)
    if auth.sweeper is not None:
        auth.sweeper.cancel()
        with contextlib.suppress(BaseException):
            await auth.sweeper
        auth.sweeper = None
    auth.passwords.close()


async def bootstrap_admin(kernel) -> None:
    """Development only: create ``auth.bootstrap_admin`` as an admin if that email has no account."""
    admin = config.typed(kernel).bootstrap_admin
    email, password = admin.email.strip(), admin.password
    if not email or not password:
        return
    if not kernel.settings.is_development:
        # validate_settings already refuses this outside development; never act on it there.
        raise RuntimeError("auth.bootstrap_admin is set outside development")
    from .emails import normalise
    from .users import EmailTaken

    auth = service(kernel)
    email = normalise(email)
    if await auth.users.by_email(email) is not None:
        return
    problems = auth.password_problems(password, email)
    if problems:
        raise ValueError("auth.bootstrap_admin.password " + "; ".join(problems))
    try:
        user = await auth.create_local_user(email=email, password=password, display_name="Admin", roles=("admin",))
    except EmailTaken:
        return  # another process created it a moment ago
    await auth.record("user.registered", user_id=user.id, method="bootstrap", roles=["admin"])
    logger.warning("created the development bootstrap admin %s", email)
