"""Test helpers: the full app on uvicorn on loopback, and headless Chromium driven over the
Chrome DevTools protocol (plain ``websockets``; no browser-automation library)."""

from __future__ import annotations

import asyncio
import base64
import importlib.metadata
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import uvicorn
import websockets

from roleplay_core.testing import make_app

STATIC = Path(__file__).resolve().parents[1] / "roleplay_web" / "static"

#: The API this client calls belongs to these plugins; found by entry point (as the kernel finds
#: them), never imported.
API_PLUGINS = ("auth", "chat", "evaluator")
MISSING = [name for name in API_PLUGINS if not importlib.metadata.entry_points(group="roleplay", name=name)]
requires_api = pytest.mark.skipif(bool(MISSING), reason=f"needs the roleplay-{', roleplay-'.join(MISSING)} plugin(s) "
                                  "installed: the client calls their API (nox -s tests installs them)")

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-extensions", "--disable-default-apps", "--mute-audio", "--remote-debugging-port=0",
    "--window-size=1280,900",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``make_app(overrides)`` (every installed plugin) on uvicorn on 127.0.0.1, in a thread."""

    def __init__(self, overrides: Mapping[str, Any] | None = None) -> None:
        self.port = free_port()
        self.app = make_app(overrides)
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(15)


def chromium_binary() -> str | None:
    return shutil.which("chromium")


class Browser:
    """One headless Chromium with a fresh profile; :meth:`page` opens a tab driven over CDP."""

    def __init__(self, binary: str, extra_flags: list[str] | None = None) -> None:
        self.binary = binary
        self.extra_flags = list(extra_flags or [])
        # Chromium's helper processes may still write to the profile as it exits: cleanup tolerates that.
        self.profile = tempfile.TemporaryDirectory(prefix="roleplay-web-chromium-", ignore_cleanup_errors=True)
        self.process: subprocess.Popen | None = None
        self.ws: Any = None
        self.next_id = 0
        self.pending: dict[int, asyncio.Future] = {}
        self.events: list[dict[str, Any]] = []
        self.reader: asyncio.Task | None = None

    def _launch(self, profile: Path) -> subprocess.Popen:
        with open(profile / "chromium.log", "wb") as log:
            return subprocess.Popen([self.binary, *CHROMIUM_FLAGS, *self.extra_flags, f"--user-data-dir={profile}",
                                     "about:blank"],
                                    stdout=log, stderr=log, stdin=subprocess.DEVNULL)

    async def __aenter__(self) -> Browser:
        profile = Path(self.profile.name)
        self.process = self._launch(profile)
        active = profile / "DevToolsActivePort"  # Chromium writes its port and path here
        deadline = time.monotonic() + 30
        while not (active.exists() and len(active.read_text().splitlines()) >= 2):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"chromium did not start: {(profile / 'chromium.log').read_text()[-2000:]}")
            await asyncio.sleep(0.05)
        port, path = active.read_text().splitlines()[:2]
        self.ws = await websockets.connect(f"ws://127.0.0.1:{port}{path}", max_size=None)
        self.reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.reader is not None:
            self.reader.cancel()
        if self.ws is not None:
            await self.ws.close()
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        for _ in range(20):  # Chromium's helpers may write to the profile for a moment after it exits
            try:
                shutil.rmtree(self.profile.name)
                break
            except FileNotFoundError:
                break
            except OSError:
                await asyncio.sleep(0.1)
        self.profile.cleanup()

    async def _read(self) -> None:
        async for raw in self.ws:
            message = json.loads(raw)
            future = self.pending.pop(message.get("id", -1), None)
            if future is not None:
                if "error" in message:
                    future.set_exception(RuntimeError(f"CDP error: {message['error']}"))
                else:
                    future.set_result(message.get("result", {}))
            else:
                self.events.append(message)

    async def send(self, method: str, params: Mapping[str, Any] | None = None, session: str | None = None) -> dict:
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": dict(params or {})}
        if session:
            message["sessionId"] = session
        future = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = future
        await self.ws.send(json.dumps(message))
        return await asyncio.wait_for(future, 30)

    async def page(self) -> Page:
        target = await self.send("Target.createTarget", {"url": "about:blank"})
        attached = await self.send("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True})
        page = Page(self, attached["sessionId"])
        for domain in ("Page", "Runtime", "Log", "Network"):
            await page.send(f"{domain}.enable")
        return page


class Page:
    """One tab: evaluate, wait for, type, click, screenshot; its CDP events for assertions."""

    def __init__(self, browser: Browser, session: str) -> None:
        self.browser = browser
        self.session = session

    async def send(self, method: str, params: Mapping[str, Any] | None = None) -> dict:
        return await self.browser.send(method, params, self.session)

    def events(self, method: str) -> list[dict[str, Any]]:
        return [e["params"] for e in self.browser.events if e.get("sessionId") == self.session and e["method"] == method]

    async def goto(self, url: str) -> None:
        await self.send("Page.navigate", {"url": url})

    async def eval(self, expression: str) -> Any:
        result = await self.send("Runtime.evaluate", {"expression": expression, "awaitPromise": True,
                                                      "returnByValue": True})
        if "exceptionDetails" in result:
            raise AssertionError(f"page script failed: {result['exceptionDetails']}\n{expression}")
        return result["result"].get("value")

    async def wait_for(self, expression: str, seconds: float = 20.0, what: str = "") -> Any:
        """Poll ``expression`` until it is truthy; on timeout fail with the page's visible text."""
        deadline = time.monotonic() + seconds
        probe = f"(() => {{ const v = ({expression}); return v instanceof Node ? true : v; }})()"
        while True:
            try:
                value = await self.eval(probe)
            except AssertionError:
                value = None  # e.g. during a navigation
            if value:
                return value
            if time.monotonic() > deadline:
                text = await self.eval("document.body ? document.body.innerText.slice(0, 3000) : ''")
                raise AssertionError(f"timed out waiting for {what or expression}\npage text:\n{text}")
            await asyncio.sleep(0.1)

    async def fill(self, selector: str, value: str) -> None:
        """Focus the field and type ``value`` through the keyboard input path."""
        await self.eval(f"(() => {{ const el = document.querySelector({json.dumps(selector)}); el.focus(); "
                        f"el.value = ''; return true; }})()")
        await self.send("Input.insertText", {"text": value})

    async def click(self, selector: str) -> None:
        await self.eval(f"document.querySelector({json.dumps(selector)}).click()")

    async def press_enter(self) -> None:
        for kind in ("rawKeyDown", "char", "keyUp"):
            params = {"type": kind, "key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13}
            if kind == "char":
                params["text"] = "\r"
            await self.send("Input.dispatchKeyEvent", params)

    async def screenshot(self, path: Path, width: int = 1100) -> None:
        height = await self.eval("Math.ceil(document.documentElement.scrollHeight)")
        await self.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": int(height),
                                                               "deviceScaleFactor": 1, "mobile": False})
        shot = await self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
        await asyncio.to_thread(path.write_bytes, base64.b64decode(shot["data"]))
        await self.send("Emulation.clearDeviceMetricsOverride")

    def request_urls(self) -> list[str]:
        urls = [e["request"]["url"] for e in self.events("Network.requestWillBeSent")]
        return urls + [e["url"] for e in self.events("Network.webSocketCreated")]

    def console_errors(self) -> list[str]:
        """Script exceptions and console errors, leaving out the network log of refused requests."""
        found = [json.dumps(e["exceptionDetails"])[:500] for e in self.events("Runtime.exceptionThrown")]
        found += [e["entry"]["text"] for e in self.events("Log.entryAdded")
                  if e["entry"]["level"] == "error" and e["entry"].get("source") != "network"]
        found += [json.dumps(e["args"])[:500] for e in self.events("Runtime.consoleAPICalled") if e["type"] == "error"]
        return found


