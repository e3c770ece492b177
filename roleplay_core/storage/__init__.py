"""Storage: the contract, the built-in backends and the event log."""

from .base import (
    InvalidKey,
    NotFound,
    Page,
    PreconditionFailed,
    Record,
    Storage,
    StorageError,
    StorageUnavailable,
    key_segment,
    time_ordered_id,
    validate_key,
)
from .eventlog import Event, EventLog
from .file import FileStorage
from .memory import MemoryStorage

__all__ = [
    "Event",
    "EventLog",
    "FileStorage",
    "InvalidKey",
    "MemoryStorage",
    "NotFound",
    "Page",
    "PreconditionFailed",
    "Record",
    "Storage",
    "StorageError",
    "StorageUnavailable",
    "key_segment",
    "time_ordered_id",
    "validate_key",
]
