"""Rules the client's source keeps: no markup from strings, no foreign code, tokens where decided."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from web_support import STATIC

TEMPLATE = STATIC.parent / "templates" / "index.html"
SOURCES = sorted(STATIC.rglob("*.js"))
IMPORT = re.compile(r'^\s*import\s+(?:[^"\']*\s+from\s+)?["\']([^"\']+)["\']', re.MULTILINE)
DYNAMIC_IMPORT = re.compile(r"\bimport\(")


def code(path: Path) -> str:
    """The source without // comments (they may mention what is forbidden)."""
    return re.sub(r"^\s*//.*$|\s//\s.*$", "", path.read_text(encoding="utf-8"), flags=re.MULTILINE)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.relative_to(STATIC).as_posix())
def test_no_markup_from_strings_and_no_eval(path):
    text = code(path)
    for forbidden in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
                      "DOMParser", "createContextualFragment", "srcdoc", "setAttribute(\"style\"", "style:"):
        assert forbidden not in text, f"{forbidden} in {path.name}"
    assert not re.search(r"setTimeout\(\s*[\"'`]", text), "setTimeout with a string is eval"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.relative_to(STATIC).as_posix())
def test_imports_are_relative_files_that_exist(path):
    """No bare specifiers (they need a bundler or an import map) and no CDN."""
    text = code(path)
    assert not DYNAMIC_IMPORT.search(text)
    for specifier in IMPORT.findall(text):
        assert specifier.startswith(("./", "../")), f"{path.name} imports {specifier!r}"
        assert (path.parent / specifier).resolve().is_file(), f"{path.name}: {specifier} does not exist"


def test_every_module_is_reachable_from_main():
    seen: set[Path] = set()
    todo = [STATIC / "js" / "main.js"]
    while todo:
        path = todo.pop().resolve()
        if path in seen:
            continue
        seen.add(path)
        todo += [(path.parent / s) for s in IMPORT.findall(code(path))]
    # AudioWorklet processors are not imported: voice.js loads them by URL into the audio thread.
    worklets = {p.resolve() for p in (STATIC / "js" / "worklets").glob("*.js")}
    assert seen == {p.resolve() for p in SOURCES} - worklets, "a module nobody imports, or one imported but missing"
    voice = code(STATIC / "js" / "voice.js")
    for path in worklets:
        assert f"${{worklets}}/{path.name}" in voice, f"{path.name} is loaded by nobody"
        assert not IMPORT.findall(code(path)), f"{path.name}: a worklet imports nothing"


def test_nothing_is_loaded_from_another_origin():
    for path in [*STATIC.rglob("*"), TEMPLATE]:
        if not path.is_file():
            continue
        urls = re.findall(r"(?:https?:)?//[A-Za-z0-9.-]+\.[a-z]{2,}[^\s\"'`)]*", path.read_text(encoding="utf-8"))
        assert all(u.startswith(("http://www.w3.org/2000/svg", "//www.w3.org/2000/svg")) for u in urls), (path, urls)


def test_only_the_refresh_token_is_stored_and_only_by_tokens_js():
    """sessionStorage by default; localStorage only for "Keep me signed in" (docs/web.md)."""
    for path in SOURCES:
        text = code(path)
        if path.name != "tokens.js":
            for forbidden in ("sessionStorage", "localStorage", "document.cookie", "indexedDB"):
                assert forbidden not in text, f"{forbidden} in {path.name}"
    tokens = code(STATIC / "js" / "tokens.js")
    assert re.findall(r"setItem\(([^,]+),", tokens) == ["REFRESH_KEY"]
    assert "access_token" not in re.findall(r"setItem\([^)]*\)", tokens)[0]
    assert "document.cookie" not in tokens


def test_sockets_authenticate_with_the_first_frame():
    for name in ("chat_socket.js", "voice.js"):  # the chat socket and the voice call
        socket = code(STATIC / "js" / name)
        assert 'ws.send(JSON.stringify({ type: "auth", token: accessToken() || "" }))' in socket, name
    api = code(STATIC / "js" / "api.js")
    assert "Authorization = `Bearer ${token}`" in api


def test_template_has_no_inline_script_style_or_handlers():
    html = TEMPLATE.read_text(encoding="utf-8")
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert "<style" not in html and " style=" not in html
    assert not re.search(r"\son[a-z]+=", html)


CONSOLE = sorted([STATIC / "js" / "console.js", STATIC / "js" / "scripttext.js", *(STATIC / "js" / "views").glob("console_*.js")])


def test_the_console_files_are_the_ones_checked():
    """The console's modules are among SOURCES (every rule above runs on them) and this list is whole."""
    assert {p.name for p in CONSOLE} == {"console.js", "scripttext.js", "console_scripts.js", "console_editor.js",
                                         "console_versions.js", "console_users.js"}
    assert set(CONSOLE) <= set(SOURCES)


@pytest.mark.parametrize("path", CONSOLE, ids=lambda p: p.name)
def test_the_console_reads_lists_through_list_of_and_calls_only_api_js(path):
    """Every list answers ``{items, next_cursor}``: api.js's ``listOf`` is the one place that reads
    the rows. Requests go through api.js (bearer token,
    refresh, problem+json), never a ``fetch`` of the console's own."""
    text = code(path)
    # A property read: not a call (`admin.users(...)`), not the end of a catalogue key (`t("console.versions")`).
    read = re.search(r"\.(?:scripts|users|events|items|versions)\b(?!\s*\(|\")", text)
    assert not read, f"{path.name} reads a list by its key: {text[read.start() - 40:read.end()]!r}"
    assert "fetch(" not in text and "XMLHttpRequest" not in text, f"{path.name} calls the server itself"


def test_list_of_reads_items_unless_told_another_key():
    api = code(STATIC / "js" / "api.js")
    body = api[api.index("export function listOf"):]
    body = body[:body.index("\n}\n")]
    assert 'key = "items"' in body and "body?.[key]" in body


def test_every_console_route_needs_a_role():
    """The router shows "Page not found" for a console view the user's roles do not allow."""
    main = code(STATIC / "js" / "main.js")
    routes = re.findall(r'^\s*\[/\^#\\/([^,]*)/, (\w+), "(\w*)"(?:, "(\w+)")?\],$', main, flags=re.MULTILINE)
    console = [(pattern, view, role) for pattern, view, _, role in routes if pattern.startswith("console")]
    assert len(console) == 10, routes
    for pattern, view, role in console:
        wanted = "admin" if re.search(r"users|audit|sessions", pattern) else "scripter"
        assert role == wanted, (pattern, view, role)
    assert all(not role for pattern, _, _, role in routes if not pattern.startswith("console"))
    assert "pattern.test(hash) && (!role || hasRole(app.user, role))" in main