#: Screenshots of every view the browser test visits, at each width: kept as test artefacts
#: (git ignores the folder; CI may upload it). ROLEPLAY_WEB_ARTIFACTS moves them.
ARTIFACTS = Path(os.environ.get("ROLEPLAY_WEB_ARTIFACTS") or Path(__file__).parent / "artifacts")

#: Desktop, then the two phone widths a new user hit problems at.
WIDTHS = (1280, 390, 375)

#: How many rows the header's pieces (brand, nav links, account) sit on.
HEADER_ROWS = """(() => {
  const pieces = [...document.querySelectorAll('.topbar .brand, .topbar nav a, .topbar #who, .topbar #sign-out, .topbar #ui-language')]
    .filter((e) => e.getClientRects().length);
  const tops = pieces.map((e) => e.getBoundingClientRect().top).sort((a, b) => a - b);
  let rows = 0, last = -1e9;
  for (const top of tops) { if (top - last > 12) { rows += 1; last = top; } }
  return rows;
})()"""


#: Pairs of header pieces that overlap on screen (an ellipsis may cut text; nothing may sit on top).
HEADER_OVERLAPS = """(() => {
  const pieces = [...document.querySelectorAll('.topbar .brand, .topbar nav, .topbar #ui-language, .topbar #who, .topbar #sign-out')]
    .filter((e) => e.getClientRects().length).map((e) => [e.id || e.className || e.tagName, e.getBoundingClientRect()]);
  const found = [];
  pieces.forEach(([a, r], i) => pieces.slice(i + 1).forEach(([b, s]) => {
    if (r.left < s.right - 1 && s.left < r.right - 1 && r.top < s.bottom - 1 && s.top < r.bottom - 1) found.push(`${a} / ${b}`);
  }));
  return found;
})()"""


async def check_view(page: Page, name: str, extra: str | None = None, what: str = "", phone: str | None = None) -> None:
    """At each of :data:`WIDTHS`: nothing scrolls sideways, the header takes at most two rows on a
    phone, ``extra`` (a JS expression) holds, and ``phone`` too at phone widths; a full-page
    screenshot goes to :data:`ARTIFACTS`."""
    await asyncio.to_thread(ARTIFACTS.mkdir, parents=True, exist_ok=True)
    try:
        for width in WIDTHS:
            small = width < 600
            await page.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": 700 if small else 900,
                                                                   "deviceScaleFactor": 1, "mobile": small})
            await page.wait_for(f"document.documentElement.scrollWidth <= {width}",
                                what=f"no sideways scrolling at {width} px on {name}")
            if small:
                rows = await page.eval(HEADER_ROWS)
                assert rows <= 2, f"the header wraps to {rows} rows at {width} px on {name}"
            overlaps = await page.eval(HEADER_OVERLAPS)
            assert overlaps == [], f"header pieces overlap at {width} px on {name}: {overlaps}"
            for check in (extra, phone if small else None):
                if check:
                    await page.wait_for(check, 5, what=f"{what or check} at {width} px on {name}")
            height = await page.eval("Math.ceil(document.documentElement.scrollHeight)")
            shot = await page.send("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": width, "height": min(int(height), 8000), "scale": 1}})
            path = ARTIFACTS / f"{name}-{width}.png"
            await asyncio.to_thread(path.write_bytes, base64.b64decode(shot["data"]))
    finally:
        await page.send("Emulation.clearDeviceMetricsOverride")


JWT_LIKE = re.compile(r"eyJ[A-Za-z0-9_-]{10,}")
