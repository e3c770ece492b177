"""The kernel: settings, plugins, storage, tokens and catalog, wired once per process."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from types import SimpleNamespace
from typing import Any, TypeVar

import pluggy
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute

from .catalog import ScriptCatalog, load_pack_paths
from .identity import AuthProvider
from .models import ModelProvider
from .plugins import PluginError, PluginInfo, bootstrap, typed_problems
from .principal import Principal
from .settings import Settings
from .storage import Storage
from .tokens import TokenService

logger = logging.getLogger("roleplay")


class SettingsError(Exception):
    """The settings are not valid for this environment; the message lists every problem."""


async def maybe_await(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value


#: WebSocket close code "Service Restart": the server is going away, connect again (to any server).
SERVICE_RESTART = 1012


def reconnect_frame() -> dict[str, Any]:
    """The frame a long-lived socket gets right before :data:`SERVICE_RESTART`: what happened and what to do."""
    return {"type": "reconnect", "code": "server_restarting", "retry_after": 1,
            "detail": "This server is restarting. Connect again; any server continues this session."}


T = TypeVar("T")


class PluginState(SimpleNamespace):
    """One plugin's own objects for the life of one kernel: services, caches, running tasks.

    Get it with ``kernel.state("myplugin")``. Two kernels in one process (two apps in a test)
    never share it, and it goes with its kernel: no module-level dictionary keyed by kernel.
    """

    def setdefault(self, name: str, factory: Callable[[], T]) -> T:
        """The attribute ``name``, made with ``factory()`` the first time it is asked for."""
        if name not in self.__dict__:
            setattr(self, name, factory())
        return getattr(self, name)


class Kernel:
    """Everything a plugin needs, reachable as ``request.app.state.kernel``.

    Build one with :meth:`Kernel.create`; open it with :meth:`start` (the app's
    lifespan does this) and close it with :meth:`stop`.
    """

    def __init__(self, settings: Settings, pm: pluggy.PluginManager, plugins: list[PluginInfo]) -> None:
        self.settings = settings
        self.pm = pm
        self.hook = pm.hook
        self.plugins = plugins
        try:
            self.tokens = TokenService.from_settings(settings)
        except (ValueError, OSError) as exc:
            raise SettingsError(f"security: {exc}") from exc
        self.storage_backends: dict[str, Any] = {}
        for backends in self.hook.register_storage_backends(kernel=self):
            self.storage_backends.update(backends or {})
        self.storage: Storage = self._make_storage()
        self.model_factories: dict[str, Any] = {}
        for factories in self.hook.register_model_providers(kernel=self):
            self.model_factories.update(factories or {})
        self._models: dict[str, ModelProvider] = {}
        self.catalog = ScriptCatalog(self.storage)
        self.auth_providers: dict[str, AuthProvider] = {}
        self.started = False
        self._opened = False
        self._draining: asyncio.Event | None = None
        self._sockets = 0
        #: Plugins that failed to start in development, with the cause; their routes answer 503.
        self.failed_plugins: dict[str, str] = {}
        self._states: dict[str, PluginState] = {}
        self._typed: dict[str, Any] = {}
        #: ``(plugin name, route)`` for every route :meth:`collect_routes` returned (the API documents read it).
        self.owned_routes: list[tuple[str, BaseRoute]] = []

    # -- construction -------------------------------------------------------

    @classmethod
    def create(
        cls,
        *,
        env: str | None = None,
        overrides: Mapping[str, Any] | None = None,
        plugins: list[Any] = (),
        load_entry_points: bool = True,
        settings_files: list[str] | None = None,
    ) -> Kernel:
        """Load settings layers, discover and register plugins, validate settings.

        ``overrides`` are dotted keys (``{"storage.backend": "memory"}``) that win
        over every layer; ``plugins`` are extra plugin objects (tests).
        """
        found = bootstrap(env=env, overrides=overrides, plugins=plugins, load_entry_points=load_entry_points,
                          settings_files=settings_files)
        if found.problems:
            message = f"settings are not valid for {found.env}:\n  - " + "\n  - ".join(found.problems)
            if found.strict:
                raise SettingsError(message)
            logger.warning(message)
        return cls(found.settings, found.pm, found.plugins)

    def _make_storage(self) -> Storage:
        backend = self.settings.get("storage.backend", "file")
        factory = self.storage_backends.get(backend)
        if factory is None:
            raise SettingsError(
                f"storage.backend is {backend!r} but no installed plugin provides it; "
                f"available: {', '.join(sorted(self.storage_backends)) or 'none'}"
            )
        return factory(self.settings)

    # -- services -----------------------------------------------------------

    def model(self, name: str) -> ModelProvider:
        """The model provider registered as ``name`` (one instance per kernel)."""
        if name not in self._models:
            factory = self.model_factories.get(name)
            if factory is None:
                raise LookupError(
                    f"no model provider named {name!r} is installed; available: "
                    f"{', '.join(sorted(self.model_factories)) or 'none'}"
                )
            self._models[name] = factory(self)
        return self._models[name]

    async def transcript(self, session_id: str) -> Any:
        """The :class:`~roleplay_core.Transcript` of ``session_id`` from whichever plugin owns it, or ``None``.

        Calls the ``get_transcript`` hook once and awaits the answers in hook order,
        so an async implementation that finds nothing does not hide the others.
        """
        return await _first(self.hook.get_transcript(kernel=self, session_id=session_id), lambda found: found is not None)

    async def authenticate(self, token: str) -> Any:
        """The principal a plugin's ``authenticate_request`` hook finds for ``token``, or ``None``.

        For tokens the kernel's own JWT check refused (API keys, another issuer's tokens).
        """
        found = await _first(self.hook.authenticate_request(kernel=self, token=token), lambda p: p is not None)
        if found is not None and not isinstance(found, Principal):
            raise PluginError(f"authenticate_request answered {type(found).__name__}, not a Principal")
        return found

    async def principal_problem(self, principal: Any) -> str | None:
        """Why ``principal`` may no longer act (from ``check_principal`` hooks), or ``None``."""
        found = await _first(self.hook.check_principal(kernel=self, principal=principal), bool)
        return str(found) if found else None

    async def user_deleted(self, user_id: str) -> None:
        """Tell every plugin (``user_deleted`` hooks) to erase what it keeps for ``user_id``."""
        for answer in self.hook.user_deleted(kernel=self, user_id=user_id):
            await maybe_await(answer)

    def each_plugin(self, hook_name: str, *, reverse: bool = False) -> Iterator[tuple[str, Any]]:
        """``(plugin name, function)`` for each implementation of ``hook_name``, in hook-call order.

        For the hooks the kernel must call plugin by plugin (``register_routes``, ``startup``,
        ``shutdown``): pluggy's own order (``tryfirst``/``trylast`` included), or its reverse.
        """
        impls = getattr(self.hook, hook_name).get_hookimpls()  # pluggy calls these last to first
        for impl in impls if reverse else reversed(impls):
            yield impl.plugin_name, _bound(impl, {"kernel": self})

    def typed_settings(self, table: str) -> Any:
        """The ``table`` settings as the attrs class a plugin declared (``settings_schema``), made once.

        Raises :class:`SettingsError` naming every problem when they do not fit (development
        starts with invalid settings, logging them; the plugin reading them stops here).
        """
        if table not in self._typed:
            from .serialization import converter

            classes = {name: cls for schemas in self.hook.settings_schema() for name, cls in (schemas or {}).items()}
            if table not in classes:
                raise LookupError(f"no plugin declares a settings table {table!r}")
            problems = typed_problems(self.settings, table, classes[table])
            if problems:
                raise SettingsError("; ".join(problems))
            self._typed[table] = converter.structure(self.settings.section(table), classes[table])
        return self._typed[table]

    def state(self, plugin: str) -> PluginState:
        """``plugin``'s own :class:`PluginState` on this kernel (empty at first, the same object after).

        Name it after the plugin (its entry-point name): ``kernel.state("chat")``.
        """
        if plugin not in self._states:
            self._states[plugin] = PluginState()
        return self._states[plugin]

    def plugin_info(self, name: str) -> PluginInfo | None:
        return next((info for info in self.plugins if info.name == name), None)

    # -- routes -------------------------------------------------------------

    def collect_routes(self) -> list[BaseRoute]:
        """Every plugin's routes, prefixed as configured; refuse two plugins on one path."""
        owners: dict[str, str] = {}
        routes: list[BaseRoute] = []
        self.owned_routes = []
        for name, register in self.each_plugin("register_routes"):
            result = register()
            prefix = self.settings.plugin_prefix(name)
            if prefix and not prefix.startswith("/"):
                raise SettingsError(f"plugins.{name}.prefix must start with '/': {prefix!r}")
            info = self.plugin_info(name)
            for route in result or []:
                route = _with_prefix(route, prefix)
                if name in self.failed_plugins:
                    route.app = self._unavailable(name)
                path = _route_path(route)
                shape = re.sub(r"\{[^}]+\}", "{}", path)
                owner = owners.get(shape)
                if owner is not None and owner != name:
                    raise PluginError(f"plugins {owner!r} and {name!r} both claim the path {path!r}")
                owners[shape] = name
                routes.append(route)
                self.owned_routes.append((name, route))
                if info is not None:
                    info.routes.append(path)
        return routes

    def _unavailable(self, plugin: str) -> Any:
        """What a route of ``plugin`` serves once it failed to start (development skips such plugins):
        503, or close 4503 on a WebSocket. Put in place by :meth:`start`, so a working route
        carries no check per request."""

        async def unavailable(scope: Any, receive: Any, send: Any) -> None:
            cause = self.failed_plugins.get(plugin)
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 4503, "reason": f"plugin {plugin!r} is unavailable"})
                return
            from .errors import Problem, problem_response

            response = problem_response(Problem(503, f"The {plugin!r} plugin failed to start: {cause}"),
                                        scope.get("request_id"))
            await response(scope, receive, send)

        return unavailable

    # -- lifecycle ----------------------------------------------------------

    async def open(self) -> None:
        """Open storage, load script packs and auth providers; no startup hooks (the CLI uses this)."""
        if self._opened:
            return
        await self.storage.open()
        if self.settings.get("packs.enabled", True):
            paths = [path for paths in self.hook.register_script_packs() for path in (paths or [])]
            self.catalog.pack_scripts = load_pack_paths(paths)
        for factories in self.hook.register_auth_providers(kernel=self):
            for name, factory in (factories or {}).items():
                provider = factory(self)
                if provider.name != name:
                    raise PluginError(f"the auth provider registered as {name!r} calls itself {provider.name!r}")
                self.auth_providers[name] = provider
        self._opened = True

    async def start(self) -> None:
        """:meth:`open`, then every plugin's ``startup`` hook (the app's lifespan does this)."""
        if self.started:
            return
        await self.open()
        strict = self.settings.env != "development"
        started: list[str] = []
        for name, start in self.each_plugin("startup"):
            try:
                await maybe_await(start())
                started.append(name)
            except Exception as exc:
                cause = f"failed to start: {type(exc).__name__}: {exc}"
                if strict:
                    # Nothing half-started stays behind: the plugins that did start are shut down,
                    # model clients and storage closed, so the caller may simply give up.
                    await self._close(started)
                    raise PluginError(f"plugin {name!r} {cause}") from exc
                logger.warning("plugin %r %s; skipping it (development)", name, cause, exc_info=exc)
                self.failed_plugins[name] = cause
                for owner, route in self.owned_routes:
                    if owner == name:
                        route.app = self._unavailable(name)
                info = self.plugin_info(name)
                if info is not None:
                    info.status = cause
        self.started = True

    # -- draining (graceful shutdown) ----------------------------------------------------

    @property
    def draining(self) -> bool:
        """True once the server was told to stop (SIGTERM): no new work, sockets say goodbye."""
        return self._draining is not None and self._draining.is_set()

    def begin_drain(self) -> None:
        """Stop taking new work: new HTTP requests get 503, long-lived sockets are told to reconnect."""
        if self._draining is None:
            self._draining = asyncio.Event()
        self._draining.set()

    async def wait_drain(self) -> None:
        """Return when draining begins (a WebSocket handler races this against the client's frames)."""
        if self._draining is None:
            self._draining = asyncio.Event()
        await self._draining.wait()

    @contextlib.contextmanager
    def live_socket(self) -> Iterator[None]:
        """Count a long-lived WebSocket for the drain: it waits until every one has said goodbye."""
        self._sockets += 1
        try:
            yield
        finally:
            self._sockets -= 1

    async def sockets_closed(self, seconds: float) -> bool:
        """Wait (at most ``seconds``) until no counted WebSocket is open; True if none is."""
        deadline = asyncio.get_running_loop().time() + seconds
        while self._sockets and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110 - a plain counter
            await asyncio.sleep(0.05)
        return not self._sockets

    async def stop(self) -> None:
        if not self._opened:
            return
        await self._close(None if self.started else [])

    async def _close(self, started: list[str] | None) -> None:
        """Shut down the plugins in ``started`` (None: every plugin), then close model clients and storage."""
        for name, stop in self.each_plugin("shutdown", reverse=True):
            if started is not None and name not in started:
                continue
            try:
                await maybe_await(stop())
            except Exception:
                logger.exception("plugin %r failed to shut down", name)
        for model in self._models.values():
            try:
                await model.close()
            except Exception:
                logger.exception("model provider %r failed to close", model.name)
        self._models.clear()  # started again, the kernel makes new clients
        await self.storage.close()
        self.started = False
        self._opened = False


