"""The bare Starlette app that ``benchmarks/serve_paths.py`` serves beside ``roleplay serve``.

Started with ``uvicorn bare:app --app-dir benchmarks/serve``: no middleware, the four
benchmarked paths answering small JSON bodies, nothing read or written. This is the
ceiling (uvicorn, Starlette routing, a response), the "1.0x" of every ratio.
"""

import os

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route


async def healthz(request):
    return JSONResponse({"status": "ok"})


async def me(request):
    return JSONResponse({"id": "u1", "email": "bench@example.org", "display_name": "Bench", "roles": ["user"]})


async def session(request):
    return JSONResponse({"id": request.path_params["session_id"], "status": "active", "messages": []})


async def message(request):
    body = await request.body()
    return JSONResponse({"seq": 1, "role": "assistant", "text": "ok", "received": len(body)}, status_code=201)


if os.environ.get("BARE_HEADERS") == "1":
    # "bare+headers": the response headers roleplay must send on every answer (CORS's Vary, nosniff
    # and the request id), so a comparison can tell their cost from the rest of the gap.
    _init_headers = JSONResponse.init_headers

    def init_headers(self, headers=None):
        _init_headers(self, headers)
        self.raw_headers += [(b"vary", b"Origin"), (b"x-content-type-options", b"nosniff"),
                             (b"x-request-id", os.urandom(16).hex().encode())]

    JSONResponse.init_headers = init_headers

app = Starlette(routes=[
    Route("/healthz", healthz, methods=["GET"]),
    Route("/auth/me", me, methods=["GET"]),
    Route("/chat/sessions/{session_id}", session, methods=["GET"]),
    Route("/chat/sessions/{session_id}/messages", message, methods=["POST"]),
])
