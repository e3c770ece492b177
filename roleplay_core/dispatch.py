"""Route dispatch whose cost does not grow with the number of installed routes.

Starlette's ``Router`` tries every route in order until one matches: with every
plugin installed that is about 60 regular expressions for a path registered last
(``/healthz``), a third of the server's time on that path. :class:`RouteTable` is
that router with an index in front: a request is tried only against the routes
that *could* match it, still in registration order, so the answers (which route
wins, 405 for a known path with another method, 404, the trailing-slash redirect)
are Starlette's own, but for one: a 405's ``Allow`` names every method of the path,
where Starlette names only the first matching route's. The candidates for a path are found with dictionary lookups:

- a route with no parameters (``/auth/me``) by its exact path;
- a route with parameters by its first segment, its number of segments and its last
  segment when that is literal (``/chat/sessions/{session_id}/messages`` under
  ``("chat", 4, "messages")``), since a parameter of the ``str``, ``int``, ``float``
  and ``uuid`` kinds never spans a ``/``;
- a ``Mount`` or a ``{name:path}`` route by its first segment (any depth);
- anything else (a parameter in the first segment, a root mount, a route of
  another kind) is tried for every request, as Starlette would.

Plugins own distinct first segments (``/auth``, ``/chat``, ``/scripts``, ...), so
the candidates of a path are the handful of routes on that very path, whether
there are ten routes installed or a thousand.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from starlette._utils import get_route_path
from starlette.datastructures import URL
from starlette.exceptions import HTTPException
from starlette.responses import RedirectResponse
from starlette.routing import BaseRoute, Match, Mount, Route, Router, WebSocketRoute
from starlette.types import Receive, Scope, Send

# Parameter kinds whose value never contains "/" (Starlette's built-in convertors but "path").
_ONE_SEGMENT = {"str", "int", "float", "uuid"}
_PARAM = re.compile(r"{[a-zA-Z_][a-zA-Z0-9_]*(?::([a-zA-Z_][a-zA-Z0-9_]*))?}")

_Key = tuple[str | None, str | None, int | None, str | None]


class RouteTable(Router):
    """A Starlette ``Router`` that tries only the routes that can match a request's path.

    Same routes, same order, same answers as ``Router``; see the module docstring.
    ``self.routes`` may be changed after construction (the index is rebuilt when its
    length changes), but not edited in place.
    """

    def __init__(self, routes: Sequence[BaseRoute] | None = None, **options: Any) -> None:
        super().__init__(routes, **options)
        self._indexed: int = -1

    # -- the index ----------------------------------------------------------

    def _index(self) -> None:
        self._exact: dict[str, list[int]] = {}
        self._sized: dict[tuple[str, int, str | None], list[int]] = {}
        self._prefixed: dict[str, list[int]] = {}
        self._anywhere: list[int] = []
        for position, route in enumerate(self.routes):
            where = _placement(route)
            if where is None:
                self._anywhere.append(position)
            elif where[0] == "exact":
                self._exact.setdefault(where[1], []).append(position)
            elif where[0] == "sized":
                self._sized.setdefault(where[1:], []).append(position)
            else:
                self._prefixed.setdefault(where[1], []).append(position)
        self._depths = {(first, depth) for first, depth, _ in self._sized}
        self._firsts = {path.split("/", 2)[1] for path in self._exact} | {first for first, _ in self._depths} \
            | set(self._prefixed)
        # Merged candidate lists by key; the keys come from the routes, never from requests, so this stays small.
        self._merged: dict[_Key, list[BaseRoute]] = {}
        # The same by path, for paths some route has exactly (/healthz, /auth/me): one lookup, no parsing.
        self._by_exact_path: dict[str, list[BaseRoute]] = {}
        self._indexed = len(self.routes)

    def candidates(self, path: str) -> list[BaseRoute]:
        """The routes that may match ``path``, in registration order (what :meth:`app` tries)."""
        if self._indexed != len(self.routes):
            self._index()
        known = self._by_exact_path.get(path)
        if known is not None:
            return known
        parts = path.split("/", 2)
        first = parts[1] if len(parts) > 1 and parts[1] in self._firsts else None
        depth = last = None
        if first is not None:
            depth = path.count("/")
            if (first, depth) not in self._depths:
                depth = None
            else:
                last = path.rpartition("/")[2]
                if (first, depth, last) not in self._sized:
                    last = None
        key: _Key = (path if path in self._exact else None, first, depth, last)
        merged = self._merged.get(key)
        if merged is None:
            positions = list(self._anywhere)
            if key[0] is not None:
                positions += self._exact[key[0]]
            if first is not None:
                positions += self._prefixed.get(first, ())
                if depth is not None:
                    positions += self._sized.get((first, depth, None), ())
                    if last is not None:
                        positions += self._sized[(first, depth, last)]
            merged = self._merged[key] = [self.routes[i] for i in sorted(positions)]
        if key[0] is not None:
            self._by_exact_path[path] = merged
        return merged

    # -- dispatch (Starlette's Router.app over the candidates) ----------------------------

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if "router" not in scope:
            scope["router"] = self
        if kind == "lifespan":
            await self.lifespan(scope, receive, send)
            return
        assert kind in ("http", "websocket")
        route_path = get_route_path(scope)
        partial = partial_scope = None
        allowed: set[str] = set()
        for route in self.candidates(route_path):
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                scope["route"] = route
                scope.update(child_scope)
                await route.handle(scope, receive, send)
                return
            if match is Match.PARTIAL:
                if partial is None:
                    partial, partial_scope = route, child_scope
                if getattr(route, "path", None) == partial.path:  # same template (not /x/{id} for /x/import)
                    allowed.update(getattr(route, "methods", None) or ())
        if partial is not None and kind == "http" and allowed:
            # The path is known, the method is not: 405 listing every method of the path. Starlette
            # would list only the first route's, and plugins register one route per method.
            scope["route"] = partial  # the template the request was for (metrics, logs)
            scope.update(partial_scope)
            raise HTTPException(405, headers={"Allow": ", ".join(sorted(allowed))})
        if partial is not None:  # the path is known, the method is not: 405
            scope["route"] = partial
            scope.update(partial_scope)
            await partial.handle(scope, receive, send)
            return
        if kind == "http" and self.redirect_slashes and route_path != "/":
            redirect_scope = dict(scope)
            if route_path.endswith("/"):
                redirect_scope["path"] = redirect_scope["path"].rstrip("/")
            else:
                redirect_scope["path"] = redirect_scope["path"] + "/"
            for route in self.candidates(get_route_path(redirect_scope)):
                match, _ = route.matches(redirect_scope)
                if match is not Match.NONE:
                    await RedirectResponse(url=str(URL(scope=redirect_scope)))(scope, receive, send)
                    return
        await self.default(scope, receive, send)


def _placement(route: BaseRoute) -> tuple[Any, ...] | None:
    """Where ``route`` goes: ("exact", path), ("sized", first, depth, last), ("prefixed", first) or None.

    ``last`` is the route's last segment when it is literal (``messages``), else None.
    """
    if type(route) not in (Route, WebSocketRoute, Mount):
        return None  # a Host or a custom route: tried for every request
    path = route.path
    parts = path.split("/", 2)
    first = parts[1] if len(parts) > 1 else ""
    if not path.startswith("/") or "{" in first or (isinstance(route, Mount) and not first):
        return None
    if isinstance(route, Mount):
        return ("prefixed", first)
    kinds = [kind or "str" for kind in _PARAM.findall(path)]
    if "{" not in path:
        return ("exact", path)
    if all(kind in _ONE_SEGMENT for kind in kinds) and "{" not in _PARAM.sub("", path):
        last = path.rpartition("/")[2]
        return ("sized", first, path.count("/"), None if "{" in last else last)
    return ("prefixed", first)
