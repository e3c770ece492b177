"""The request hot path is faster, not different.

``KernelMiddleware`` is one layer where there were four: it applies Starlette's CORS
policy to raw header lists, skips body counting where HTTP/1.x framing already bounds
the body, and sets the request id and the user in one pass over the headers. ``JSON``
renders through the C encoder directly. Each is checked here against what it replaces:
Starlette's own ``CORSMiddleware`` message for message, ``json.dumps`` byte for byte.
"""

import asyncio
import datetime as dt
import itertools
import json
import math
import re

import attrs
import pytest
from starlette.middleware.cors import CORSMiddleware as StarletteCORS
from starlette.testclient import TestClient

from roleplay_core import JSON, Anonymous, Principal, TokenService, converter
from roleplay_core.middleware import KernelMiddleware, request_id_var

TOKENS = TokenService(secret="middleware-test-secret-0123456789abcdef")


def kernel_layer(app, cors=None, max_bytes=1_000_000):
    return KernelMiddleware(app, tokens=lambda: TOKENS, max_bytes=max_bytes, cors=cors)


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
        scope = http_scope(method, [*request_headers, (b"x-request-id", b"req-1")])
        ours = run_asgi(kernel_layer(inner(list(response_headers)), config), dict(scope))
        theirs = run_asgi(StarletteCORS(inner(list(response_headers)), **config), dict(scope))
        # The request id comes last, as when a request-id layer sat outside the CORS layer, after
        # the kernel's X-Content-Type-Options (issue 13), which Starlette's CORS layer does not add.
        assert ours[0]["headers"][-2:] == [(b"x-content-type-options", b"nosniff"), (b"x-request-id", b"req-1")]
        ours[0]["headers"] = ours[0]["headers"][:-2]
        assert ours == theirs, (config, method, request_headers, response_headers)
        cases += 1
    assert cases == len(REQUESTS) * len(RESPONSES)


def test_cors_does_not_touch_the_response_s_own_header_list():
    shared = [(b"content-type", b"text/plain")]
    run_asgi(kernel_layer(inner(shared), {"allow_origins": ["*"]}), http_scope(headers=[(b"origin", b"https://a.b")]))
    assert shared == [(b"content-type", b"text/plain")]


def test_request_id_is_taken_when_sane_made_otherwise_and_set_while_the_app_runs():
    seen = []

    async def app(scope, receive, send):
        seen.append((scope["request_id"], request_id_var.get()))
        await inner([])(scope, receive, send)

    for given, kept in ((b"abc-1.2_3", True), (b"bad id", False), (b"x" * 65, False), (None, False)):
        headers = [(b"x-request-id", given)] if given is not None else []
        sent = run_asgi(kernel_layer(app), http_scope(headers=headers))
        echoed = dict(sent[0]["headers"])[b"x-request-id"]
        scope_id, context_id = seen.pop()
        assert scope_id == context_id == echoed.decode()
        if kept:
            assert echoed == given
        else:
            assert re.fullmatch(rb"[0-9a-f]{32}", echoed), echoed  # a fresh uuid4 hex

    async def same_task():  # the id must not leak into what the task runs next
        layer = kernel_layer(app)
        for _ in range(2):
            await layer(http_scope(headers=[(b"x-request-id", b"r-1")]), None, _discard)
            assert request_id_var.get() is None

    asyncio.run(same_task())


async def _discard(message):
    pass


def test_authentication_sets_the_user_or_the_reason():
    users = []

    async def app(scope, receive, send):
        users.append(scope["user"])
        await inner([])(scope, receive, send)

    token = TOKENS.issue("u1", ["scripter"])
    cases = [
        [],
        [(b"authorization", b"Bearer " + token.encode())],
        [(b"authorization", b"bearer  " + token.encode() + b" ")],
        [(b"authorization", b"Basic dTpw")],
        [(b"authorization", b"Bearer ")],
        [(b"authorization", b"Bearer not-a-jwt")],
    ]
    for headers in cases:
        run_asgi(kernel_layer(app), http_scope(headers=headers))
    anonymous, good, lenient, basic, empty, junk = users
    assert isinstance(anonymous, Anonymous) and anonymous.reason is None
    assert isinstance(good, Principal) and good.id == "u1" and good.roles == ("scripter",)
    assert lenient == good
    assert isinstance(basic, Anonymous) and "Bearer" in basic.reason
    assert isinstance(empty, Anonymous) and "Bearer" in empty.reason
    assert isinstance(junk, Anonymous) and "malformed" in junk.reason


