"""What each HTTP route takes and answers, declared once, and the OpenAPI 3.1 document built from it.

A plugin declares a route with :func:`operation` on its handler::

    @operation("List my sessions", query=(Query("limit", int, "Page size"),),
               responses={200: SessionList}, problems=(403,))
    @requires_user
    async def list_sessions(request): ...

The kernel reads these declarations from the routes every enabled plugin registers
(prefixes applied) and builds ``/openapi.json``: one tag per plugin, the request and
response schemas from the attrs classes (through ``msgspec.json.schema_components``,
docs/decisions.md says why), problem responses as ``application/problem+json``, the
bearer-JWT and ``X-API-Key`` security schemes, and examples from ``docs/api/*.md`` when
those docs sit next to the code. Nothing here is written by hand per route but the
declaration, so the document cannot drift from the code that serves it.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import attrs
import msgspec

F = TypeVar("F", bound=Callable[..., Any])

#: Where the operation of a handler is kept (an attribute of the function).
ATTRIBUTE = "__roleplay_operation__"


@attrs.frozen
class Query:
    """One query parameter: its name, its type (``str``, ``int``, ``bool`` or a ``Literal``) and what it does."""

    name: str
    type: Any
    description: str
    required: bool = False
    #: Bounds of an integer parameter, as the handler checks them (``query_int(..., minimum=1)``).
    minimum: int | None = None
    maximum: int | None = None


@attrs.frozen
class Content:
    """A response body that is not JSON (or not only): ``{media type: python type}``, e.g. ``{"text/plain": str}``."""

    media_types: Mapping[str, Any]
    description: str = ""


@attrs.frozen(kw_only=True)
class Operation:
    """What one route takes and answers. ``summary`` is required: a route without one fails a test.

    ``responses`` maps a status to an attrs class (JSON), ``None`` (no body) or :class:`Content`.
    ``problems`` lists the statuses answered with ``application/problem+json``; the kernel adds the
    ones every such route can give (401 unless ``public``; 400, 413, 415, 422 with a ``body``; 422
    with ``query``; 404 with a path parameter; 503 while draining).
    """

    summary: str
    description: str = ""
    body: Any = None
    #: False for a body that may be left out (a DELETE's optional re-authentication).
    body_required: bool = True
    query: tuple[Query, ...] = ()
    #: Request headers the route reads (``If-Match``, ``Idempotency-Key``), declared like query parameters.
    headers: tuple[Query, ...] = ()
    responses: Mapping[int, Any] = attrs.field(factory=dict)
    problems: tuple[int, ...] = ()
    public: bool = False
    #: OpenAPI links from a 2xx answer: ``{name: ("GET /chat/sessions/{session_id}", {"session_id":
    #: "$response.body#/id"})}``, the target path as the plugin registers it (before its prefix).
    links: Mapping[str, tuple[str, Mapping[str, str]]] = attrs.field(factory=dict)


def operation(summary: str, *, description: str = "", body: Any = None, body_required: bool = True,
              query: Iterable[Query] = (), headers: Iterable[Query] = (), responses: Mapping[int, Any] | None = None, problems: Iterable[int] = (),
              public: bool = False, links: Mapping[str, tuple[str, Mapping[str, str]]] | None = None
              ) -> Callable[[F], F]:
    """Declare what the handler under it takes and answers (see :class:`Operation`).

    Put it above the other decorators (``@requires_user``): it marks the function the route holds.
    ``description`` defaults to the handler's docstring.
    """

    def mark(handler: F) -> F:
        text = description or _docstring(handler)
        setattr(handler, ATTRIBUTE, Operation(summary=summary, description=text, body=body, body_required=body_required,
                                              query=tuple(query), headers=tuple(headers),
                                              responses=dict(responses or {200: None}),
                                              problems=tuple(problems), public=public, links=dict(links or {})))
        return handler

    return mark


def operation_of(endpoint: Any) -> Operation | None:
    """The :class:`Operation` declared on ``endpoint`` (a handler, a bound method or a partial), or None."""
    while endpoint is not None:
        found = getattr(endpoint, ATTRIBUTE, None)
        if found is not None:
            return found
        endpoint = getattr(endpoint, "func", None) or getattr(endpoint, "__wrapped__", None)
    return None


def _docstring(handler: Any) -> str:
    doc = getattr(handler, "__doc__", None) or ""
    return " ".join(doc.split()) if doc.strip() else ""


# -- the document ----------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class FieldProblem:
    """One failing input field: a dotted path (``characters[0].name``) and what is wrong with it."""

    field: str
    message: str


@attrs.frozen(kw_only=True)
class ProblemDetails:
    """RFC 9457 problem details: every error answer (``application/problem+json``).

    ``code`` is a plugin's machine-readable reason where it gives one; more members may appear.
    """

    type: str
    title: str
    status: int
    detail: str | None = None
    errors: list[FieldProblem] | None = None
    code: str | None = None
    request_id: str | None = None


_PARAM = re.compile(r"{([a-zA-Z_][a-zA-Z0-9_]*)(?::([a-zA-Z_]+))?}")
_CONVERTORS = {"int": {"type": "integer"}, "float": {"type": "number"}, "uuid": {"type": "string", "format": "uuid"},
               "path": {"type": "string"}, "str": {"type": "string"}}
_PROBLEM_REF = {"$ref": "#/components/schemas/ProblemDetails"}
_SECURITY = [{"bearerAuth": []}, {"apiKey": []}]


def openapi_document(kernel: Any, routes: Iterable[tuple[str, Any]] | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``kernel``'s routes: ``(plugin name, prefixed route)`` pairs.

    Routes without an :class:`Operation` still appear (with an empty description), so a plugin
    that declares nothing is visible, and ``tests/test_openapi.py`` fails on it.
    """
    from starlette.routing import Route

    pairs = list(routes if routes is not None else kernel.owned_routes)
    types: list[Any] = [ProblemDetails]
    slots: list[tuple[dict[str, Any], str, Any]] = []  # (where, key, python type) filled after schema generation
    paths: dict[str, dict[str, Any]] = {}
    tags: dict[str, str] = {}
    examples = _doc_examples(kernel)
    bounds_of: dict[int, dict[str, Any]] = {}
    for plugin, route in pairs:
        if not isinstance(route, Route) or not route.include_in_schema:
            continue
        found = operation_of(route.endpoint)
        path, parameters = _path_of(route.path)
        plugin_info = kernel.plugin_info(plugin) if hasattr(kernel, "plugin_info") else None
        tags.setdefault(plugin, _tag_text(plugin_info))
        for method in sorted(route.methods or ["GET"]):
            if method == "HEAD":
                continue
            entry: dict[str, Any] = {"tags": [plugin], "operationId": _operation_id(method, path),
                                     "summary": found.summary if found else "",
                                     "description": (found.description if found else "") or "",
                                     "responses": {}}
            if parameters:
                entry["parameters"] = list(parameters)
            if found is None:
                entry["responses"]["default"] = {"description": "Not declared by the plugin."}
                paths.setdefault(path, {})[method.lower()] = entry
                continue
            for where, query in [("query", q) for q in found.query] + [("header", h) for h in found.headers]:
                param: dict[str, Any] = {"name": query.name, "in": where, "required": query.required,
                                         "description": query.description}
                entry.setdefault("parameters", []).append(param)
                bounds_of[id(param)] = {"minimum": query.minimum, "maximum": query.maximum}
                slots.append((param, "schema", query.type))
                types.append(query.type)
            example = dict(examples.get((method, _bare(path, kernel, plugin)), {}))
            if found.body is not None:
                media: dict[str, Any] = {}
                entry["requestBody"] = {"required": found.body_required, "content": {"application/json": media}}
                slots.append((media, "schema", found.body))
                types.append(found.body)
                for label in ("request", "any"):
                    if label in example:
                        media["example"] = example.pop(label)
                        break
            for status, answer in sorted(found.responses.items()):
                response: dict[str, Any] = {"description": _status_text(status)}
                if isinstance(answer, Content):
                    response["description"] = answer.description or response["description"]
                    response["content"] = {}
                    for media_type, kind in answer.media_types.items():
                        holder: dict[str, Any] = {}
                        response["content"][media_type] = holder
                        slots.append((holder, "schema", kind))
                        types.append(kind)
                elif answer is not None:
                    holder = {}
                    response["content"] = {"application/json": holder}
                    slots.append((holder, "schema", answer))
                    types.append(answer)
                    for label in (str(status), "any"):
                        if label in example and 200 <= status < 300:
                            holder["example"] = example.pop(label)
                            break
                if found.links and 200 <= status < 300 and "content" in response:
                    prefix = kernel.settings.plugin_prefix(plugin) if hasattr(kernel, "settings") else ""
                    response["links"] = {
                        name: {"operationId": _operation_id(target.split(" ", 1)[0], prefix + target.split(" ", 1)[1]),
                               "parameters": dict(parameters)}
                        for name, (target, parameters) in found.links.items()}
                entry["responses"][str(status)] = response
            for status in sorted(_problem_statuses(found, bool(parameters))):
                entry["responses"].setdefault(str(status), {
                    "description": _status_text(status),
                    "content": {"application/problem+json": {"schema": _PROBLEM_REF}}})
            if not found.public:
                entry["security"] = list(_SECURITY)
            else:
                entry["security"] = []
            paths.setdefault(path, {})[method.lower()] = entry
    schemas, components = msgspec.json.schema_components(types, ref_template="#/components/schemas/{name}")
    by_type = dict(zip(map(_key, types), schemas, strict=True))
    for holder, key, kind in slots:
        holder[key] = dict(by_type[_key(kind)])
    for param in (p for methods in paths.values() for op in methods.values() for p in op.get("parameters", ())):
        bounds = bounds_of.get(id(param), {})
        param["schema"].update({k: v for k, v in bounds.items() if v is not None})
    for holder, _, _ in slots:
        if "example" in holder and not _fits(holder["example"], holder["schema"], components):
            del holder["example"]  # a block under the heading that shows something else (one item of a list)
    # Request bodies are structured strictly (an unknown member is a 422): say so in their schemas.
    _close(components, [op["requestBody"]["content"]["application/json"]["schema"]
                        for methods in paths.values() for op in methods.values() if "requestBody" in op])
    return {
        "openapi": "3.1.0",
        "info": {"title": "Roleplay API", "version": _version(),
                 "description": "Role-play conversation training. Errors are RFC 9457 problem details "
                                "(application/problem+json). Lists answer {\"items\": [...], \"next_cursor\": ...}. "
                                "The WebSocket protocols are described at /asyncapi.json."},
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "tags": [{"name": name, "description": tags[name]} for name in sorted(tags, key=lambda n: (n != "core", n))],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                               "description": "An access token from POST /auth/login or /auth/register."},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                           "description": "A service account's key (rp_...), from POST /auth/service-accounts."},
            },
        },
    }


