"""The API's own description: ``/openapi.json``, ``/asyncapi.json`` and the ``/docs`` page that renders both.

``/openapi.json`` comes from :mod:`roleplay_core.openapi` (the HTTP routes); ``/asyncapi.json``
(AsyncAPI 3.0) from the :func:`channel` declarations on WebSocket handlers: the frames a client
sends and the frames the server sends, as attrs classes. ``/docs`` is a small page of this
package (``docs_page/``: HTML, CSS and a dependency-free script) that fetches both documents
and renders them, so it works offline and under a strict Content-Security-Policy. All three
answer only while ``docs.enabled`` is true (development and beta; off in production).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import attrs
import msgspec
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route, WebSocketRoute

from .errors import Problem
from .openapi import ATTRIBUTE, Content, _docstring, _path_of, _version, openapi_document, operation, operation_of
from .serialization import JSON

F = TypeVar("F", bound=Callable[..., Any])

PAGE = Path(__file__).parent / "docs_page"
#: Files of the page, by the name under ``/docs/`` (nothing else is served from the folder).
PAGE_FILES = {"docs.js": "text/javascript", "docs.css": "text/css"}
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                               "img-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@attrs.frozen(kw_only=True)
class Channel:
    """What one WebSocket route exchanges: frames the client ``receives`` from the server are
    ``sends`` (the server's point of view, as AsyncAPI describes the application), and the
    frames it accepts are ``receives``. Each is a tuple of attrs classes with a ``type`` field."""

    summary: str
    description: str = ""
    receives: tuple[Any, ...] = ()
    sends: tuple[Any, ...] = ()


def channel(summary: str, *, description: str = "", receives: Iterable[Any] = (),
           sends: Iterable[Any] = ()) -> Callable[[F], F]:
    """Declare the frames of the WebSocket handler under it (see :class:`Channel`)."""

    def mark(handler: F) -> F:
        setattr(handler, ATTRIBUTE, Channel(summary=summary, description=description or _docstring(handler),
                                           receives=tuple(receives), sends=tuple(sends)))
        return handler

    return mark


def asyncapi_document(kernel: Any, routes: Iterable[tuple[str, Any]] | None = None) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of ``kernel``'s WebSocket routes (prefixes applied)."""
    pairs = list(routes if routes is not None else kernel.owned_routes)
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    types: list[Any] = []
    for plugin, route in pairs:
        if not isinstance(route, WebSocketRoute):
            continue
        found = operation_of(route.endpoint)
        path, parameters = _path_of(route.path)
        name = "_".join(w for w in path.replace("{", "").replace("}", "").split("/") if w)
        channel: dict[str, Any] = {"address": path, "title": found.summary if isinstance(found, Channel) else "",
                                   "description": found.description if isinstance(found, Channel) else "",
                                   "messages": {}}
        if parameters:
            channel["parameters"] = {p["name"]: {"description": f"The {p['name'].replace('_', ' ')}."}
                                     for p in parameters}
        channels[name] = channel
        if not isinstance(found, Channel):
            continue
        for action, frames in (("receive", found.receives), ("send", found.sends)):
            refs = []
            for frame in frames:
                key = frame.__name__
                types.append(frame)
                messages[key] = {"name": key, "title": key, "summary": _docstring(frame),
                                 "contentType": "application/json",
                                 "payload": {"$ref": f"#/components/schemas/{key}"}}
                channel["messages"][key] = {"$ref": f"#/components/messages/{key}"}
                refs.append({"$ref": f"#/channels/{name}/messages/{key}"})
            if refs:
                operations[f"{name}_{action}"] = {
                    "action": action, "channel": {"$ref": f"#/channels/{name}"}, "tags": [{"name": plugin}],
                    "summary": ("Frames the client sends" if action == "receive" else "Frames the server sends"),
                    "messages": refs}
    _, schemas = msgspec.json.schema_components(types, ref_template="#/components/schemas/{name}")
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "Roleplay WebSocket API", "version": _version(),
                 "description": "JSON text frames, each an object with a \"type\". The first frame a client "
                                "sends is {\"type\": \"auth\", \"token\": ...}. The HTTP API is at /openapi.json."},
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }


# -- routes ---------------------------------------------------------------------------------


def _enabled(request: Request) -> Any:
    kernel = request.app.state.kernel
    if not kernel.settings.get("docs.enabled", False):
        raise Problem(404, "The API documents are switched off here (docs.enabled).")
    return kernel


@attrs.frozen(kw_only=True)
class ApiDocument:
    """A JSON document (OpenAPI 3.1 or AsyncAPI 3.0); its members are those specifications'."""

    info: dict[str, Any]


@operation("The OpenAPI 3.1 document of this server", public=True, responses={200: ApiDocument}, problems=(404,))
async def openapi_json(request: Request) -> Response:
    """Every HTTP route of every enabled plugin, with the configured prefixes. 404 when ``docs.enabled`` is off."""
    kernel = _enabled(request)
    document = kernel.state("core").setdefault("openapi", lambda: openapi_document(kernel))
    return JSON(document)


@operation("The AsyncAPI 3.0 document of this server's WebSockets", public=True, responses={200: ApiDocument},
           problems=(404,))
async def asyncapi_json(request: Request) -> Response:
    """The chat and voice socket protocols: the frames each side sends. 404 when ``docs.enabled`` is off."""
    kernel = _enabled(request)
    document = kernel.state("core").setdefault("asyncapi", lambda: asyncapi_document(kernel))
    return JSON(document)


@operation("The API documentation page", public=True, responses={200: Content({"text/html": str})}, problems=(404,))
async def docs_page(request: Request) -> Response:
    """A page rendering /openapi.json and /asyncapi.json, with nothing fetched from elsewhere."""
    _enabled(request)
    return FileResponse(PAGE / "index.html", media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


@operation("A file of the documentation page", public=True,
           responses={200: Content({"text/javascript": str, "text/css": str})}, problems=(404,))
async def docs_file(request: Request) -> Response:
    """The page's script or style sheet."""
    _enabled(request)
    name = request.path_params["name"]
    if name not in PAGE_FILES:
        raise Problem(404, "No such file.")
    return FileResponse(PAGE / name, media_type=PAGE_FILES[name], headers=PAGE_HEADERS)


def routes() -> list[Route]:
    return [
        Route("/openapi.json", openapi_json, methods=["GET"]),
        Route("/asyncapi.json", asyncapi_json, methods=["GET"]),
        Route("/docs", docs_page, methods=["GET"]),
        Route("/docs/{name}", docs_file, methods=["GET"]),
    ]
