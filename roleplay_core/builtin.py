"""The kernel's own features, registered against the same hooks as any plugin."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.routing import Route

from .hookspecs import hookimpl
from .security import requires_role
from .serialization import JSON
from .storage import FileStorage, MemoryStorage, StorageError


@hookimpl
def register_storage_backends():
    return {"file": FileStorage, "memory": MemoryStorage}


async def healthz(request: Request) -> JSON:
    """Alive: the process answers. No dependencies are checked."""
    return JSON({"status": "ok"})


async def readyz(request: Request) -> JSON:
    """Ready: storage answers a write and a read, and plugins have started."""
    kernel = request.app.state.kernel
    checks: dict[str, dict] = {}
    started = time.perf_counter()
    try:
        await kernel.storage.check()
        checks["storage"] = {"ok": True, "backend": kernel.storage.describe(),
                             "ms": round((time.perf_counter() - started) * 1000, 1)}
    except StorageError as exc:
        checks["storage"] = {"ok": False, "backend": kernel.storage.describe(), "error": str(exc)}
    except Exception as exc:  # a backend's own client error: report it, do not crash the probe
        checks["storage"] = {"ok": False, "backend": kernel.storage.describe(), "error": f"{type(exc).__name__}: {exc}"}
    failed = [info.name for info in kernel.plugins if info.enabled and info.status.startswith("failed")]
    # Development skips a plugin that failed to start (its routes answer 503) and stays ready;
    # beta and production never get here with one, startup fails instead.
    skipped = sorted(kernel.failed_plugins)
    checks["plugins"] = {"ok": kernel.started and not (set(failed) - set(skipped)), "started": kernel.started,
                         "failed": failed, "skipped": skipped}
    ready = all(check["ok"] for check in checks.values())
    return JSON({"status": "ready" if ready else "unavailable", "checks": checks}, status_code=200 if ready else 503)


@requires_role("admin")
async def list_plugins(request: Request) -> JSON:
    """Every discovered plugin: name, distribution, version, enabled or why not, hooks, routes."""
    return JSON({"plugins": [info.to_dict() for info in request.app.state.kernel.plugins]})


@hookimpl
def register_routes(kernel):
    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/plugins", list_plugins, methods=["GET"]),
    ]


@hookimpl
def register_commands(subparsers):
    from . import cli

    cli.add_kernel_commands(subparsers)