def _fits(example: Any, schema: dict[str, Any], components: dict[str, Any]) -> bool:
    """Whether a docs example has at least the shape of ``schema``: an object with every required member."""
    ref = schema.get("$ref", "")
    if ref.startswith("#/components/schemas/"):
        schema = components.get(ref.rsplit("/", 1)[1], {})
    if schema.get("type") != "object":
        return True
    return isinstance(example, dict) and set(schema.get("required", ())) <= set(example)


def _close(components: dict[str, Any], roots: list[Any]) -> None:
    """``additionalProperties: false`` on every object schema reachable from ``roots`` (the request bodies)."""
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            name = ref.rsplit("/", 1)[1]
            if name not in seen:
                seen.add(name)
                stack.append(components[name])
            continue
        if node.get("type") == "object" and "properties" in node:
            node.setdefault("additionalProperties", False)
            if node.get("required") == []:
                del node["required"]  # nothing required: say nothing (some tools misread an empty list)
        stack.extend(v for k, v in node.items() if k not in ("default", "examples", "example"))


def _key(kind: Any) -> Any:
    try:
        hash(kind)
        return kind
    except TypeError:
        return repr(kind)


def _problem_statuses(found: Operation, has_path_params: bool) -> set[int]:
    statuses = set(found.problems) | {503}
    if not found.public:
        statuses.add(401)
    if found.body is not None:
        statuses |= {400, 413, 415, 422}
    if found.query or found.headers:
        statuses.add(422)
    if has_path_params:
        statuses.add(404)
    return statuses


