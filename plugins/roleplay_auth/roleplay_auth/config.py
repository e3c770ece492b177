"""The ``auth`` settings: defaults per environment and the production rules."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import attrs

GOOGLE_DISCOVERY_URL = "https://accounts.google.com/.well-known/openid-configuration"
DEFAULT_SCOPES = ["openid", "email", "profile"]
PROVIDER_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")

#: OWASP's minimum for argon2id (m=19 MiB, t=2, p=1). Settings may go above, never below.
ARGON2_FLOOR = {"memory_cost": 19456, "time_cost": 2, "parallelism": 1}
#: Seconds a sign-in counts as fresh for removing a sign-in method, changing a password, deleting the account.
REAUTH_MAX_AGE = 300


def defaults(env: str) -> dict[str, Any]:
    """Default ``auth`` settings for ``env``."""
    development = env == "development"
    return {
        "auth": {
            # per_address: registrations one address may attempt per window (0 = no limit). Generous
            # in development (one person, many test accounts); set it to the size of the largest
            # group that registers at once behind one address (a classroom behind a NAT).
            "registration": {"enabled": True,
                             "per_address": {"max": 1000 if development else 30, "window_seconds": 3600}},
            "password": {
                "min_length": 10,
                "max_length": 256,
                "argon2": dict(ARGON2_FLOOR),
                # Threads hashing at once; 0 means one per CPU.
                "hash_threads": 0,
            },
            "refresh_token_ttl": 30 * 24 * 3600,
            "throttle": {
                "account": {"max_failures": 5, "window_seconds": 900, "lockout_seconds": 900},
                "client": {"max_failures": 50, "window_seconds": 900, "lockout_seconds": 900},
                # "pair" (one account from one address) takes the account rule unless set.
                # Addresses and browsers that signed in within known_days pass account and client locks.
                "known_days": 90,
            },
            # The callback URL the provider sees is <oauth_redirect_base><prefix>/auth/oauth/<name>/callback.
            "oauth_redirect_base": "http://localhost:8000" if development else "",
            # Empty: the callback answers JSON. Set: 302 there with the tokens in the fragment.
            "oauth_frontend_redirect": "",
            "oauth_state_ttl": 600,
            # Sign-in starts and callbacks per address per window (each start stores a pending
            # record until it expires); 0 = no limit. Expired pending records are swept every
            # oauth_prune_seconds by each server (0 = only by `roleplay users prune`).
            "oauth_per_address": {"max": 30, "window_seconds": 600},
            "oauth_prune_seconds": 600,
            "oidc_cache_seconds": 3600,
            "oidc": {
                "google": {
                    "discovery_url": GOOGLE_DISCOVERY_URL,
                    "client_id": "",
                    "client_secret": "",
                    "scopes": list(DEFAULT_SCOPES),
                    "display_name": "Google",
                },
            },
            "bootstrap_admin": {"email": "", "password": ""},
            "reauth_max_age": REAUTH_MAX_AGE,
            # Seconds a verified API key is cached per server: how late a revocation reaches the others.
            "api_keys": {"cache_seconds": 5.0},
        }
    }


_ZERO_OR_MORE = attrs.validators.ge(0)
_POSITIVE = attrs.validators.gt(0)


def _floor(name: str):
    least = ARGON2_FLOOR[name]

    def check(instance: Any, attribute: Any, value: int) -> None:
        if value < least:
            raise ValueError(f"'{attribute.name}' must be >= {least} (OWASP minimum), not {value!r}")

    return check


def _scopes(instance: Any, attribute: Any, value: Any) -> None:
    # A list, or one space/comma separated string (docs/oauth.md): a union the strict converter cannot structure.
    if isinstance(value, str):
        return
    if not isinstance(value, (list, tuple)) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"'{attribute.name}' must be a list of strings or one space-separated string")


@attrs.frozen(kw_only=True)
class Rate:
    """A rate limit: ``max`` calls per ``window_seconds`` (0: no limit)."""

    max: int = attrs.field(validator=_ZERO_OR_MORE)
    window_seconds: float = attrs.field(validator=_POSITIVE)


@attrs.frozen(kw_only=True)
class Registration:
    enabled: bool
    per_address: Rate


@attrs.frozen(kw_only=True)
class Argon2:
    memory_cost: int = attrs.field(validator=_floor("memory_cost"))
    time_cost: int = attrs.field(validator=_floor("time_cost"))
    parallelism: int = attrs.field(validator=_floor("parallelism"))


@attrs.frozen(kw_only=True)
class Password:
    min_length: int = attrs.field(validator=attrs.validators.ge(8))
    max_length: int = attrs.field(validator=_POSITIVE)
    argon2: Argon2
    #: 0: one thread per CPU.
    hash_threads: int = attrs.field(validator=_ZERO_OR_MORE)


@attrs.frozen(kw_only=True)
class ThrottleRule:
    """A lock rule; a table that sets only some keys takes the others from here (the throttle's own defaults)."""

    max_failures: int = attrs.field(default=5, validator=_POSITIVE)
    window_seconds: float = attrs.field(default=900, validator=_POSITIVE)
    lockout_seconds: float = attrs.field(default=900, validator=_ZERO_OR_MORE)


@attrs.frozen(kw_only=True)
class Throttle:
    account: ThrottleRule
    client: ThrottleRule
    #: One account from one address; the account rule when unset.
    pair: ThrottleRule | None = None
    known_days: float = attrs.field(validator=_ZERO_OR_MORE)


@attrs.frozen(kw_only=True)
class Oidc:
    """``auth.oidc.<name>``; a provider is on when it has a ``client_id`` (:func:`enabled_oidc`)."""

    discovery_url: str = ""
    client_id: str = ""
    client_secret: str = attrs.field(default="", repr=False)
    scopes: Any = attrs.field(factory=lambda: list(DEFAULT_SCOPES), validator=_scopes)
    display_name: str = ""


@attrs.frozen(kw_only=True)
class BootstrapAdmin:
    email: str
    password: str = attrs.field(repr=False)


@attrs.frozen(kw_only=True)
class ApiKeys:
    cache_seconds: float = attrs.field(validator=_ZERO_OR_MORE)


@attrs.frozen(kw_only=True)
class AuthSettings:
    """The ``auth`` table, structured by the kernel's strict converter (``settings_schema``).

    The rules that depend on the environment or span keys (https outside development, the
    bootstrap admin in development only, a redirect base for OIDC) are :func:`problems`.
    """

    registration: Registration
    password: Password
    refresh_token_ttl: int = attrs.field(validator=_POSITIVE)
    throttle: Throttle
    oauth_redirect_base: str
    oauth_frontend_redirect: str
    oauth_state_ttl: int = attrs.field(validator=_POSITIVE)
    oauth_per_address: Rate
    #: 0: only ``roleplay users prune`` sweeps.
    oauth_prune_seconds: float = attrs.field(validator=_ZERO_OR_MORE)
    oidc_cache_seconds: int = attrs.field(validator=_ZERO_OR_MORE)
    oidc: dict[str, Oidc]
    bootstrap_admin: BootstrapAdmin
    reauth_max_age: int = attrs.field(validator=_POSITIVE)
    api_keys: ApiKeys


def scopes_of(value: Any) -> list[str]:
    """``scopes`` may be a list or a space/comma separated string (env vars); ``openid`` is always in."""
    if isinstance(value, str):
        items = [s for s in re.split(r"[\s,]+", value) if s]
    elif isinstance(value, (list, tuple)):
        items = [str(s) for s in value]
    else:
        items = list(DEFAULT_SCOPES)
    if "openid" not in items:
        items.insert(0, "openid")
    return items


def typed(kernel: Any) -> AuthSettings:
    """``kernel``'s ``auth`` settings, typed."""
    return kernel.typed_settings("auth")


def enabled_oidc(settings: Any) -> dict[str, dict[str, Any]]:
    """The configured OIDC providers that have a client id, by name."""
    table = settings.get("auth.oidc") or {}
    found = {}
    for name, config in table.items():
        if isinstance(config, dict) and config.get("client_id"):
            found[str(name)] = config
    return found


def _loopback_http(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "http" and parts.hostname in ("localhost", "127.0.0.1", "::1")


def _check_url(problems: list[str], key: str, url: str, env: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problems.append(f"{key}: {url!r} is not an absolute http(s) URL")
    elif parts.scheme == "http" and not (env == "development" and _loopback_http(url)):
        problems.append(f"{key}: {url!r} must be https (http://localhost is allowed in development only)")
    elif parts.fragment:
        problems.append(f"{key}: {url!r} must not have a fragment")


def problems(settings: Any) -> list[str]:
    """The rules the ``auth`` settings break for ``settings.env`` that span keys or depend on the
    environment (each key's own type and range is :class:`AuthSettings`)."""
    env = settings.env
    found: list[str] = []
    bootstrap = settings.get("auth.bootstrap_admin") or {}
    if env != "development" and (bootstrap.get("email") or bootstrap.get("password")):
        found.append(f"auth.bootstrap_admin is for development only; remove it from the {env} layer "
                     "and use `roleplay users create --email E --role admin`")
    providers = enabled_oidc(settings)
    for name, config in providers.items():
        if not PROVIDER_NAME.match(name):
            found.append(f"auth.oidc.{name}: provider names are lower-case letters, digits, '-' and '_'")
        url = config.get("discovery_url") or ""
        if not url:
            found.append(f"auth.oidc.{name}.discovery_url must be set when auth.oidc.{name}.client_id is")
        else:
            _check_url(found, f"auth.oidc.{name}.discovery_url", url, env)
    base = settings.get("auth.oauth_redirect_base") or ""
    if providers and not base:
        found.append("auth.oauth_redirect_base must be set when an OIDC provider is enabled")
    if base:
        _check_url(found, "auth.oauth_redirect_base", base, env)
    front = settings.get("auth.oauth_frontend_redirect") or ""
    if front:
        _check_url(found, "auth.oauth_frontend_redirect", front, env)
    return found
