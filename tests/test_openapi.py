"""The API's description: ``/openapi.json``, ``/asyncapi.json``, the ``/docs`` page and ``roleplay openapi``.

Test home of ``roleplay_core.openapi`` and ``roleplay_core.apidocs``, and of the plugins' response
and frame types (``roleplay_auth.schemas``, ``roleplay_chat.schemas``, ``roleplay_evaluator.schemas``,
``roleplay_scripter.schemas``): every route of every installed plugin must be declared, so a route
without a description fails here. The schemathesis run against a live server is
``tests/test_api_fuzz.py``.
"""

from __future__ import annotations

import json

import pytest
from starlette.testclient import TestClient

from roleplay_core import create_app
from roleplay_core.cli import main
from roleplay_core.settings import build_settings
from roleplay_core.testing import make_kernel

pytest.importorskip("roleplay_chat", reason="the documents are checked with every shipped plugin installed")

MEMORY = {"storage.backend": "memory"}


@pytest.fixture(scope="module")
def documents():
    with TestClient(create_app(make_kernel(MEMORY))) as client:
        openapi = client.get("/openapi.json")
        asyncapi = client.get("/asyncapi.json")
    assert openapi.status_code == 200 and asyncapi.status_code == 200
    return openapi.json(), asyncapi.json()


def test_every_route_of_every_plugin_is_declared_with_a_description(documents):
    openapi, _ = documents
    kernel = make_kernel(MEMORY)
    kernel.collect_routes()
    operations = {(method.upper(), path): op for path, methods in openapi["paths"].items()
                  for method, op in methods.items()}
    undescribed = sorted(f"{method} {path}" for (method, path), op in operations.items() if not op["summary"].strip())
    assert undescribed == [], f"routes without an operation(...) declaration: {undescribed}"
    for plugin, route in kernel.owned_routes:
        for method in getattr(route, "methods", None) or ():
            if method == "HEAD":
                continue
            path = route.path.replace(":int", "")
            assert (method, path) in operations, (plugin, method, path)
            assert operations[(method, path)]["tags"] == [plugin]
    assert len(operations) >= 60


