"""The ``auth`` settings: defaults per environment and the production rules."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

GOOGLE_DISCOVERY_URL = "https://accounts.google.com/.well-known/openid-configuration"
DEFAULT_SCOPES = ["openid", "email", "profile"]
PROVIDER_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")

#: OWASP's minimum for argon2id (m=19 MiB, t=2, p=1). Settings may go above, never below.
ARGON2_FLOOR = {"memory_cost": 19456, "time_cost": 2, "parallelism": 1}


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
        }
    }


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
    """Every rule the ``auth`` settings break for ``settings.env``."""
    env = settings.env
    found: list[str] = []
    argon2 = settings.get("auth.password.argon2") or {}
    for name, floor in ARGON2_FLOOR.items():
        value = argon2.get(name, floor)
        if not isinstance(value, int) or value < floor:
            found.append(f"auth.password.argon2.{name} must be an integer >= {floor} (OWASP minimum), not {value!r}")
    min_length = settings.get("auth.password.min_length", 10)
    if not isinstance(min_length, int) or min_length < 8:
        found.append(f"auth.password.min_length must be an integer >= 8, not {min_length!r}")
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