async def _first(answers: list[Any], wanted: Any) -> Any:
    """The first of a hook's ``answers`` (values or awaitables) that is ``wanted``, awaited in order.

    Answers after it are never awaited: their coroutines are closed (also when an earlier one
    raises), so none runs half-way and Python does not warn that one was never awaited.
    """
    awaited = 0
    try:
        for answer in answers:
            awaited += 1
            value = await maybe_await(answer)
            if wanted(value):
                return value
        return None
    finally:
        for rest in answers[awaited:]:
            if inspect.iscoroutine(rest):
                rest.close()


def _bound(impl: Any, available: Mapping[str, Any]) -> Any:
    """``impl``'s function with the arguments it asks for (hook implementations take any subset)."""
    return functools.partial(impl.function, **{arg: available[arg] for arg in impl.argnames})


def _with_prefix(route: BaseRoute, prefix: str) -> BaseRoute:
    if not prefix:
        return route
    if isinstance(route, Route):
        return Route(prefix + route.path, route.endpoint, methods=sorted(route.methods or []) or None,
                     name=route.name, include_in_schema=route.include_in_schema)
    if isinstance(route, WebSocketRoute):
        return WebSocketRoute(prefix + route.path, route.endpoint, name=route.name)
    if isinstance(route, Mount):
        return Mount(prefix + route.path, app=route.app, name=route.name)
    raise PluginError(f"cannot prefix route {route!r}")


def _route_path(route: BaseRoute) -> str:
    return getattr(route, "path", repr(route))
