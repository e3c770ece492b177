"""Hook implementations of the ``s3`` plugin: the storage backend and its settings."""

from __future__ import annotations

from roleplay_core import hookimpl

from . import options
from .storage import S3Storage


@hookimpl
def settings_defaults(env):
    return {"storage": {"s3": dict(options.DEFAULTS)}}


@hookimpl
def settings_schema():
    return {"storage.s3": options.S3Settings}


@hookimpl
def validate_settings(settings):
    if settings.get("storage.backend") != "s3":
        return []
    return options.problems(settings)


@hookimpl
def register_storage_backends():
    return {"s3": S3Storage}
