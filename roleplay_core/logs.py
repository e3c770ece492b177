"""Logging for ``roleplay serve``: every line carries the request id of the request it belongs to.

``server.log_format`` picks the shape of a line: ``text`` (the default, for people) or ``json``
(one JSON object per line, for log collectors). In ``json`` the kernel writes the access line
itself (logger ``roleplay.access``), with what uvicorn's access line cannot know: the route
template (``/chat/sessions/{session_id}``, not the session id) and the duration. Neither form
ever logs a query string, a header or a body: tokens, OAuth codes and passwords travel there.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s"
ACCESS_FORMAT = '%(asctime)s %(levelname)-7s access [%(request_id)s] %(client_addr)s "%(request_line)s" %(status_code)s'
LOG_FORMATS = ("text", "json")
#: The access line's logger in ``json`` format (see :func:`access_line`).
access_logger = logging.getLogger("roleplay.access")
# Fields a record may carry (``extra=``) that a JSON line includes when present.
_FIELDS = ("method", "route", "status", "duration_ms", "plugin")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, request id, message, the request fields, error."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "request_id": getattr(record, "request_id", None) or None,
            "message": record.getMessage(),
        }
        if line["request_id"] == "-":
            line["request_id"] = None
        for name in _FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def _without_query(path: Any) -> Any:
    return path.partition("?")[0] if isinstance(path, str) else path


try:
    from uvicorn.logging import AccessFormatter
except ImportError:  # uvicorn is a dependency; only a trimmed install lacks it
    AccessFormatter = logging.Formatter  # type: ignore[misc,assignment]


class TextAccessFormatter(AccessFormatter):  # type: ignore[misc,valid-type]
    """uvicorn's access line without the query string (an OAuth ``code`` or ``state`` travels there)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        if isinstance(record.args, tuple) and len(record.args) == 5:
            client, method, path, version, status = record.args
            record = logging.makeLogRecord({**record.__dict__, "args": (client, method, _without_query(path), version,
                                                                        status)})
        return super().formatMessage(record)


def access_line(method: str, route: str, status: int, seconds: float) -> None:
    """Log one finished HTTP request on ``roleplay.access`` (only where that logger is on: json format)."""
    access_logger.info("%s %s %d %.1fms", method, route, status, seconds * 1000,
                       extra={"method": method, "route": route, "status": status,
                              "duration_ms": round(seconds * 1000, 3)})


def log_config(level: str = "info", log_format: str = "text") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for uvicorn with request ids on app and access logs.

    ``log_format`` is ``text`` (uvicorn's access line) or ``json`` (the kernel's access line,
    :func:`access_line`, and every other line as JSON).
    """
    if log_format not in LOG_FORMATS:
        raise ValueError(f"server.log_format must be one of {', '.join(LOG_FORMATS)}, not {log_format!r}")
    level = level.upper()
    json_lines = log_format == "json"
    line = {"()": "roleplay_core.logs.JsonFormatter"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "roleplay_core.middleware.RequestIdFilter"}},
        "formatters": {
            "default": line if json_lines else {"format": FORMAT},
            "access": line if json_lines else {"()": "roleplay_core.logs.TextAccessFormatter", "fmt": ACCESS_FORMAT,
                                               "use_colors": False},
        },
        "handlers": {
            "default": {"class": "logging.StreamHandler", "formatter": "default", "filters": ["request_id"],
                        "stream": "ext://sys.stderr"},
            "access": {"class": "logging.StreamHandler", "formatter": "access", "filters": ["request_id"],
                       "stream": "ext://sys.stdout"},
        },
        "loggers": {
            "roleplay": {"handlers": ["default"], "level": level, "propagate": False},
            # The kernel's access line replaces uvicorn's in json (it has the route template and duration).
            "roleplay.access": {"handlers": ["access"], "level": level if json_lines else "CRITICAL",
                                "propagate": False},
            "uvicorn": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"handlers": ["access"], "level": "CRITICAL" if json_lines else level,
                               "propagate": False},
        },
    }
