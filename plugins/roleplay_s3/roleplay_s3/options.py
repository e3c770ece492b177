"""The ``storage.s3`` settings: defaults, parsing and the checks ``roleplay check`` runs."""

from __future__ import annotations

import ipaddress
import re
from typing import Any
from urllib.parse import urlsplit

import attrs

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
        """Read ``storage.s3`` from kernel settings (or a plain dict of that table)."""
        raw = dict(DEFAULTS)
        table = _table(settings)
        raw.update({k: v for k, v in table.items() if v is not None})
        endpoint = str(raw["endpoint_url"] or "").strip() or None
        return cls(
            bucket=str(raw["bucket"] or "").strip(),
            endpoint_url=endpoint,
            region=str(raw["region"] or "").strip() or None,
            prefix=normalize_prefix(str(raw["prefix"] or "")),
            path_style=_path_style(raw["path_style"], endpoint),
            access_key_id=str(raw["access_key_id"] or "") or None,
            secret_access_key=str(raw["secret_access_key"] or "") or None,
            session_token=str(raw["session_token"] or "") or None,
            profile=str(raw["profile"] or "") or None,
            connect_timeout=float(raw["connect_timeout"]),
            read_timeout=float(raw["read_timeout"]),
            max_pool_connections=int(raw["max_pool_connections"]),
            retry_mode=str(raw["retry_mode"]),
            max_attempts=int(raw["max_attempts"]),
            checksums=str(raw["checksums"]),
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
    """What is wrong with ``storage.s3`` when ``storage.backend`` is ``s3``."""
    table = _table(settings)
    raw = dict(DEFAULTS)
    raw.update({k: v for k, v in table.items() if v is not None})
    found: list[str] = []
    bucket = str(raw["bucket"] or "").strip()
    if not bucket:
        found.append("storage.s3.bucket must be set when storage.backend is 's3' (ROLEPLAY_STORAGE__S3__BUCKET)")
    elif not _BUCKET.match(bucket) or ".." in bucket:
        found.append(f"storage.s3.bucket {bucket!r} is not a valid bucket name (3-63 of a-z, 0-9, '.', '-')")
    endpoint = str(raw["endpoint_url"] or "").strip()
    if endpoint:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            found.append(f"storage.s3.endpoint_url must be an http(s) URL, not {endpoint!r}")
        elif (
            parts.scheme == "http"
            and getattr(settings, "env", "development") in ("beta", "production")
            and not _is_loopback(parts.hostname)
            and not _truthy(raw["allow_http"])
        ):
            found.append(
                "storage.s3.endpoint_url uses plain http in "
                f"{settings.env}; use https or set storage.s3.allow_http = true for a private network"
            )
    prefix = str(raw["prefix"] or "").strip().strip("/")
    if prefix:
        try:
            validate_key(prefix)
        except InvalidKey as exc:
            found.append(f"storage.s3.prefix is not a valid key prefix: {exc}")
    if bool(raw["access_key_id"]) != bool(raw["secret_access_key"]):
        found.append("storage.s3.access_key_id and storage.s3.secret_access_key must be set together")
    if str(raw["path_style"]).lower() not in ("auto", "true", "false", "1", "0", "yes", "no"):
        found.append(f"storage.s3.path_style must be auto, true or false, not {raw['path_style']!r}")
    if str(raw["retry_mode"]) not in RETRY_MODES:
        found.append(f"storage.s3.retry_mode must be one of {', '.join(RETRY_MODES)}")
    if str(raw["checksums"]) not in CHECKSUM_MODES:
        found.append(f"storage.s3.checksums must be one of {', '.join(CHECKSUM_MODES)}")
    for name, low in (("connect_timeout", 0.1), ("read_timeout", 0.1), ("max_pool_connections", 1), ("max_attempts", 1)):
        try:
            if float(raw[name]) < low:
                found.append(f"storage.s3.{name} must be at least {low}")
        except (TypeError, ValueError):
            found.append(f"storage.s3.{name} must be a number, not {raw[name]!r}")
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


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "on")
    return bool(value)


def _path_style(value: Any, endpoint: str | None) -> bool:
    if isinstance(value, str) and value.strip().lower() == "auto":
        # Virtual-hosted style needs wildcard DNS per bucket, which MinIO, Ceph and moto rarely have.
        return endpoint is not None
    return _truthy(value)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