def test_the_document_is_openapi_3_1_with_schemas_problems_and_security(documents):
    openapi, _ = documents
    assert openapi["openapi"] == "3.1.0"
    assert {t["name"] for t in openapi["tags"]} >= {"core", "auth", "chat", "evaluator", "scripter", "web"}
    schemes = openapi["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                                     "description": schemes["bearerAuth"]["description"]}
    assert schemes["apiKey"]["in"] == "header" and schemes["apiKey"]["name"] == "X-API-Key"
    create = openapi["paths"]["/chat/sessions"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/NewSession"}
    assert create["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/SessionDetail"}
    assert create["security"] == [{"bearerAuth": []}, {"apiKey": []}]
    for status in ("400", "401", "413", "415", "422"):
        assert create["responses"][status]["content"] == {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}}
    session = openapi["components"]["schemas"]["Session"]
    assert session["properties"]["status"] == {"enum": ["active", "ended"]}
    assert "counts" in session["required"]
    login = openapi["paths"]["/auth/login"]["post"]
    assert login["security"] == [] and "401" in login["responses"]
    lists = [path for path, methods in openapi["paths"].items() for op in methods.values()
             for answer in op["responses"].values()
             if answer.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref", "").endswith("List")]
    assert len(lists) >= 8
    for name, schema in openapi["components"]["schemas"].items():
        if name.endswith("List") and name != "AuthMethodList" or name in ("AuditPage",):
            assert {"items", "next_cursor"} <= set(schema["properties"]), name
    version = openapi["paths"]["/scripts/{script_id}/versions/{number}"]["get"]
    assert {"name": "number", "in": "path", "required": True, "schema": {"type": "integer"}} in version["parameters"]


def test_examples_come_from_the_docs(documents):
    openapi, _ = documents
    register = openapi["paths"]["/auth/register"]["post"]["requestBody"]["content"]["application/json"]
    assert set(register["example"]) >= {"email", "password", "display_name"}
    session = openapi["paths"]["/chat/sessions"]["post"]["requestBody"]["content"]["application/json"]
    assert session["example"]["scenario_id"] == "refund-angry-customer"


def test_prefixes_apply_and_disabled_plugins_are_absent():
    app = create_app(make_kernel({**MEMORY, "plugins.chat.prefix": "/api", "plugins.scripter.enabled": False}))
    with TestClient(app) as client:
        openapi = client.get("/openapi.json").json()
        asyncapi = client.get("/asyncapi.json").json()
    paths = set(openapi["paths"])
    assert "/api/chat/sessions" in paths and "/chat/sessions" not in paths
    assert not [p for p in paths if p.startswith("/scripts")]
    assert "scripter" not in {t["name"] for t in openapi["tags"]}
    assert {c["address"] for c in asyncapi["channels"].values()} == {"/api/chat/sessions/{session_id}/ws",
                                                                     "/api/chat/sessions/{session_id}/voice"}


def test_asyncapi_describes_both_sockets_from_their_frame_types(documents):
    _, asyncapi = documents
    assert asyncapi["asyncapi"] == "3.0.0"
    chat = asyncapi["channels"]["chat_sessions_session_id_ws"]
    assert chat["address"] == "/chat/sessions/{session_id}/ws" and "session_id" in chat["parameters"]
    assert {"AuthFrame", "MessageFrame", "DeltaFrame", "ErrorFrame", "ReconnectFrame"} <= set(chat["messages"])
    voice = asyncapi["operations"]["chat_sessions_session_id_voice_receive"]
    assert voice["action"] == "receive"
    assert {"$ref": "#/channels/chat_sessions_session_id_voice/messages/StartFrame"} in voice["messages"]
    start = asyncapi["components"]["schemas"]["StartFrame"]
    assert start["properties"]["type"] == {"enum": ["start"]}
    assert start["properties"]["sample_rate"] == {"enum": [16000, 24000, 44100, 48000]}
    for message in asyncapi["components"]["messages"].values():
        ref = message["payload"]["$ref"].rsplit("/", 1)[1]
        assert ref in asyncapi["components"]["schemas"]


def test_the_docs_page_renders_both_documents_offline_and_can_be_switched_off():
    with TestClient(create_app(make_kernel(MEMORY))) as client:
        page = client.get("/docs")
        script = client.get("/docs/docs.js")
        assert client.get("/docs/index.html").status_code == 404  # only the page's own two files
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert 'src="docs/docs.js"' in page.text and "://" not in page.text  # nothing from elsewhere
    assert "/openapi.json" in script.text and "/asyncapi.json" in script.text
    assert "innerHTML" not in script.text and "https://" not in script.text
    with TestClient(create_app(make_kernel({**MEMORY, "docs.enabled": False}))) as client:
        for path in ("/docs", "/openapi.json", "/asyncapi.json"):
            off = client.get(path)
            assert off.status_code == 404 and off.headers["content-type"] == "application/problem+json"
    assert build_settings("production", layers={}).get("docs.enabled") is False
    assert build_settings("beta", layers={}).get("docs.enabled") is True


def test_roleplay_openapi_prints_the_served_document(capsys, documents, tmp_path):
    openapi, asyncapi = documents
    args = ["--set", "storage.backend=memory"]
    assert main(["openapi", *args]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["paths"].keys() == openapi["paths"].keys()
    assert printed == json.loads(json.dumps(openapi))
    assert main(["openapi", "--asyncapi", *args]) == 0
    assert json.loads(capsys.readouterr().out)["channels"].keys() == asyncapi["channels"].keys()


def test_what_the_first_fuzzing_runs_found_stays_fixed(documents):
    """Each finding of schemathesis' first runs (docs/decisions.md, 46), pinned in the document."""
    openapi, _ = documents
    paths, schemas = openapi["paths"], openapi["components"]["schemas"]
    # A YAML or JSON export is a document (an object), not a string: its body was checked as "string".
    for path in ("/scripts/export", "/scripts/{script_id}/export"):
        content = paths[path]["get"]["responses"]["200"]["content"]
        assert content["application/yaml"]["schema"] == content["application/json"]["schema"] == {"type": "object"}
    # An unknown or foreign session is a 404 of POST /evaluations, undocumented at first.
    assert "404" in paths["/evaluations"]["post"]["responses"]
    # limit=0 was "valid" by the document and refused by the handler: the bounds are in the schema now.
    limits = {p["name"]: p["schema"] for p in paths["/chat/sessions"]["get"]["parameters"]}
    assert limits["limit"] == {"type": "integer", "minimum": 1, "maximum": 100}
    # Unknown members of a body are a 422: the schemas say so, down to nested objects.
    assert schemas["NewSession"]["additionalProperties"] is False
    assert schemas["Character"]["additionalProperties"] is False  # inside Script, the body of POST /scripts
    # Links let the stateful phase chain create -> read.
    links = paths["/chat/sessions"]["post"]["responses"]["201"]["links"]
    assert links["read"] == {"operationId": "get_chat_sessions_session_id",
                             "parameters": {"session_id": "$response.body#/id"}}
    # An example shown under a heading that is one item of a list is not the list's example.
    versions = paths["/scripts/{script_id}/versions"]["get"]["responses"]["200"]["content"]["application/json"]
    assert "example" not in versions
