"""The Starlette app factory."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from . import metrics
from .dispatch import RouteTable
from .errors import EXCEPTION_HANDLERS
from .kernel import Kernel
from .logs import access_line
from .middleware import KernelMiddleware, Observer, RequestIdFilter, route_template
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
        if settings.get("server.gc_freeze", True) and not gc.get_freeze_count():
            # Everything loaded so far (modules, plugins, catalogues) lives as long as the process:
            # keep it out of the garbage collector's full passes, which otherwise walk all of it
            # and stall the event loop (benchmarks/voice_relay.py, 100 calls: the longest pause
            # 140-160 ms before, 39-47 ms after). Once per process: a test run starting many apps
            # freezes only what the first one loaded.
            gc.freeze()
        for plugin in kernel.failed_plugins:
            metrics.plugin_start_failure(plugin)
        flusher = asyncio.get_running_loop().create_task(metrics.flush_every()) if metrics.enabled() else None
        restore = _drain_on_sigterm(kernel)
        try:
            yield
        finally:
            restore()
            await kernel.stop()
            if flusher is not None:
                flusher.cancel()
                metrics.process_exit()

    cors = settings.section("cors")
    routes = kernel.collect_routes()
    observers = []
    if settings.get("metrics.enabled", False):
        metrics.enable()
        observers.append(metrics.observe_http)
        if not int(settings.get("metrics.port", 0) or 0):
            routes.append(Route("/metrics", metrics.endpoint, methods=["GET"]))
    if settings.get("server.log_format", "text") == "json":
        observers.append(lambda scope, status, seconds: access_line(scope["method"], route_template(scope), status,
                                                                    seconds))
    # One pure-ASGI layer for request ids, CORS, the body limit and authentication (see middleware.py).
    middleware = [
        Middleware(
            KernelMiddleware,
            draining=lambda: kernel.draining,
            tokens=lambda: kernel.tokens,
            authenticate=kernel.authenticate,
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
            observe=_all(observers),
        ),
    ]
    app = Starlette(middleware=middleware, exception_handlers=dict(EXCEPTION_HANDLERS))
    # Starlette's router with an index in front: dispatch cost does not grow with the routes (dispatch.py).
    app.router = RouteTable(routes, lifespan=lifespan)
    app.state.kernel = kernel
    _install_log_filter()
    return app


def _drain_on_sigterm(kernel: Kernel) -> Callable[[], None]:
    """Put a graceful drain in front of the server's own SIGTERM handling (uvicorn's).

    On SIGTERM: new requests get 503 and chat and voice sockets are told to
    reconnect (a ``reconnect`` frame, then close code 1012) as soon as the turn they
    are in is stored; once they are closed (at most ``server.drain_seconds``) the
    server's own handler runs: uvicorn stops listening, lets requests in flight finish,
    then the shutdown hooks store replies still under way (chat) and hand evaluations
    back (the evaluator). Only in the main thread and only when a handler is installed
    (under uvicorn); elsewhere (tests, embedding) nothing changes.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.getsignal(signal.SIGTERM)
    if not callable(previous):
        return lambda: None
    loop = asyncio.get_running_loop()
    seconds = float(kernel.settings.get("server.drain_seconds", 35.0))

    async def drain(signum: int, frame: Any) -> None:
        logger.info("SIGTERM: draining (new requests get 503, sockets are told to reconnect)")
        kernel.begin_drain()
        try:
            if not await kernel.sockets_closed(seconds):
                logger.warning("sockets still open after %g s of draining; closing anyway", seconds)
        finally:
            previous(signum, frame)

    def handler(signum: int, frame: Any) -> None:
        if kernel.draining:  # a second SIGTERM: straight to the server's own handling
            previous(signum, frame)
            return
        loop.call_soon_threadsafe(lambda: loop.create_task(drain(signum, frame)))

    signal.signal(signal.SIGTERM, handler)

    def restore() -> None:
        if signal.getsignal(signal.SIGTERM) is handler:
            signal.signal(signal.SIGTERM, previous)

    return restore


def _all(observers: list[Observer]) -> Observer | None:
    """One observer calling each of ``observers`` (None for none: the middleware then times nothing)."""
    if not observers:
        return None
    if len(observers) == 1:
        return observers[0]

    def observe(scope: dict, status: int, seconds: float) -> None:
        for observer in observers:
            observer(scope, status, seconds)

    return observe


def _install_log_filter() -> None:
    root = logging.getLogger("roleplay")
    if not any(isinstance(f, RequestIdFilter) for f in root.filters):
        root.addFilter(RequestIdFilter())
