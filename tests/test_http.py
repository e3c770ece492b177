"""HTTP conventions: problem+json for every error, request ids, CORS, body limits, health.

Test home of ``roleplay_core.app``, ``roleplay_core.builtin``, ``roleplay_core.errors``.
"""

import attrs
import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from roleplay_core import JSON, Problem, create_app, hookimpl, parse_body
from roleplay_core.testing import auth_headers, make_kernel


@attrs.frozen
class Item:
    name: str
    count: int = attrs.field(validator=attrs.validators.ge(1))
    tags: tuple[str, ...] = ()


class Demo:
    name = "demo"

    @hookimpl
    def register_routes(self):
        async def create(request):
            item = await parse_body(request, Item)
            return JSON(item, status_code=201)

        async def crash(request):
            raise RuntimeError("secret internal detail")

        async def conflict(request):
            raise Problem(409, "Already there.", extra={"existing_id": "x1"})

        return [
            Route("/demo/items", create, methods=["POST"]),
            Route("/demo/crash", crash),
            Route("/demo/conflict", conflict),
        ]


@pytest.fixture
def client():
    app = create_app(make_kernel({"server.max_body_bytes": 2048}, plugins=[Demo()], load_entry_points=False))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def assert_problem(response, status):
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"] and body["type"]
    return body


def test_valid_body_is_structured(client):
    response = client.post("/demo/items", json={"name": "pen", "count": 2, "tags": ["a"]})
    assert response.status_code == 201
    assert response.json() == {"name": "pen", "count": 2, "tags": ["a"]}


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"count": 1}, ["name"]),
        ({"name": 5, "count": 1}, ["name"]),
        ({"name": "x", "count": "1"}, ["count"]),
        ({"name": "x", "count": True}, ["count"]),
        ({"name": "x", "count": 0}, ["count"]),
        ({"name": "x", "count": 1, "tags": [1]}, ["tags[0]"]),
        ({"name": "x", "count": 1, "extra": 1}, ["$"]),
    ],
)
def test_validation_errors_name_the_field(client, body, fields):
    problem = assert_problem(client.post("/demo/items", json=body), 422)
    assert [e["field"] for e in problem["errors"]] == fields
    assert all(e["message"] for e in problem["errors"])


def test_malformed_json_is_400(client):
    response = client.post("/demo/items", content=b"{not json", headers={"content-type": "application/json"})
    assert "not valid JSON" in assert_problem(response, 400)["detail"]


def test_non_object_body_is_422(client):
    assert_problem(client.post("/demo/items", json=[1, 2]), 422)


def test_wrong_content_type_is_415(client):
    assert_problem(client.post("/demo/items", content=b"name=x", headers={"content-type": "text/plain"}), 415)


def test_oversized_body_is_413_by_header_and_by_stream(client):
    assert_problem(client.post("/demo/items", json={"name": "x" * 5000, "count": 1}), 413)

    def chunks():
        for _ in range(10):
            yield b"x" * 500

    response = client.post("/demo/items", content=chunks(), headers={"content-type": "application/json"})
    assert_problem(response, 413)


def test_unknown_path_404_and_wrong_method_405(client):
    assert_problem(client.get("/nowhere"), 404)
    assert_problem(client.delete("/healthz"), 405)


def test_server_error_is_500_problem_without_traceback(client, caplog):
    response = client.get("/demo/crash")
    body = assert_problem(response, 500)
    assert "secret internal detail" not in response.text and "Traceback" not in response.text
    assert body["request_id"] == response.headers["x-request-id"]
    assert "secret internal detail" in caplog.text  # but it is logged


def test_problem_extra_members(client):
    assert assert_problem(client.get("/demo/conflict"), 409)["existing_id"] == "x1"


def test_request_id_is_echoed_or_made(client):
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"
    made = client.get("/healthz", headers={"X-Request-ID": "bad id\n"}).headers["x-request-id"]
    assert made != "bad id\n" and len(made) == 32


