"""The one HTML page: ``templates/index.html`` with the title and API locations filled in, escaped."""

from __future__ import annotations

import html
import string
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from .headers import SECURITY_HEADERS

TEMPLATE = Path(__file__).parent / "templates" / "index.html"

#: The plugins whose routes the client calls; each may be mounted under ``plugins.<name>.prefix``.
API_PLUGINS = ("auth", "chat", "evaluator", "scripter")


def render(kernel: Any) -> str:
    """The page for this kernel's settings. Every value is HTML-escaped, quotes included."""
    settings = kernel.settings
    enabled = sorted(info.name for info in kernel.plugins if info.enabled)
    values = {
        "title": kernel.typed_settings("web").title.strip(),
        "base": settings.plugin_prefix("web"),
        "plugins": " ".join(enabled),
        **{f"api_{name}": settings.plugin_prefix(name) for name in API_PLUGINS},
    }
    template = string.Template(TEMPLATE.read_text(encoding="utf-8"))
    return template.substitute({key: html.escape(value, quote=True) for key, value in values.items()})


def endpoint(kernel: Any):
    """The endpoint of ``GET /``. The page is rendered once: settings do not change while running."""
    body = render(kernel)

    async def page(request: Request) -> Response:
        return HTMLResponse(body, headers=SECURITY_HEADERS)

    return page
