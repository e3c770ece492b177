"""The ``storage.s3`` settings: defaults, parsing and the checks ``roleplay check`` runs."""

from __future__ import annotations

import ipaddress
import re
from typing import Any
from urllib.parse import urlsplit

import attrs

from roleplay_core import converter
from roleplay_core.storage import InvalidKey, validate_key

#: Defaults shipped through the ``settings_defaults`` hook, under ``storage.s3``.
DEFAULTS: dict[str, Any] = {
    "bucket": "",
    # Empty means AWS itself; set it for MinIO, Ceph RGW or any other S3-compatible service.
    "endpoint_url": "",
    # Empty means the usual AWS sources (AWS_REGION, AWS_DEFAULT_REGION, the profile), else us-east-1.
    "region": "",
    "prefix": "",
    # "auto": path-style (https://host/bucket/key) when endpoint_url is set, virtual-hosted on AWS.
    "path_style": "auto",
    # Empty means the usual AWS credential chain (env vars, profile, SSO, instance or task role).
    "access_key_id": "",
    "secret_access_key": "",
    "session_token": "",
    "profile": "",
    "connect_timeout": 5.0,
    "read_timeout": 30.0,
    "max_pool_connections": 32,
    "retry_mode": "standard",
    "max_attempts": 5,
    # "when_required" keeps S3-compatible servers that reject the newer default CRC checksums working.
    "checksums": "when_required",
    # Plain http is refused in beta and production unless the endpoint is on loopback or this is true.
    "allow_http": False,
}

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
RETRY_MODES = ("standard", "adaptive", "legacy")
CHECKSUM_MODES = ("when_required", "when_supported")


def _bucket(instance: Any, attribute: Any, value: str) -> None:
    bucket = value.strip()
    if bucket and (not _BUCKET.match(bucket) or ".." in bucket):
        raise ValueError(f"'{attribute.name}' {bucket!r} is not a valid bucket name (3-63 of a-z, 0-9, '.', '-')")


def _endpoint(instance: Any, attribute: Any, value: str) -> None:
    endpoint = value.strip()
    parts = urlsplit(endpoint)
    if endpoint and (parts.scheme not in ("http", "https") or not parts.hostname):
        raise ValueError(f"'{attribute.name}' must be an http(s) URL, not {endpoint!r}")


def _prefix(instance: Any, attribute: Any, value: str) -> None:
    prefix = value.strip().strip("/")
    if prefix:
        try:
            validate_key(prefix)
        except InvalidKey as exc:
            raise ValueError(f"'{attribute.name}' is not a valid key prefix: {exc}") from None


def _auto_or_boolean(instance: Any, attribute: Any, value: Any) -> None:
    # A union the strict converter cannot structure, so the validator checks the type: true, false or "auto".
    if not isinstance(value, bool) and value != "auto":
        raise ValueError(f"'{attribute.name}' must be auto, true or false, not {value!r}")


def _one_of(choices: tuple[str, ...]):
    def check(instance: Any, attribute: Any, value: str) -> None:
        if value not in choices:
            raise ValueError(f"'{attribute.name}' must be one of {', '.join(choices)}, not {value!r}")

    return check


@attrs.frozen(kw_only=True)
class S3Settings:
    """The ``storage.s3`` table as written, structured by the kernel's strict converter
    (``settings_schema``). Rules that span keys or depend on the environment are :func:`problems`."""

    bucket: str = attrs.field(validator=_bucket)
    endpoint_url: str = attrs.field(validator=_endpoint)
    region: str
    prefix: str = attrs.field(validator=_prefix)
    path_style: Any = attrs.field(validator=_auto_or_boolean)
    access_key_id: str = attrs.field(repr=False)
    secret_access_key: str = attrs.field(repr=False)
    session_token: str = attrs.field(repr=False)
    profile: str
    connect_timeout: float = attrs.field(validator=attrs.validators.ge(0.1))
    read_timeout: float = attrs.field(validator=attrs.validators.ge(0.1))
    max_pool_connections: int = attrs.field(validator=attrs.validators.ge(1))
    retry_mode: str = attrs.field(validator=_one_of(RETRY_MODES))
    max_attempts: int = attrs.field(validator=attrs.validators.ge(1))
    checksums: str = attrs.field(validator=_one_of(CHECKSUM_MODES))
    allow_http: bool


