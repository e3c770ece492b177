"""Every API path the client's JavaScript calls exists in the running app, with that method."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from starlette.routing import Match
from starlette.testclient import TestClient
from web_support import STATIC, requires_api

from roleplay_core.testing import make_app

pytestmark = requires_api

#: `call("POST", `${base.chat}/chat/sessions`, ...)` and `send(...)`: the method and the URL template.
CALL = re.compile(r'\b(?:call|send|scriptText)\(\s*"(GET|POST|PUT|PATCH|DELETE)"\s*,\s*`([^`]*)`')
#: Any string or template literal that names an API path, wherever it is.
LITERAL = re.compile(r'`([^`]*)`|"([^"\n]*)"|\'([^\'\n]*)\'')
API_PATH = re.compile(r"/(auth|chat|evaluations|scripts|users)\b")
BASE = re.compile(r"\$\{base\.(\w+)\}")
PLACEHOLDER = re.compile(r"\$\{[^}]*\}")


def sources() -> dict[str, str]:
    return {p.relative_to(STATIC).as_posix(): p.read_text(encoding="utf-8") for p in STATIC.rglob("*.js")}


def concrete(template: str, bases: dict[str, str]) -> str:
    """A request path for a URL template: ${base.x} as the page says, other ${...} as a sample id."""
    path = BASE.sub(lambda m: bases[m.group(1)], template)
    return PLACEHOLDER.sub("sample-id", path).split("?")[0]


def page_bases(client: TestClient, web_prefix: str = "") -> dict[str, str]:
    class Body(HTMLParser):
        attrs: dict[str, str] = {}

        def handle_starttag(self, tag, attrs):
            if tag == "body":
                Body.attrs = dict(attrs)

    Body().feed(client.get(web_prefix + "/").text)
    # base.web is the page's own prefix (data-base): GET /capabilities belongs to this plugin.
    return {**{name: Body.attrs[f"data-api-{name}"] for name in ("auth", "chat", "evaluator", "scripter")},
            "web": Body.attrs["data-base"]}


def route_for(app, kind: str, path: str, method: str = "GET"):
    scope = {"type": kind, "path": path, "root_path": "", "method": method, "headers": []}
    partial = None
    for route in app.router.routes:
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return route, True
        if match == Match.PARTIAL and partial is None:
            partial = route
    return partial, False


def calls() -> list[tuple[str, str, str]]:
    return [(name, method, template) for name, text in sources().items() for method, template in CALL.findall(text)]


def test_the_parser_finds_the_client_calls():
    found = {(method, PLACEHOLDER.sub("{}", BASE.sub("", template))) for _, method, template in calls()}
    for expected in [("POST", "/auth/register"), ("POST", "/auth/login"), ("POST", "/auth/refresh"),
                     ("POST", "/auth/logout"), ("GET", "/auth/providers"), ("GET", "/auth/me"),
                     ("GET", "/chat/scenarios"), ("GET", "/chat/scenarios/{}"), ("POST", "/chat/sessions"),
                     ("GET", "/chat/sessions"), ("GET", "/chat/sessions/{}"), ("POST", "/chat/sessions/{}/messages"),
                     ("POST", "/chat/sessions/{}/retry"), ("POST", "/chat/sessions/{}/end"),
                     ("POST", "/evaluations"), ("GET", "/evaluations"), ("GET", "/evaluations/{}"),
                     ("GET", "/evaluations/progress"), ("GET", "/evaluations/{}/export"), ("PATCH", "/users/me"),
                     ("GET", "/capabilities"),
                     # the console (scripter and admin)
                     ("GET", "/scripts"), ("POST", "/scripts"), ("PUT", "/scripts/{}"), ("DELETE", "/scripts/{}"),
                     ("POST", "/scripts/validate"), ("POST", "/scripts/{}/publish"), ("GET", "/scripts/{}/versions"),
                     ("GET", "/scripts/{}/diff"), ("POST", "/scripts/{}/preview"), ("GET", "/scripts/{}/translations"),
                     ("POST", "/scripts/import"), ("POST", "/scripts/{}/characters"), ("GET", "/scripts/export"),
                     ("GET", "/users"), ("GET", "/users/{}"), ("PATCH", "/users/{}"), ("DELETE", "/users/{}"),
                     ("GET", "/users/audit")]:
        assert expected in found, expected


@pytest.mark.parametrize("overrides", [
    {},
    {"plugins.auth.prefix": "/id", "plugins.chat.prefix": "/api/v1", "plugins.evaluator.prefix": "/api/v1",
     "plugins.scripter.prefix": "/authoring", "plugins.web.prefix": "/ui"},
], ids=["no-prefix", "prefixed"])
def test_every_http_call_matches_a_route_and_method(overrides):
    with TestClient(make_app(overrides)) as client:
        bases = page_bases(client, overrides.get("plugins.web.prefix", ""))
        app = client.app
        missing = []
        for source, method, template in calls():
            path = concrete(template, bases)
            route, exact = route_for(app, "http", path, method)
            if not exact:
                missing.append(f"{source}: {method} {path} ({'wrong method' if route else 'no route'})")
        assert not missing, missing
        # The matcher can say no: a path and a method that do not exist are refused.
        assert route_for(app, "http", concrete("${base.chat}/chat/sessionz", bases)) == (None, False)
        assert route_for(app, "http", concrete("${base.chat}/chat/scenarios", bases), "DELETE")[1] is False


def test_every_other_api_literal_is_a_route_too():
    with TestClient(make_app()) as client:
        bases = page_bases(client)
        in_calls = {template for _, _, template in calls()}
        others = []
        for source, text in sources().items():
            for groups in LITERAL.findall(text):
                literal = next(g for g in groups if g is not None and g != "") if any(groups) else ""
                # "#/console/scripts" is the page's own address (a hash route), not an API path.
                if not API_PATH.search(literal) or literal in in_calls or literal.startswith("#"):
                    continue
                others.append((source, literal))
        assert others, "the WebSocket path is built outside call(); the scan should see it"
        for source, literal in others:
            path = concrete(literal, bases)
            kind = "websocket" if path.endswith(("/ws", "/voice")) else "http"
            route, exact = route_for(client.app, kind, path)
            assert exact, f"{source}: {literal!r} -> {path} matches no {kind} route"
