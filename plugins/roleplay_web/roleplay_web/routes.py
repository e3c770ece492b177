"""Routes of the ``web`` plugin: ``GET /`` (the page), ``GET /capabilities`` and ``/app/...`` (its static files)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from roleplay_core import Content, operation

from . import capabilities, page
from .headers import SecurityHeaders

STATIC = Path(__file__).parent / "static"

#: The only files served, by extension, with an explicit type: the platform's MIME table is not
#: trusted (on some systems it maps .js to text/plain, which browsers refuse for modules).
MEDIA_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".png": "image/png",
    ".woff2": "font/woff2",
}


class StaticAssets(StaticFiles):
    """Starlette's ``StaticFiles`` (traversal checks, ETag, 304) limited to :data:`MEDIA_TYPES`."""

    def file_response(self, full_path: str | os.PathLike[str], stat_result: os.stat_result, scope: Scope,
                      status_code: int = 200):
        media_type = MEDIA_TYPES.get(Path(full_path).suffix.lower())
        if media_type is None:
            raise HTTPException(status_code=404)
        response = super().file_response(full_path, stat_result, scope, status_code)
        if response.status_code != 304:
            response.media_type = media_type
            response.headers["content-type"] = (
                f"{media_type}; charset=utf-8" if media_type.startswith("text/") else media_type)
        return response


def routes(kernel: Any) -> list[BaseRoute]:
    return [
        Route("/", operation("The web client's page", public=True, responses={200: Content({"text/html": str})})(
            page.endpoint(kernel)), methods=["GET"], name="web_page"),
        Route("/capabilities", operation("What the server can do that the page must know", public=True,
                                         responses={200: capabilities.Capabilities})(
            capabilities.endpoint(kernel)), methods=["GET"], name="web_capabilities"),
        Mount("/app", app=SecurityHeaders(StaticAssets(directory=STATIC)), name="web_static"),
    ]