@attrs.frozen
class S3Options:
    """The parsed ``storage.s3`` table. Secrets are kept out of ``repr``."""

    bucket: str
    endpoint_url: str | None = None
    region: str | None = None
    prefix: str = ""
    path_style: bool = False
    access_key_id: str | None = attrs.field(default=None, repr=False)
    secret_access_key: str | None = attrs.field(default=None, repr=False)
    session_token: str | None = attrs.field(default=None, repr=False)
    profile: str | None = None
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    max_pool_connections: int = 32
    retry_mode: str = "standard"
    max_attempts: int = 5
    checksums: str = "when_required"

    @classmethod
    def from_settings(cls, settings: Any) -> S3Options:
        """Read ``storage.s3`` from kernel settings (or a plain dict of that table; missing keys take
        the defaults). ``ValueError`` names the keys when the table does not fit :class:`S3Settings`."""
        try:
            raw = converter.structure({**DEFAULTS, **_table(settings)}, S3Settings)
        except Exception as exc:  # development starts with invalid settings; the backend cannot
            raise ValueError(f"storage.s3 is not valid (see `roleplay check`): {exc}") from None
        endpoint = raw.endpoint_url.strip() or None
        return cls(
            bucket=raw.bucket.strip(),
            endpoint_url=endpoint,
            region=raw.region.strip() or None,
            prefix=normalize_prefix(raw.prefix),
            # "auto": virtual-hosted style needs wildcard DNS per bucket, which MinIO, Ceph and moto rarely have.
            path_style=endpoint is not None if raw.path_style == "auto" else raw.path_style,
            access_key_id=raw.access_key_id or None,
            secret_access_key=raw.secret_access_key or None,
            session_token=raw.session_token or None,
            profile=raw.profile or None,
            connect_timeout=raw.connect_timeout,
            read_timeout=raw.read_timeout,
            max_pool_connections=raw.max_pool_connections,
            retry_mode=raw.retry_mode,
            max_attempts=raw.max_attempts,
            checksums=raw.checksums,
        )

    @property
    def where(self) -> str:
        """Bucket and endpoint for messages; never credentials."""
        return f"bucket {self.bucket!r} at {self.endpoint_url or 'AWS S3'}"


def normalize_prefix(prefix: str) -> str:
    """``"roleplay"`` and ``"roleplay/"`` both mean the folder ``roleplay/``; empty means the bucket root."""
    prefix = prefix.strip().strip("/")
    return prefix + "/" if prefix else ""


def problems(settings: Any) -> list[str]:
    """The rules of ``storage.s3`` that span keys or depend on the environment, when
    ``storage.backend`` is ``s3`` (each key's own type and form is :class:`S3Settings`)."""
    raw = {**DEFAULTS, **_table(settings)}
    found: list[str] = []
    if not str(raw["bucket"] or "").strip():
        found.append("storage.s3.bucket must be set when storage.backend is 's3' (ROLEPLAY_STORAGE__S3__BUCKET)")
    parts = urlsplit(str(raw["endpoint_url"] or "").strip())
    if (
        parts.scheme == "http"
        and parts.hostname
        and getattr(settings, "env", "development") in ("beta", "production")
        and not _is_loopback(parts.hostname)
        and raw["allow_http"] is not True
    ):
        found.append(
            "storage.s3.endpoint_url uses plain http in "
            f"{settings.env}; use https or set storage.s3.allow_http = true for a private network"
        )
    if bool(raw["access_key_id"]) != bool(raw["secret_access_key"]):
        found.append("storage.s3.access_key_id and storage.s3.secret_access_key must be set together")
    return found


def _table(settings: Any) -> dict[str, Any]:
    if settings is None:
        return {}
    if hasattr(settings, "section"):
        return settings.section("storage.s3")
    value = settings.get("storage.s3", None) if hasattr(settings, "get") else None
    if value is None and isinstance(settings, dict):
        value = settings
    return dict(value or {})


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