def test_websockets_get_a_request_id_and_no_user_yet():
    scopes = []

    async def app(scope, receive, send):
        scopes.append(dict(scope, context_id=request_id_var.get()))

    token = TOKENS.issue("u1")
    scope = {"type": "websocket", "path": "/ws", "headers": [(b"authorization", b"Bearer " + token.encode()),
                                                             (b"x-request-id", b"ws-1")]}
    asyncio.run(kernel_layer(app)(scope, None, None))
    assert scopes[0]["request_id"] == scopes[0]["context_id"] == "ws-1"
    assert isinstance(scopes[0]["user"], Anonymous)  # a token in a header is not how sockets sign in


def test_a_413_by_header_carries_cors_and_the_request_id():
    sent = run_asgi(kernel_layer(inner([]), {"allow_origins": ["https://app.example.org"]}, max_bytes=10),
                    http_scope("POST", [(b"content-length", b"11"), (b"origin", b"https://app.example.org"),
                                        (b"x-request-id", b"r-413")]), [b"x" * 11])
    headers = dict(sent[0]["headers"])
    assert sent[0]["status"] == 413
    assert headers[b"access-control-allow-origin"] == b"https://app.example.org"
    assert headers[b"vary"] == b"Origin" and headers[b"x-request-id"] == b"r-413"


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

    return kernel_layer(app, max_bytes=limit)


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


@attrs.frozen
class Card:
    name: str
    tags: tuple[str, ...] = ()
    at: dt.datetime | None = None
    score: float = 0.0


@pytest.mark.parametrize("value", [
    {"id": "u1", "roles": ["user"]},
    Card("Zoë \u2028 \"quoted\"", ("a", "b"), dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC), 2.5),
    [Card("x"), {"nested": [Card("y", at=dt.datetime(2026, 1, 1))]}, None, True, 1, -0.0],
    {"nan": math.nan, "inf": math.inf, 3: "int key", "set": {1}, "date": dt.date(2026, 1, 1)},
    "just a string",
    [],
])
def test_json_renders_exactly_as_json_dumps(value):
    def documented(other):  # what JSON has no form for: a set as a sorted array, anything else its text
        return sorted(other, key=str) if isinstance(other, (set, frozenset)) else str(other)

    expected = json.dumps(converter.unstructure(value), ensure_ascii=False, separators=(",", ":"), default=documented)
    assert JSON(value).body == expected.encode("utf-8")


def test_the_c_encoder_path_is_in_use_and_circular_data_is_still_refused():
    from roleplay_core import serialization

    assert serialization._dumps is not serialization._ENCODER.encode  # CPython: the fast path is on
    loop = []
    loop.append(loop)
    with pytest.raises(RecursionError):  # unstructure meets the cycle first, as it did before
        JSON({"loop": loop})


def test_json_renders_the_same_from_many_threads():
    from concurrent.futures import ThreadPoolExecutor

    values = [{"n": n, "items": [Card(f"c{n}-{i}", ("t",) * (n % 3)) for i in range(n % 7)]} for n in range(200)]
    expected = [json.dumps(converter.unstructure(v), ensure_ascii=False, separators=(",", ":")).encode()
                for v in values]
    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(lambda v: JSON(v).body, values * 5)) == expected * 5


def test_made_request_ids_do_not_repeat_across_reseeds_or_forks():
    import os
    import random

    from roleplay_core.middleware import _new_request_id

    random.seed(7)
    first = _new_request_id()
    random.seed(7)  # someone else's seeding must not replay the ids
    assert _new_request_id() != first
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.write(write, _new_request_id().encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 64)
    os.close(read)
    os.close(write)
    assert len(child) == 32 and child.decode() != _new_request_id()
