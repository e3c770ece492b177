"""The kernel's faster middleware paths answer exactly as the plain versions do.

``roleplay_core.middleware.CORSMiddleware`` re-implements Starlette's simple-request
path with raw headers; ``BodyLimitMiddleware`` skips counting where HTTP/1.x framing
already bounds the body. Both are checked here message for message against the
behaviour they replace.
"""

import asyncio
import itertools

import pytest
from starlette.middleware.cors import CORSMiddleware as StarletteCORS
from starlette.testclient import TestClient

from roleplay_core.middleware import BodyLimitMiddleware, CORSMiddleware


def run_asgi(app, scope, body_chunks=(b"",)):
    sent = []
    chunks = list(body_chunks)

    async def receive():
        chunk = chunks.pop(0) if chunks else b""
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def http_scope(method="GET", headers=(), http_version="1.1"):
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": http_version, "method": method,
            "scheme": "http", "path": "/x", "raw_path": b"/x", "root_path": "", "query_string": b"",
            "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1234), "headers": list(headers)}


def inner(response_headers):
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": response_headers})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


CONFIGS = [
    {"allow_origins": ["https://app.example.org"]},
    {"allow_origins": ["https://app.example.org"], "allow_credentials": True,
     "expose_headers": ["ETag", "X-Request-ID"]},
    {"allow_origins": ["*"]},
    {"allow_origins": ["*"], "allow_credentials": True, "expose_headers": ["ETag"]},
    {"allow_origin_regex": r"https://.*\.example\.org", "allow_methods": ["GET", "POST"],
     "allow_headers": ["Authorization"]},
]
REQUESTS = [
    ("GET", []),
    ("GET", [(b"origin", b"https://app.example.org")]),
    ("GET", [(b"origin", b"https://evil.example")]),
    ("POST", [(b"origin", b"https://sub.example.org"), (b"authorization", b"Bearer x")]),
    ("OPTIONS", [(b"origin", b"https://app.example.org"), (b"access-control-request-method", b"GET")]),
    ("OPTIONS", [(b"origin", b"https://evil.example"), (b"access-control-request-method", b"DELETE"),
                 (b"access-control-request-headers", b"authorization, x-custom")]),
    ("OPTIONS", [(b"origin", b"https://app.example.org")]),  # no request method: not a preflight
    ("OPTIONS", [(b"access-control-request-method", b"GET")]),  # no origin: not a preflight
]
RESPONSES = [
    [(b"content-type", b"text/plain")],
    [(b"content-type", b"text/plain"), (b"vary", b"Accept-Encoding")],
    [(b"vary", b"Accept-Encoding"), (b"content-length", b"2"), (b"vary", b"Cookie")],
    [(b"access-control-allow-origin", b"https://stale.example"), (b"access-control-expose-headers", b"X")],
]


@pytest.mark.parametrize("config", CONFIGS)
def test_cors_answers_exactly_as_starlette(config):
    cases = 0
    for (method, request_headers), response_headers in itertools.product(REQUESTS, RESPONSES):
        scope = http_scope(method, request_headers)
        ours = run_asgi(CORSMiddleware(inner(list(response_headers)), **config), dict(scope))
        theirs = run_asgi(StarletteCORS(inner(list(response_headers)), **config), dict(scope))
        assert ours == theirs, (config, method, request_headers, response_headers)
        cases += 1
    assert cases == len(REQUESTS) * len(RESPONSES)


def test_cors_does_not_touch_the_response_s_own_header_list():
    shared = [(b"content-type", b"text/plain")]
    run_asgi(CORSMiddleware(inner(shared), allow_origins=["*"]), http_scope(headers=[(b"origin", b"https://a.b")]))
    assert shared == [(b"content-type", b"text/plain")]


def echo_length(limit):
    async def app(scope, receive, send):
        total = 0
        while True:
            message = await receive()
            total += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = str(total).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(body))]})
        await send({"type": "http.response.body", "body": body})

    return BodyLimitMiddleware(app, max_bytes=limit)


@pytest.mark.parametrize(
    ("headers", "http_version", "chunks", "status"),
    [
        ([], "1.1", [b""], 200),  # HTTP/1.1, no length, no chunking: no body by framing
        ([(b"content-length", b"10")], "1.1", [b"x" * 10], 200),
        ([(b"content-length", b"11")], "1.1", [b"x" * 11], 413),  # refused by header
        ([(b"transfer-encoding", b"chunked")], "1.1", [b"x" * 6, b"x" * 6], 413),  # counted
        ([(b"transfer-encoding", b"chunked")], "1.1", [b"x" * 5, b"x" * 5], 200),
        ([], "2", [b"x" * 6, b"x" * 6], 413),  # HTTP/2 bodies need no Content-Length: counted
        ([(b"content-length", b"4"), (b"content-length", b"4")], "1.1", [b"x" * 6, b"x" * 6], 413),  # odd: counted
        ([(b"content-length", b"abc")], "1.1", [b"x" * 6, b"x" * 6], 413),  # odd: counted
    ],
)
def test_body_limit_counts_whenever_framing_does_not_bound_the_body(headers, http_version, chunks, status):
    sent = run_asgi(echo_length(10), http_scope("POST", headers, http_version), chunks)
    assert sent[0]["status"] == status
    if status == 413:
        assert dict(sent[0]["headers"])[b"content-type"] == b"application/problem+json"


def test_body_limit_end_to_end_by_header_and_by_stream():
    from starlette.routing import Route

    from roleplay_core import JSON, hookimpl, read_json
    from roleplay_core.testing import make_app

    class Echo:
        name = "echo"

        @hookimpl
        def register_routes(self):
            async def echo(request):
                return JSON({"got": await read_json(request)})

            return [Route("/echo", echo, methods=["POST"])]

    app = make_app({"server.max_body_bytes": 64}, plugins=[Echo()], load_entry_points=False)
    with TestClient(app) as client:
        assert client.post("/echo", json={"a": "x" * 10}).json() == {"got": {"a": "x" * 10}}
        assert client.post("/echo", json={"a": "x" * 100}).status_code == 413

        def stream():
            yield b'{"a": "'
            yield b"x" * 100
            yield b'"}'

        streamed = client.post("/echo", content=stream(), headers={"content-type": "application/json"})
        assert streamed.status_code == 413
        assert streamed.headers["content-type"] == "application/problem+json"
