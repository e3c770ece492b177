"""The kernel's ``/docs`` page (roleplay_core/docs_page) in headless Chromium: it renders both API documents.

Here because the browser harness lives here; the page itself is the kernel's, with no dependency
on this plugin. One launch: every HTTP operation and every socket frame shows, the filter works,
no script error, and nothing is fetched from another origin (the page works offline).
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from web_support import Browser, Server, chromium_binary, requires_api

pytestmark = [requires_api, pytest.mark.slow, pytest.mark.browser]


def test_the_docs_page_renders_openapi_and_asyncapi_offline():
    binary = chromium_binary()
    if binary is None:
        pytest.skip("no `chromium` on PATH: the browser test needs headless Chromium (apt-get install chromium)")
    with Server({"storage.backend": "memory"}) as server:
        openapi = httpx.get(server.url + "/openapi.json").json()
        asyncapi = httpx.get(server.url + "/asyncapi.json").json()
        operations = sum(len(methods) for methods in openapi["paths"].values())
        frames = sum(len(op["messages"]) for op in asyncapi["operations"].values())
        asyncio.run(asyncio.wait_for(render(binary, server.url, operations, frames), 60))


async def render(binary: str, url: str, operations: int, frames: int) -> None:
    async with Browser(binary) as browser:
        page = await browser.page()
        await page.goto(url + "/docs")
        await page.wait_for(f"document.querySelectorAll('#http details').length === {operations}", what="operations")
        await page.wait_for(f"document.querySelectorAll('#sockets details').length === {frames}", what="frames")
        assert await page.eval("document.querySelector('#http h3').textContent") == "core"
        # An operation opens onto its schemas, with the $refs resolved.
        text = await page.eval("""(() => {
            const item = [...document.querySelectorAll('#http details')]
              .find(d => d.dataset.text.startsWith('post /chat/sessions '));
            item.open = true; return item.innerText; })()""")
        assert "scenario_id" in text and "Request body (application/json)" in text and "$ref" not in text
        await page.eval("const f = document.getElementById('filter'); f.value = 'evaluations';"
                        "f.dispatchEvent(new Event('input')); 0")
        shown = await page.eval("[...document.querySelectorAll('#http details')].filter(d => !d.hidden).length")
        assert shown == 5
        assert page.console_errors() == []
        assert [u for u in page.request_urls() if not u.startswith(url)] == []
