"""The security headers of every response this plugin serves, and a pure-ASGI layer that adds them.

The policy allows only this origin: scripts and styles come from files (no inline script,
no inline style, no ``eval``), requests go to this origin over HTTP(S) or WebSocket, nothing
may frame the page. Markup is never built from strings in the client, so even text that
slipped past escaping could not run.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "font-src 'self'",
    # 'self' covers same-origin ws: in current browsers, but not in every older one.
    "connect-src 'self' ws: wss:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])

SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    # The page's URL may carry sign-in tokens in its fragment for a moment (OAuth); browsers never
    # send fragments in Referer, and no-referrer keeps even the path to ourselves.
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    # Revalidate on every load (ETag / Last-Modified), so a deploy is seen at once.
    "Cache-Control": "no-cache",
}

_RAW = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in SECURITY_HEADERS.items()]


class SecurityHeaders:
    """Wraps an ASGI app; adds :data:`SECURITY_HEADERS` to each HTTP response it starts.

    A header the app already set is replaced, so the policy cannot be weakened by accident.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                ours = {name for name, _ in _RAW}
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() not in ours]
                message["headers"] = headers + _RAW
            await send(message)

        await self.app(scope, receive, send_with_headers)
