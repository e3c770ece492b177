"""Settings: embedded defaults, plugin defaults, then Dynaconf layers and env vars.

Precedence, lowest first:

1. the kernel's embedded defaults (:data:`KERNEL_DEFAULTS`), ``default`` then the
   current environment's table;
2. each enabled plugin's ``settings_defaults(env)`` hook;
3. ``settings.toml`` (``[default]`` then ``[<env>]``), ``.secrets.toml``, and env
   vars ``ROLEPLAY_A__B__C`` — loaded by Dynaconf with ``merge_enabled`` so a layer
   changes one nested key without replacing its whole table;
4. explicit overrides (tests, CLI flags).

Every key is lower-case; tables merge key by key at every level.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Iterator, Mapping
from typing import Any

ENVIRONMENTS = ("development", "beta", "production")
SECRET_KEY = re.compile(r"(secret|password|api_key|access_key|access_key_id|session_token|credentials_json)s?$")
DEV_JWT_SECRET = "development-only-jwt-secret-do-not-use-in-production"

KERNEL_DEFAULTS: dict[str, dict[str, Any]] = {
    "default": {
        "server": {"host": "127.0.0.1", "port": 8000, "max_body_bytes": 1_048_576, "log_level": "info",
                   # SIGTERM: how long sockets get to say goodbye, then requests in flight to finish.
                   "drain_seconds": 35.0},
        "storage": {"backend": "file", "file": {"root": "var/data", "fsync": True, "allow_in_production": False}},
        "security": {
            "jwt_secret": "",
            "jwt_algorithm": "HS256",
            "jwt_private_key_file": "",
            "jwt_public_key_files": [],
            "jwt_previous_secrets": [],
            "jwt_issuer": "roleplay",
            "jwt_audience": "roleplay",
            "access_token_ttl": 900,
            "leeway": 10,
            "token_cache_size": 4096,
            "websocket_auth_timeout": 5.0,
        },
        "cors": {"allow_origins": [], "allow_credentials": False, "max_age": 600},
        "plugins": {},
        "packs": {"enabled": True},
    },
    "development": {
        "security": {"jwt_secret": DEV_JWT_SECRET},
        "cors": {"allow_origins": ["http://localhost:3000", "http://127.0.0.1:3000", "http://localhost:5173"]},
    },
    "beta": {},
    "production": {"server": {"host": "0.0.0.0", "log_level": "warning"}},
}


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``override`` into a copy of ``base``; nested mappings merge, the rest replaces."""
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def lower_keys(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k).lower(): lower_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [lower_keys(v) for v in value]
    return value


def expand_dotted(values: Mapping[str, Any]) -> dict[str, Any]:
    """``{"a.b": 1}`` -> ``{"a": {"b": 1}}``, so tests and CLI flags can name one key."""
    tree: dict[str, Any] = {}
    for dotted, value in values.items():
        node = tree
        *parents, leaf = dotted.lower().split(".")
        for part in parents:
            node = node.setdefault(part, {})
        if isinstance(value, Mapping):
            node[leaf] = deep_merge(node.get(leaf, {}), lower_keys(value))
        else:
            node[leaf] = value
    return tree


class Settings(Mapping[str, Any]):
    """The effective settings: a read-only nested mapping with dotted look-ups."""

    def __init__(self, data: Mapping[str, Any], env: str) -> None:
        self._data = dict(data)
        self.env = env

    def get(self, dotted: str, default: Any = None) -> Any:
        node: Any = self._data
        for part in dotted.lower().split("."):
            if not isinstance(node, Mapping) or part not in node:
                return default
            node = node[part]
        return node

    def __getitem__(self, key: str) -> Any:
        value = self.get(key, _MISSING)
        if value is _MISSING:
            raise KeyError(key)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def section(self, dotted: str) -> dict[str, Any]:
        value = self.get(dotted, {})
        return dict(value) if isinstance(value, Mapping) else {}

    def as_dict(self) -> dict[str, Any]:
        return copy.deepcopy(self._data)

    def masked(self) -> dict[str, Any]:
        """The settings with every secret-looking value replaced by ``***``."""
        return _mask(self._data)

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def is_development(self) -> bool:
        return self.env == "development"

    def plugin(self, name: str) -> dict[str, Any]:
        return self.section(f"plugins.{name}")

    def __repr__(self) -> str:
        return f"Settings(env={self.env!r})"