def _path_of(path: str) -> tuple[str, list[dict[str, Any]]]:
    """A Starlette path (``/x/{n:int}``) as an OpenAPI path (``/x/{n}``) and its path parameters."""
    parameters = [{"name": name, "in": "path", "required": True, "schema": dict(_CONVERTORS.get(kind or "str",
                                                                                           {"type": "string"}))}
                  for name, kind in _PARAM.findall(path)]
    return _PARAM.sub(lambda m: "{" + m.group(1) + "}", path), parameters


def _operation_id(method: str, path: str) -> str:
    words = [w for w in re.split(r"[^a-zA-Z0-9]+", path) if w]
    return "_".join([method.lower(), *words]) or method.lower()


def _status_text(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return str(status)


def _tag_text(info: Any) -> str:
    if info is None or info.name == "core":
        return "The kernel's own routes: health, readiness, plugins, these documents."
    return f"Routes of the {info.name!r} plugin ({info.distribution or 'built in'})."


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("roleplay-core")
    except PackageNotFoundError:
        return "0"


# -- examples from docs/api/*.md ----------------------------------------------------------------

_HEADING = re.compile(r"^#{2,4} `(GET|POST|PUT|PATCH|DELETE) (/[^`?\s]*)[^`]*`", re.MULTILINE)
_BLOCK = re.compile(r"```json\n(.*?)\n```", re.DOTALL)


@functools.lru_cache(maxsize=4)
def _examples_in(folder: str) -> dict[tuple[str, str], dict[str, Any]]:
    """``{(method, path): {label: example}}`` from the fenced JSON blocks under each route heading.

    A block may hold several parts, each after a ``// request`` or ``// 201`` line (the label); a
    block without labels is ``"any"``. Parts that are not JSON (illustrations with ``...``) are skipped.
    """
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for page in sorted(Path(folder).glob("*.md")):
        text = page.read_text(encoding="utf-8")
        headings = list(_HEADING.finditer(text))
        for i, heading in enumerate(headings):
            end = headings[i + 1].start() if i + 1 < len(headings) else len(text)
            section = text[heading.end():end].split("\n## ", 1)[0]
            examples = found.setdefault((heading.group(1), re.sub(r"{[^}]+}", "{}", heading.group(2))), {})
            for block in _BLOCK.finditer(section):
                for label, part in _parts(block.group(1)):
                    try:
                        examples.setdefault(label, json.loads(part))
                    except ValueError:
                        continue  # an illustration with "..." in it, not an example
    return {key: value for key, value in found.items() if value}


def _parts(block: str) -> list[tuple[str, str]]:
    parts: list[tuple[str, list[str]]] = [("any", [])]
    for line in block.split("\n"):
        label = re.match(r"^//\s*(request|\d{3})\b", line.strip())
        if label:
            parts.append((label.group(1), []))
        else:
            parts[-1][1].append(line)
    return [(label, "\n".join(lines)) for label, lines in parts if "".join(lines).strip()]


def _doc_examples(kernel: Any) -> dict[tuple[str, str], Any]:
    """Examples from ``docs/api`` when the docs sit next to the code (a checkout; a wheel has none)."""
    folder = Path(__file__).resolve().parent.parent / "docs" / "api"
    return _examples_in(str(folder)) if folder.is_dir() else {}


def _bare(path: str, kernel: Any, plugin: str) -> str:
    """``path`` without the plugin's configured prefix, its parameters as ``{}`` (how the docs name it)."""
    prefix = kernel.settings.plugin_prefix(plugin) if hasattr(kernel, "settings") else ""
    if prefix and path.startswith(prefix):
        path = path[len(prefix):] or "/"
    return re.sub(r"{[^}]+}", "{}", path)
