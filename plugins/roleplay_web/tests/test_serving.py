"""Over HTTP: the page and its files, their content types and security headers, settings.

Test home of ``roleplay_web.config``, ``roleplay_web.headers``, ``roleplay_web.page``, ``roleplay_web.plugin``, ``roleplay_web.routes``.
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from web_support import STATIC

from roleplay_core.plugins import bootstrap
from roleplay_core.testing import make_app, make_kernel

TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml",
         ".json": "application/json"}


class PageParser(HTMLParser):
    """Collects the tags, attributes and script bodies of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.script_text: list[str] = []
        self.text: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False if tag == "script" else self._in_script

    def handle_data(self, data):
        (self.script_text if self._in_script else self.text).append(data)


def parse(html: str) -> PageParser:
    parser = PageParser()
    parser.feed(html)
    return parser


def csp_directives(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


@pytest.fixture
def client():
    with TestClient(make_app()) as found:
        yield found


def assert_security_headers(response) -> None:
    csp = csp_directives(response.headers["content-security-policy"])
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"]  # no 'unsafe-inline', no 'unsafe-eval', no hosts
    assert csp["style-src"] == ["'self'"]
    assert csp["connect-src"] == ["'self'", "ws:", "wss:"]
    assert csp["object-src"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


def test_page_is_html_with_a_strict_policy(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert_security_headers(response)
    assert client.head("/").status_code == 200
    assert client.post("/").status_code == 405


def test_page_has_no_inline_script_or_style_and_loads_only_its_own_files(client):
    page = parse(client.get("/").text)
    scripts = [attrs for tag, attrs in page.tags if tag == "script"]
    assert scripts == [{"type": "module", "src": "/app/js/main.js"}]
    assert "".join(page.script_text).strip() == ""
    assert not [tag for tag, _ in page.tags if tag == "style"]
    for tag, attrs in page.tags:
        assert "style" not in attrs, f"<{tag}> has an inline style"
        assert not [name for name in attrs if name.startswith("on")], f"<{tag}> has an inline handler"
    referenced = [attrs.get("src") or attrs.get("href") for tag, attrs in page.tags if tag in ("script", "link")]
    assert referenced == ["/app/icon.svg", "/app/style.css", "/app/js/main.js"]
    for path in referenced:
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"] == TYPES[Path(path).suffix]
        assert_security_headers(response)


def test_every_static_file_is_served_with_its_type(client):
    files = sorted(p for p in STATIC.rglob("*") if p.is_file())
    assert len(files) >= 12
    for path in files:
        response = client.get("/app/" + path.relative_to(STATIC).as_posix())
        assert response.status_code == 200, path
        assert response.headers["content-type"] == TYPES[path.suffix], path
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.content == path.read_bytes()


def test_files_revalidate_with_etags(client):
    first = client.get("/app/js/api.js")
    assert first.headers["cache-control"] == "no-cache"
    again = client.get("/app/js/api.js", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304


@pytest.mark.parametrize("path", ["/app/../page.py", "/app/%2e%2e/page.py", "/app/js/../../routes.py",
                                  "/app/%2e%2e/templates/index.html", "/app/", "/app/js/", "/app/missing.js",
                                  "/app/..%2fplugin.py"])
def test_nothing_outside_the_static_folder_is_served(client, path):
    response = client.get(path)
    assert response.status_code == 404, response.text[:200]
    assert "hookimpl" not in response.text and "$title" not in response.text


def test_unknown_file_types_are_not_served(tmp_path, monkeypatch):
    from roleplay_web import routes

    (tmp_path / "notes.txt").write_text("secret")
    (tmp_path / "ok.css").write_text("p {}")
    monkeypatch.setattr(routes, "STATIC", tmp_path)
    with TestClient(make_app()) as client:
        assert client.get("/app/ok.css").status_code == 200
        assert client.get("/app/notes.txt").status_code == 404


def test_title_is_escaped_text(tmp_path):
    title = '</title><script>alert("x")</script>&"'
    with TestClient(make_app({"web.title": title})) as client:
        html = client.get("/").text
    page = parse(html)
    assert [attrs for tag, attrs in page.tags if tag == "script"] == [{"type": "module", "src": "/app/js/main.js"}]
    assert "<script>alert" not in html
    assert "&lt;/title&gt;&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&quot;" in html
    body = next(attrs for tag, attrs in page.tags if tag == "body")
    assert body["data-title"] == title  # the parser unescapes it back: it is exactly the text


def test_prefixes_move_the_page_its_files_and_the_api_locations():
    overrides = {"plugins.web.prefix": "/ui", "plugins.chat.prefix": "/api", "plugins.auth.prefix": "/id/",
                 "plugins.evaluator.prefix": "/api"}
    with TestClient(make_app(overrides)) as client:
        assert client.get("/").status_code == 404
        response = client.get("/ui/")
        assert response.status_code == 200
        page = parse(response.text)
        body = next(attrs for tag, attrs in page.tags if tag == "body")
        assert (body["data-api-auth"], body["data-api-chat"], body["data-api-evaluator"]) == ("/id", "/api", "/api")
        assert [a["src"] for t, a in page.tags if t == "script"] == ["/ui/app/js/main.js"]
        assert client.get("/ui/app/js/main.js").status_code == 200


def test_the_plugin_can_be_switched_off():
    with TestClient(make_app({"plugins.web.enabled": False})) as client:
        assert client.get("/").status_code == 404
        assert client.get("/app/js/main.js").status_code == 404
        web = next(info for info in client.app.state.kernel.plugins if info.name == "web")
        assert web.status == "disabled in settings"


def test_page_lists_the_enabled_plugins():
    with TestClient(make_app({"plugins.evaluator.enabled": False})) as client:
        body = next(attrs for tag, attrs in parse(client.get("/").text).tags if tag == "body")
    assert "web" in body["data-plugins"].split()
    assert "evaluator" not in body["data-plugins"].split()


@pytest.mark.parametrize(("title", "problem"), [
    ("", "must not be blank"),
    ("x" * 81, "at most 80 characters"),
    (42, "expected a string"),
    ("a\x07b", "control characters"),
])
def test_bad_titles_are_reported(title, problem):
    found = bootstrap(env="development", settings_files=[], overrides={"web.title": title}).problems
    assert any(p.startswith("web.title: ") and problem in p for p in found), found


def test_default_title_is_valid():
    kernel = make_kernel()
    assert kernel.settings.get("web.title") == kernel.typed_settings("web").title == "Roleplay"
    assert not [p for p in bootstrap(env="development", settings_files=[]).problems if p.startswith("web.")]


def test_a_wrong_type_from_an_environment_variable_names_the_key(monkeypatch):
    monkeypatch.setenv("ROLEPLAY_WEB__TITLE", "42")  # TOML: the integer 42
    assert "web.title: expected a string" in bootstrap(env="development", settings_files=[]).problems