def test_cors_allows_configured_origins_only():
    app = create_app(make_kernel({"cors.allow_origins": ["https://app.example.org"]}, load_entry_points=False))
    with TestClient(app) as client:
        ok = client.options("/healthz", headers={"Origin": "https://app.example.org",
                                                 "Access-Control-Request-Method": "GET"})
        assert ok.headers["access-control-allow-origin"] == "https://app.example.org"
        bad = client.get("/healthz", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in bad.headers


def test_health_and_readiness(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    # the checks are for admins (issue 13, finding 13); anyone gets the status
    assert client.get("/readyz").json() == {"status": "ready"}
    ready = client.get("/readyz", headers=auth_headers(client.app, "root", ("admin",))).json()
    assert ready["status"] == "ready" and ready["checks"]["storage"]["ok"]


def test_readiness_reports_broken_storage(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    kernel = make_kernel({"storage.backend": "file", "storage.file.root": str(blocker / "data")},
                         load_entry_points=False)
    app = create_app(kernel)
    # open() would fail on this root too; start the app without running the lifespan
    client = TestClient(app, raise_server_exceptions=False)
    assert client.get("/readyz").json() == {"status": "unavailable"}  # no path for anonymous callers
    response = client.get("/readyz", headers=auth_headers(app, "root", ("admin",)))
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert str(blocker) in body["checks"]["storage"]["error"]


def test_a_string_is_not_a_list(client):
    problem = assert_problem(client.post("/demo/items", json={"name": "x", "count": 1, "tags": "retail"}), 422)
    assert problem["errors"] == [{"field": "tags", "message": "expected a list"}]


def test_deeply_nested_json_is_400_not_500():
    app = create_app(make_kernel(plugins=[Demo()], load_entry_points=False))
    deep = "[" * 50_000 + "]" * 50_000
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post("/demo/items", content=deep.encode(), headers={"content-type": "application/json"})
    assert "nested too deeply" in assert_problem(response, 400)["detail"]


def test_lone_surrogates_are_400_not_500(client):
    response = client.post("/demo/items", content=b'{"name": "\\ud800x", "count": 1}',
                           headers={"content-type": "application/json"})
    assert "surrogate" in assert_problem(response, 400)["detail"]


def test_storage_errors_a_plugin_lets_through_are_problems_not_500s():
    from roleplay_core.storage import InvalidKey, NotFound, PreconditionFailed, StorageUnavailable

    errors = {"invalid": InvalidKey("bad"), "missing": NotFound("k"), "changed": PreconditionFailed("k"),
              "down": StorageUnavailable("disk full")}

    class Leaky:
        name = "leaky"

        @hookimpl
        def register_routes(self):
            async def leak(request):
                raise errors[request.path_params["kind"]]

            return [Route("/leaky/{kind}", leak)]

    app = create_app(make_kernel(plugins=[Leaky()], load_entry_points=False))
    with TestClient(app, raise_server_exceptions=False) as client:
        assert_problem(client.get("/leaky/invalid"), 404)
        assert_problem(client.get("/leaky/missing"), 404)
        assert client.get("/leaky/changed").headers["retry-after"] == "1"
        assert_problem(client.get("/leaky/changed"), 409)
        down = client.get("/leaky/down")
        assert_problem(down, 503)
        assert "disk full" not in down.text  # the backend's detail goes to the log only


def test_query_int_names_the_parameter():
    from roleplay_core import query_int

    class Pages:
        name = "pages"

        @hookimpl
        def register_routes(self):
            async def page(request):
                return JSON({"limit": query_int(request, "limit", 20, minimum=1, maximum=100),
                             "after": query_int(request, "after", None, minimum=0)})

            return [Route("/pages", page)]

    app = create_app(make_kernel(plugins=[Pages()], load_entry_points=False))
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/pages").json() == {"limit": 20, "after": None}
        assert client.get("/pages?limit=5&after=7").json() == {"limit": 5, "after": 7}
        assert assert_problem(client.get("/pages?limit=x"), 422)["errors"] == [
            {"field": "limit", "message": "expected an integer"}]
        assert assert_problem(client.get("/pages?limit=0"), 422)["errors"][0]["message"] == "must be between 1 and 100"
        assert assert_problem(client.get("/pages?after=-1"), 422)["errors"][0] == {
            "field": "after", "message": "must be at least 0"}