_MISSING = object()


def _mask(value: Any, key: str = "") -> Any:
    if isinstance(value, Mapping):
        return {k: _mask(v, k) for k, v in value.items()}
    if SECRET_KEY.search(key) and value not in ("", None, [], {}):
        if isinstance(value, list):
            return ["***" for _ in value]
        return "***"
    return value


def current_env(env: str | None = None) -> str:
    env = (env or os.environ.get("ROLEPLAY_ENV") or "development").lower()
    if env not in ENVIRONMENTS:
        raise ValueError(f"ROLEPLAY_ENV must be one of {', '.join(ENVIRONMENTS)}, not {env!r}")
    return env


def load_layers(env: str, settings_files: list[str] | None = None) -> dict[str, Any]:
    """What ``settings.toml``, ``.secrets.toml`` and ``ROLEPLAY_*`` env vars say for ``env``."""
    from dynaconf import Dynaconf

    if settings_files is None:
        listed = os.environ.get("ROLEPLAY_SETTINGS_FILES")
        settings_files = listed.split(",") if listed else ["settings.toml", ".secrets.toml"]
    layers = Dynaconf(
        envvar_prefix="ROLEPLAY",
        settings_files=settings_files,
        environments=True,
        env=env,
        env_switcher="ROLEPLAY_ENV",
        merge_enabled=True,
        load_dotenv=False,
    )
    layers.setenv(env)  # the env argument wins over a ROLEPLAY_ENV in the environment
    data = lower_keys(layers.as_dict())
    for internal in ("env", "settings_files", "envvar_prefix", "environments", "env_switcher", "load_dotenv"):
        data.pop(internal, None)
    return data


def build_settings(
    env: str,
    *,
    layers: Mapping[str, Any],
    plugin_defaults: list[Mapping[str, Any]] = (),
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    merged = deep_merge(KERNEL_DEFAULTS["default"], KERNEL_DEFAULTS.get(env, {}))
    for defaults in plugin_defaults:
        merged = deep_merge(merged, lower_keys(defaults))
    merged = deep_merge(merged, layers)
    if overrides:
        merged = deep_merge(merged, expand_dotted(overrides))
    return Settings(merged, env)


def kernel_problems(settings: Settings) -> list[str]:
    """The kernel's own checks; plugins add theirs through ``validate_settings``."""
    problems: list[str] = []
    strict = settings.env in ("beta", "production")
    secret = settings.get("security.jwt_secret") or ""
    algorithm = settings.get("security.jwt_algorithm", "HS256")
    if algorithm == "HS256":
        if strict and not secret:
            problems.append("security.jwt_secret must be set (ROLEPLAY_SECURITY__JWT_SECRET)")
        elif strict and secret == DEV_JWT_SECRET:
            problems.append("security.jwt_secret is the development secret; set a real one")
        elif strict and (len(secret) < 32 or len(set(secret)) < 10):
            problems.append("security.jwt_secret must be at least 32 characters of real randomness")
    elif not settings.get("security.jwt_private_key_file"):
        problems.append(f"security.jwt_private_key_file must be set for {algorithm}")
    if settings.is_production:
        origins = settings.get("cors.allow_origins") or []
        if "*" in origins:
            problems.append("cors.allow_origins must list explicit origins in production, not '*'")
        for origin in origins:
            if not str(origin).startswith("https://"):
                problems.append(f"cors.allow_origins: {origin!r} must be https in production")
        if settings.get("storage.backend") == "file" and not settings.get("storage.file.allow_in_production"):
            problems.append(
                "storage.backend is 'file' in production; use a shared backend such as s3, "
                "or set storage.file.allow_in_production = true for a single-host deployment"
            )
    return problems
