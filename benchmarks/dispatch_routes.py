"""Dispatch cost of the first and the last registered route (issue 16, item 1: within 10%).

Builds the app ``roleplay serve`` builds (development layer, every installed plugin, file
storage in a temporary folder) and times the routing decision alone for a request to the
first registered route and one to the last: finding the candidates and matching them until
the route that answers, which is what ``RouteTable.app`` does before it calls the handler.
The handlers are left out on purpose: they are different code, and the goal is about
dispatch. Beside it, the same decision the way Starlette's ``Router`` makes it (every route in
order until one matches), and both again with ``--extra N`` more routes under their own first
segments (a big third-party plugin).

    python benchmarks/dispatch_routes.py [--extra 300] [--number 100000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import timeit
from typing import Any

from starlette.routing import BaseRoute, Match, Route


def first_and_last(routes: list[BaseRoute]) -> tuple[Route, Route]:
    """The first and the last registered plain GET route without path parameters."""
    plain = [r for r in routes if type(r) is Route and "{" not in r.path and "GET" in (r.methods or ())]
    return plain[0], plain[-1]


def scope_for(path: str) -> dict[str, Any]:
    return {"type": "http", "method": "GET", "path": path, "root_path": "", "headers": [], "query_string": b""}


def indexed(table: Any, scope: dict[str, Any]) -> BaseRoute:
    for route in table.candidates(scope["path"]):
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return route
    raise LookupError(scope["path"])


def in_order(routes: list[BaseRoute], scope: dict[str, Any]) -> BaseRoute:
    for route in routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return route
    raise LookupError(scope["path"])


def best_ns(call: Any, number: int, repeat: int) -> float:
    return min(timeit.repeat(call, number=number, repeat=repeat)) / number * 1e9


def measure(table: Any, label: str, number: int, repeat: int) -> None:
    routes = list(table.routes)
    first, last = first_and_last(routes)
    print(f"{label}: {len(routes)} routes; first registered {first.path}, last registered {last.path}")
    print("| dispatch | first route | last route | last / first |")
    print("| --- | --- | --- | --- |")
    for name, find in (("RouteTable (what ships)", lambda s: indexed(table, s)),
                       ("Starlette's Router (in order)", lambda s: in_order(routes, s))):
        figures = []
        for route in (first, last):
            scope = scope_for(route.path)
            assert find(scope) is route, (name, route.path)
            figures.append(best_ns(lambda scope=scope, find=find: find(scope), number, repeat))
        print(f"| {name} | {figures[0]:,.0f} ns | {figures[1]:,.0f} ns | {figures[1] / figures[0]:.2f}x |")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--extra", type=int, default=300, help="routes of a further plugin in the second table (300)")
    parser.add_argument("--number", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    os.environ.setdefault("ROLEPLAY_ENV", "development")

    from roleplay_core import Kernel, create_app, hookimpl

    with tempfile.TemporaryDirectory(prefix="bench-dispatch-") as root:
        overrides = {"storage.backend": "file", "storage.file.root": root}
        app = create_app(Kernel.create(env="development", overrides=overrides))
        measure(app.router, "every installed plugin", args.number, args.repeat)

        class Many:
            """A further plugin with many routes of its own, registered last."""

            name = "many"

            @hookimpl
            def register_routes(self, kernel: Any) -> list[Route]:
                async def endpoint(request: Any) -> None:
                    return None

                return [Route(f"/many{i}/things/{{thing_id}}" if i % 2 else f"/many{i}/status", endpoint)
                        for i in range(args.extra)]

        bigger = create_app(Kernel.create(env="development", overrides=overrides, plugins=[Many()]))
        measure(bigger.router, f"every installed plugin and {args.extra} more routes", args.number, args.repeat)


if __name__ == "__main__":
    main()
