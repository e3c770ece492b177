"""The Starlette app factory."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterator, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware

from .errors import EXCEPTION_HANDLERS
from .kernel import Kernel
from .middleware import KernelMiddleware, RequestIdFilter
from .settings import secret_source, uses_development_secret

logger = logging.getLogger("roleplay")


def create_app(
    kernel: Kernel | None = None,
    *,
    env: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    plugins: list[Any] = (),
    load_entry_points: bool = True,
) -> Starlette:
    """Build the ASGI app: the kernel's routes and every enabled plugin's.

    With no arguments it reads ``ROLEPLAY_ENV``, ``settings.toml`` and env vars,
    which is what ``roleplay serve`` (uvicorn ``--factory``) does in each worker.
    """
    if kernel is None:
        kernel = Kernel.create(env=env, overrides=overrides, plugins=list(plugins), load_entry_points=load_entry_points)
    settings = kernel.settings

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Say which settings layer and which signing key this process serves with.
        env_note = "" if os.environ.get("ROLEPLAY_ENV") else " (ROLEPLAY_ENV is not set)"
        log = logger.warning if uses_development_secret(settings) else logger.info
        log("roleplay: environment %s%s; tokens signed with %s", settings.env, env_note, secret_source(settings))
        await kernel.start()
        try:
            yield
        finally:
            await kernel.stop()

    cors = settings.section("cors")
    # One pure-ASGI layer for request ids, CORS, the body limit and authentication (see middleware.py).
    middleware = [
        Middleware(
            KernelMiddleware,
            tokens=lambda: kernel.tokens,
            max_bytes=int(settings.get("server.max_body_bytes", 1_048_576)),
            cors={
                "allow_origins": list(cors.get("allow_origins") or []),
                "allow_methods": ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
                "allow_headers": ["Authorization", "Content-Type", "If-Match", "If-None-Match", "X-Request-ID",
                                  "Idempotency-Key"],
                "expose_headers": ["ETag", "Location", "Retry-After", "X-Request-ID"],
                "allow_credentials": bool(cors.get("allow_credentials", False)),
                "max_age": int(cors.get("max_age", 600)),
            },
        ),
    ]
    app = Starlette(
        routes=kernel.collect_routes(),
        middleware=middleware,
        exception_handlers=dict(EXCEPTION_HANDLERS),
        lifespan=lifespan,
    )
    app.state.kernel = kernel
    _install_log_filter()
    return app


def _install_log_filter() -> None:
    root = logging.getLogger("roleplay")
    if not any(isinstance(f, RequestIdFilter) for f in root.filters):
        root.addFilter(RequestIdFilter())
