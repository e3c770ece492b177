"""Dispatch: Starlette's answers (order, 405, 404, slash redirects, prefixes) without scanning every route.

One answer differs on purpose: a 405's ``Allow`` names every method of the path, not only the
first matching route's (plugins register one route per method).
"""

import re

import pytest
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route, Router, WebSocketRoute
from starlette.testclient import TestClient

from roleplay_core import create_app, hookimpl
from roleplay_core.dispatch import RouteTable
from roleplay_core.testing import make_kernel


def text(body):
    async def endpoint(request):
        return PlainTextResponse(f"{body} {dict(request.path_params)}")

    return endpoint


class Shop:
    name = "shop"

    @hookimpl
    def register_routes(self):
        async def static(scope, receive, send):
            await PlainTextResponse(f"static {scope['path']}")(scope, receive, send)

        return [
            Route("/shop/items", text("list"), methods=["GET"]),
            Route("/shop/items", text("create"), methods=["POST"]),
            Route("/shop/items/special", text("special"), methods=["GET"]),  # before the parameter: it wins
            Route("/shop/items/{item_id}", text("item"), methods=["GET"]),
            Route("/shop/items/{item_id}", text("delete"), methods=["DELETE"]),
            Route("/shop/items/{item_id}/later", text("later"), methods=["GET"]),
            Route("/shop/items/{number:int}/page", text("page"), methods=["GET"]),
            Route("/shop/files/{rest:path}", text("file"), methods=["GET"]),
            Mount("/shop/static", app=static),
        ]


class Many:
    """Hundreds of routes under their own first segments: they must not slow anyone else down."""

    name = "many"

    @hookimpl
    def register_routes(self):
        return [Route(f"/many{i}/things/{{thing_id}}", text(i), methods=["GET"]) for i in range(300)]


@pytest.fixture
def client():
    app = create_app(make_kernel({"plugins.shop.prefix": "/api"}, plugins=[Shop()], load_entry_points=False))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_paths_methods_and_order_as_starlette(client):
    assert client.get("/api/shop/items").text == "list {}"
    assert client.post("/api/shop/items").text == "create {}"
    assert client.get("/api/shop/items/special").text == "special {}"
    assert client.get("/api/shop/items/a1").text == "item {'item_id': 'a1'}"
    assert client.delete("/api/shop/items/a1").text == "delete {'item_id': 'a1'}"
    assert client.get("/api/shop/items/a1/later").text == "later {'item_id': 'a1'}"
    assert client.get("/api/shop/items/7/page").text == "page {'number': 7}"
    assert client.get("/api/shop/files/a/b/c.txt").text == "file {'rest': 'a/b/c.txt'}"
    assert client.get("/api/shop/static/x/y.css").text == "static /api/shop/static/x/y.css"
    assert client.get("/healthz").json()["status"] == "ok"


