"""The kernel's own features, registered against the same hooks as any plugin."""

from __future__ import annotations

import time
from typing import Any

import attrs
from starlette.requests import Request
from starlette.routing import Route

from .hookspecs import hookimpl
from .openapi import operation
from .security import requires_role
from .serialization import JSON
from .storage import FileStorage, MemoryStorage, StorageError


@attrs.frozen(kw_only=True)
class Health:
    """``ok`` while the process answers."""

    status: str


@attrs.frozen(kw_only=True)
class Readiness:
    """``ready`` or ``unavailable``; ``checks`` (storage, plugins) only for an admin."""

    status: str
    checks: dict[str, dict[str, Any]] | None = None


@attrs.frozen(kw_only=True)
class PluginEntry:
    """One discovered plugin (``roleplay plugins --json`` prints the same)."""

    name: str
    enabled: bool
    status: str
    hooks: list[str]
    routes: list[str]
    distribution: str | None = None
    version: str | None = None


@attrs.frozen(kw_only=True)
class PluginList:
    """Every discovered plugin."""

    items: list[PluginEntry]
    next_cursor: str | None = None


@hookimpl
def register_storage_backends():
    return {"file": FileStorage, "memory": MemoryStorage}


@operation("Liveness", public=True, responses={200: Health})
async def healthz(request: Request) -> JSON:
    """Alive: the process answers. No dependencies are checked."""
    return JSON({"status": "ok"})


@operation("Readiness", public=True, responses={200: Readiness, 503: Readiness})
async def readyz(request: Request) -> JSON:
    """Ready: storage answers a write and a read, and plugins have started.

    Anyone gets the status (200 or 503); the checks (the storage backend, its path or bucket,
    errors, plugin names) only an admin, by token. A successful storage probe is reused for
    ``server.readyz_cache_seconds``, so anonymous requests cannot make every call write to storage.
    """
    kernel = request.app.state.kernel
    checks: dict[str, dict] = {"storage": await _storage_check(kernel)}
    failed = [info.name for info in kernel.plugins if info.enabled and info.status.startswith("failed")]
    # Development skips a plugin that failed to start (its routes answer 503) and stays ready;
    # beta and production never get here with one, startup fails instead.
    skipped = sorted(kernel.failed_plugins)
    checks["plugins"] = {"ok": kernel.started and not (set(failed) - set(skipped)), "started": kernel.started,
                         "failed": failed, "skipped": skipped}
    ready = all(check["ok"] for check in checks.values())
    body: dict = {"status": "ready" if ready else "unavailable"}
    user = request.scope.get("user")
    if user is not None and user.is_authenticated and user.has_role("admin"):
        body["checks"] = checks
    return JSON(body, status_code=200 if ready else 503)


async def _storage_check(kernel) -> dict:
    cached = getattr(kernel, "_ready_storage", None)
    ttl = float(kernel.settings.get("server.readyz_cache_seconds", 1.0))
    if cached is not None and time.monotonic() - cached[0] < ttl:
        return cached[1]
    started = time.perf_counter()
    try:
        await kernel.storage.check()
        result = {"ok": True, "backend": kernel.storage.describe(),
                  "ms": round((time.perf_counter() - started) * 1000, 1)}
        kernel._ready_storage = (time.monotonic(), result)  # only successes: a failure is re-probed at once
        return result
    except StorageError as exc:
        return {"ok": False, "backend": kernel.storage.describe(), "error": str(exc)}
    except Exception as exc:  # a backend's own client error: report it, do not crash the probe
        return {"ok": False, "backend": kernel.storage.describe(), "error": f"{type(exc).__name__}: {exc}"}


@operation("List the discovered plugins", responses={200: PluginList}, problems=(403,))
@requires_role("admin")
async def list_plugins(request: Request) -> JSON:
    """Every discovered plugin: name, distribution, version, enabled or why not, hooks, routes."""
    return JSON({"items": [info.to_dict() for info in request.app.state.kernel.plugins], "next_cursor": None})


@hookimpl
def register_routes(kernel):
    from . import apidocs

    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/plugins", list_plugins, methods=["GET"]),
        *apidocs.routes(),
    ]


@hookimpl
def register_commands(subparsers):
    from . import cli

    cli.add_kernel_commands(subparsers)
