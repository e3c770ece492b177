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
import math
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
                   "log_format": "text",
                   # Move what start-up loaded out of the garbage collector's full passes (see app.py).
                   "gc_freeze": True,
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
            # The first WebSocket frame (the auth message) is refused above this, before parsing.
            "websocket_auth_max_bytes": 4096,
            # Every later frame; `roleplay serve` also gives it to uvicorn as --ws-max-size.
            "websocket_max_frame_bytes": 1_048_576,
            # How often an open WebSocket re-checks its account (deleted, disabled, demoted).
            "websocket_recheck_seconds": 60.0,
        },
        "cors": {"allow_origins": [], "allow_credentials": False, "max_age": 600},
        "plugins": {},
        "packs": {"enabled": True},
        # Prometheus metrics: off by default; port 0 = GET /metrics on the app for admins,
        # a port = a listener of its own on metrics.host without authentication.
        "metrics": {"enabled": False, "port": 0, "host": "127.0.0.1", "multiprocess_dir": ""},
        # /openapi.json, /asyncapi.json and the /docs page: on, but off in production (see below).
        "docs": {"enabled": True},
    },
    "development": {
        "security": {"jwt_secret": DEV_JWT_SECRET},
        "cors": {"allow_origins": ["http://localhost:3000", "http://127.0.0.1:3000", "http://localhost:5173"]},
    },
    "beta": {},
    # Production does not publish its API description unless asked to (docs.enabled = true).
    "production": {"server": {"host": "0.0.0.0", "log_level": "warning"}, "docs": {"enabled": False}},
}


def existing_file(instance: Any, attribute: Any, value: str) -> None:
    """An attrs validator for a settings path: empty (unset), or a file that exists (a CA bundle, a key file)."""
    if value and not os.path.isfile(value):
        raise ValueError(f"'{attribute.name}' names {value!r}, which is not a file")


def http_url(instance: Any, attribute: Any, value: str) -> None:
    """An attrs validator for a settings URL: empty (unset), or one starting with https:// or http://."""
    if value and not value.startswith(("https://", "http://")):
        raise ValueError(f"'{attribute.name}' must start with https:// or http://")


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

    def plugin_prefix(self, name: str) -> str:
        """Where the kernel mounts plugin ``name``'s routes: ``plugins.<name>.prefix`` without a
        trailing ``/``, or ``""``. The one lookup (the kernel, and plugins that build their own URLs)."""
        return str(self.get(f"plugins.{name}.prefix") or "").rstrip("/")

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
    # Relative names mean the working directory, as documented, and nothing else: left to itself
    # Dynaconf also searches the folders of the calling code and their parents, so a server
    # started elsewhere could read the settings.toml of the checkout it was installed from.
    settings_files = [name if os.path.isabs(name) else os.path.join(os.getcwd(), name) for name in settings_files]
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


#: The estimated entropy an HS256 secret needs in beta and production.
SECRET_BITS = 128


def secret_bits(secret: str) -> float:
    """A conservative estimate of the entropy of ``secret``, in bits.

    Each character the ones before it do not predict is worth ``log2(alphabet)`` bits, where the
    alphabet is the character classes the secret uses (lower, upper, digits: 26/26/10; anything
    else: 33). A character is predicted when the three characters ending with it appeared before
    (``abcdefghij`` written three times is worth ten characters, not thirty) or when it continues a
    run of steady steps (``abcdef``, ``12345``, ``zyx``, ``aaaa``). Random secrets score close to
    their full length; repeated or sequential ones do not: ``abcdefghijabcdefghijabcdefghij12``
    scores about 30 bits, ``secrets.token_hex(16)`` about 165, ``secrets.token_urlsafe(32)`` about 280.
    """
    classes = ("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789")
    alphabet = sum(len(chars) for chars in classes if any(c in chars for c in secret))
    if any(not any(c in chars for chars in classes) for c in secret):
        alphabet += 33
    seen: set[str] = set()
    novel = 0
    for i, char in enumerate(secret):
        context = secret[max(0, i - 2):i + 1]
        step = ord(char) - ord(secret[i - 1]) if i else None
        steady = i >= 2 and step is not None and abs(step) <= 1 and step == ord(secret[i - 1]) - ord(secret[i - 2])
        if context not in seen and not steady:
            novel += 1
        seen.add(context)
    return novel * math.log2(max(alphabet, 2))


def secret_source(settings: Settings) -> str:
    """Where the token-signing key comes from, for the start-up log (never the key itself)."""
    algorithm = settings.get("security.jwt_algorithm", "HS256")
    if algorithm != "HS256":
        return f"{algorithm} private key file security.jwt_private_key_file ({settings.get('security.jwt_private_key_file')})"
    secret = settings.get("security.jwt_secret") or ""
    if secret == DEV_JWT_SECRET:
        return "the built-in development secret (public: anyone can sign tokens; set security.jwt_secret)"
    if os.environ.get("ROLEPLAY_SECURITY__JWT_SECRET"):
        return "HS256 secret from ROLEPLAY_SECURITY__JWT_SECRET"
    return "HS256 secret security.jwt_secret from the settings files or overrides"


def uses_development_secret(settings: Settings) -> bool:
    return settings.get("security.jwt_algorithm", "HS256") == "HS256" and \
        (settings.get("security.jwt_secret") or "") == DEV_JWT_SECRET


def kernel_problems(settings: Settings) -> list[str]:
    """The kernel's own checks; plugins add theirs through ``validate_settings``."""
    problems: list[str] = []
    strict = settings.env in ("beta", "production")
    drain = settings.get("server.drain_seconds", 35.0)
    if isinstance(drain, bool) or not isinstance(drain, (int, float)) or not 0 <= drain <= 3600:
        problems.append("server.drain_seconds must be a number of seconds from 0 to 3600")
    secret = settings.get("security.jwt_secret") or ""
    algorithm = settings.get("security.jwt_algorithm", "HS256")
    if algorithm == "HS256":
        if strict and not secret:
            problems.append("security.jwt_secret must be set (ROLEPLAY_SECURITY__JWT_SECRET)")
        elif strict and secret == DEV_JWT_SECRET:
            problems.append("security.jwt_secret is the development secret; set a real one")
        elif strict and (len(secret) < 32 or secret_bits(secret) < SECRET_BITS):
            problems.append(f"security.jwt_secret must be at least 32 characters of real randomness (an estimated "
                            f"{SECRET_BITS} bits; this one has about {secret_bits(secret):.0f}). Make one with "
                            "python -c 'import secrets; print(secrets.token_urlsafe(32))'")
    elif not settings.get("security.jwt_private_key_file"):
        problems.append(f"security.jwt_private_key_file must be set for {algorithm}")
    for name, table in (settings.get("plugins") or {}).items():
        enabled = table.get("enabled", True) if isinstance(table, Mapping) else True
        if not isinstance(enabled, bool):
            problems.append(f"plugins.{name}.enabled: expected true or false")
    for name in ("inline_read_bytes", "read_cache_bytes"):
        size = settings.get(f"storage.file.{name}", 0)
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            problems.append(f"storage.file.{name}: expected a whole number of bytes, 0 or more, not {size!r}")
    if not isinstance(settings.get("server.gc_freeze", True), bool):
        problems.append("server.gc_freeze: expected true or false")
    if settings.get("server.log_format", "text") not in ("text", "json"):
        problems.append(f"server.log_format must be 'text' or 'json', not {settings.get('server.log_format')!r}")
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
