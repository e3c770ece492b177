"""Roleplay plugin ``s3``: the storage backend for AWS S3 and S3-compatible services."""

from .options import S3Options
from .storage import S3Storage

__all__ = ["S3Options", "S3Storage"]