def test_known_path_wrong_method_is_405_unknown_is_404(client):
    response = client.put("/api/shop/items/a1")
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"
    # Every method of the path (schemathesis found Starlette naming only the first route's: GET, HEAD).
    assert response.headers["allow"] == "DELETE, GET, HEAD"
    assert client.put("/api/shop/items").headers["allow"] == "GET, HEAD, POST"
    # /items/special is its own path: the methods of /items/{item_id} are not its methods.
    assert client.post("/api/shop/items/special").headers["allow"] == "GET, HEAD"
    assert client.put("/api/shop/items").status_code == 405
    assert client.delete("/healthz").status_code == 405
    for path in ("/shop/items", "/api/shop/nothing", "/api/shop/items/a/b/c", "/nowhere", "/api/shop/items/x/page"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/problem+json"


REQUESTS = [(method, path) for method in ("GET", "POST", "PUT", "DELETE", "HEAD") for path in (
    "/", "/healthz", "/healthz/", "/readyz", "/plugins", "/api/shop/items", "/api/shop/items/", "/api/shop/items/special",
    "/api/shop/items/a1", "/api/shop/items/a1/", "/api/shop/items/7/page", "/api/shop/items/x/page",
    "/api/shop/items/a1/later", "/api/shop/files/", "/api/shop/files/a/b", "/api/shop/static", "/api/shop/static/",
    "/api/shop/static/a.css", "/shop/items", "/api", "/api/", "/nowhere", "//", "/api//shop",
)]


def test_same_answers_as_starlettes_router(client):
    """Every request gets exactly what Starlette's own Router (trying every route in order) answers."""
    plain = create_app(make_kernel({"plugins.shop.prefix": "/api"}, plugins=[Shop()], load_entry_points=False))
    plain.router = Router(plain.router.routes, lifespan=plain.router.lifespan_context)
    with TestClient(plain, raise_server_exceptions=False) as reference:
        for method, path in REQUESTS:
            ours = client.request(method, path, follow_redirects=False, headers={"X-Request-ID": "same"})
            theirs = reference.request(method, path, follow_redirects=False, headers={"X-Request-ID": "same"})
            assert (ours.status_code, ours.text, ours.headers.get("location")) == \
                (theirs.status_code, theirs.text, theirs.headers.get("location")), (method, path)
            # One difference on purpose: a 405 lists every method of the path, Starlette the first route's.
            assert set((theirs.headers.get("allow") or "").split(", ")) <= \
                set((ours.headers.get("allow") or "").split(", ")), (method, path)


def test_trailing_slash_redirects_as_starlette(client):
    response = client.get("/api/shop/items/", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"].endswith("/api/shop/items")
    response = client.get("/api/shop/static", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"].endswith("/api/shop/static/")


def test_websocket_routes_dispatch():
    async def echo(websocket):
        await websocket.accept()
        await websocket.send_text(websocket.path_params["room"])
        await websocket.close()

    class Sockets:
        name = "sockets"

        @hookimpl
        def register_routes(self):
            return [WebSocketRoute("/rooms/{room}/ws", echo)]

    app = create_app(make_kernel(plugins=[Sockets()], load_entry_points=False))
    with TestClient(app) as client, client.websocket_connect("/rooms/r1/ws") as socket:
        assert socket.receive_text() == "r1"


def sample_path(path):
    """A request path that the route template ``path`` matches."""
    return re.sub(r"{[^}:]+(:[a-z]+)?}", lambda m: "7" if m.group(1) in (":int", ":float") else "x1", path)


def test_first_and_last_route_take_the_same_steps_however_many_routes():
    """Every route is tried against only the routes on its own path, first registered or last."""
    app = create_app(make_kernel(plugins=[Shop(), Many()], load_entry_points=False))
    table = app.router
    assert isinstance(table, RouteTable)
    routes = [route for route in table.routes if isinstance(route, Route)]
    assert len(routes) > 300
    steps = {}
    for route in routes:
        candidates = table.candidates(sample_path(route.path))
        assert route in candidates
        steps[route.path] = len(candidates)
    first, last = routes[0].path, routes[-1].path
    assert first != last and steps[first] == steps[last] == 1, (first, last, steps[first], steps[last])
    assert steps["/healthz"] == 1 and steps["/many299/things/{thing_id}"] == 1 == steps["/many0/things/{thing_id}"]
    # The most any route needs: its plugin's routes of the same depth under the same first segment, and its
    # mounts and {path} routes (here /shop/items/special: itself, /shop/items/{item_id} twice, files, static).
    assert max(steps.values()) <= 5, max(steps.items(), key=lambda kv: kv[1])


def test_every_installed_plugin_route_is_found_among_a_handful():
    """With every installed plugin, each route's path finds it among the routes on that path only."""
    app = create_app(make_kernel({"storage.backend": "memory"}))
    table = app.router
    paths = {}
    for route in table.routes:
        if hasattr(route, "path") and not isinstance(route, Mount):
            paths.setdefault(sample_path(route.path), []).append(route)
    assert "/healthz" in paths and len(table.routes) > 20
    for path, routes in paths.items():
        candidates = table.candidates(path)
        assert all(route in candidates for route in routes), path
        assert len(candidates) <= len(routes) + 3, (path, candidates)
