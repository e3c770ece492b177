"""A local stand-in for an OpenAI-compatible server, for tests and benchmarks on loopback.

It speaks the documented wire shapes the real ``openai`` client uses:

- ``POST /v1/chat/completions``: a ``chat.completion`` JSON answer, or with ``"stream": true``
  server-sent events of ``chat.completion.chunk`` objects ending with ``data: [DONE]``;
  ``response_format`` ``json_schema`` (strict), ``json_object`` or none;
- Azure OpenAI's ``POST /openai/deployments/{deployment}/chat/completions?api-version=...``
  (key in the ``api-key`` header);
- ``GET /v1/models``;
- errors as ``{"error": {"message", "type", "code"}}`` with the HTTP status.

Its ``mode`` imitates a server family: ``"openai"`` accepts every response_format; ``"ollama"``
answers 400 to ``json_schema`` (as many local servers do); ``"plain"`` answers 400 to any
response_format, so only text answers are left. Knobs make it fail: ``fail_next`` statuses (a 429
carries ``Retry-After``), ``delay`` before answering (timeouts), ``cut_after`` chunks (a stream
cut mid-way) and ``judge_override`` (malformed answers).

Its "model" is deterministic: a reply is "<Name> hears you say: <last user line>", streamed
three words a chunk; a judgement scores every criterion listed in the prompt (80, 70, 60...)
quoting the first learner line verbatim.

Plain HTTP by default (as Ollama and llama.cpp serve); ``LocalOpenAI(tls=True)`` serves TLS with a
``trustme`` certificate, for ``openai.ca_file``. Run alone: ``python -m roleplay_openai.testserver``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import tempfile
import threading
import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

MODES = ("openai", "ollama", "plain")


class StreamCut(Exception):
    """Raised inside a streamed body to drop the connection mid-way."""


class FakeOpenAI:
    """The server's state and knobs; tests read what it saw and tune how it answers."""

    def __init__(self, api_key: str | None = "test-key") -> None:
        #: None: no key needed (a local server).
        self.api_key = api_key
        self.reset()
        self.app = Starlette(routes=[
            Route("/v1/chat/completions", self.chat, methods=["POST"]),
            Route("/openai/deployments/{deployment}/chat/completions", self.chat, methods=["POST"]),
            Route("/v1/models", self.models, methods=["GET"]),
        ])

    def reset(self) -> None:
        """Forget what was seen and restore every knob's default (tests share one server)."""
        self.mode = "openai"
        self.fail_next: list[int] = []
        self.retry_after = "0.05"
        self.delay = 0.0
        self.cut_after = 0
        self.judge_override: list[str] = []
        self.judge_scores: dict[str, float] = {}
        self.chunk_pause = 0.0
        self.requests: list[dict[str, Any]] = []
        self.arrivals: list[float] = []

    # -- helpers ------------------------------------------------------------

    def _authorised(self, request: Request) -> bool:
        if self.api_key is None:
            return True
        if "deployment" in request.path_params:
            return request.headers.get("api-key") == self.api_key
        return request.headers.get("authorization") == f"Bearer {self.api_key}"

    def judge_requests(self) -> list[dict[str, Any]]:
        """The judge calls seen (their system message speaks of criteria and scores)."""
        return [r for r in self.requests if "assessor" in _system(r["body"])]

    # -- routes ---------------------------------------------------------------

    async def models(self, request: Request) -> Response:
        if not self._authorised(request):
            return _error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
        return JSONResponse({"object": "list", "data": [{"id": "fake-model", "object": "model", "created": 0,
                                                         "owned_by": "roleplay"}]})

    async def chat(self, request: Request) -> Response:
        self.arrivals.append(time.monotonic())
        try:
            body = json.loads(await request.body())
        except json.JSONDecodeError:
            return _error(400, "We could not parse the JSON body of your request.", "invalid_request_error", None)
        self.requests.append({"body": body, "headers": dict(request.headers), "path": request.url.path,
                              "query": dict(request.query_params)})
        if not self._authorised(request):
            return _error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
        if self.fail_next:
            code = self.fail_next.pop(0)
            headers = {"retry-after": self.retry_after} if code == 429 else {}
            message = "Rate limit reached." if code == 429 else "The server had an error processing your request."
            return _error(code, message, "rate_limit_error" if code == 429 else "server_error", None, headers)
        kind = (body.get("response_format") or {}).get("type")
        if kind and (self.mode == "plain" or (self.mode == "ollama" and kind == "json_schema")):
            return _error(400, f"response_format type {kind!r} is not supported", "invalid_request_error", None)
        if kind == "json_schema":
            problem = _strict_problem(body["response_format"].get("json_schema", {}))
            if problem:
                return _error(400, f"Invalid schema for response_format: {problem}", "invalid_request_error", None)
        if self.delay:
            await asyncio.sleep(self.delay)
        text = self._answer(body, kind)
        if not body.get("stream"):
            return JSONResponse(_completion(text, body.get("model", "")))
        return StreamingResponse(self._events(text, body.get("model", "")), media_type="text/event-stream")

    async def _events(self, text: str, model: str):
        words = text.split(" ")
        pieces = [" ".join(words[i : i + 3]) + (" " if i + 3 < len(words) else "") for i in range(0, len(words), 3)]
        yield _sse(_chunk(model, {"role": "assistant", "content": ""}, None))
        for n, piece in enumerate(pieces):
            if self.cut_after and n >= self.cut_after:
                raise StreamCut("the stream is cut mid-way")  # uvicorn drops the connection
            yield _sse(_chunk(model, {"content": piece}, None))
            if self.chunk_pause:
                await asyncio.sleep(self.chunk_pause)
        yield _sse(_chunk(model, {}, "stop"))
        yield b"data: [DONE]\n\n"

    # -- the "model" ------------------------------------------------------------

    def _answer(self, body: dict[str, Any], kind: str | None) -> str:
        messages = body.get("messages", [])
        system = _system(body)
        if "assessor" in system:
            if self.judge_override:
                return self.judge_override.pop(0)
            answer = json.dumps(self._judge(messages))
            # Without a response_format a local model chats around its JSON; the provider must dig it out.
            return answer if kind else f"Here is my assessment:\n```json\n{answer}\n```\nI hope this helps."
        last = next((m.get("content", "") for m in reversed(messages) if m.get("role") == "user"), "")
        last = last.rsplit("\n", 1)[-1]  # merged turns: the newest line
        name = re.search(r"You are (\w+)", system)
        return f"{name.group(1) if name else 'Someone'} hears you say: {last}"

    def _judge(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        prompt = "\n".join(str(m.get("content", "")) for m in messages if m.get("role") == "user")
        ids = re.findall(r"^- id: (\S+)$", prompt, re.M)
        found = re.search(r"^\[(\d+)\] learner(?: \(spoken\))?: (.+)$", prompt, re.M)
        evidence = [{"seq": int(found.group(1)), "quote": found.group(2)[:40]}] if found else []
        return {"criteria": [
            {"criterion_id": cid, "score": self.judge_scores.get(cid, max(0, 80 - 10 * n)),
             "justification": f"judged {cid}", "evidence": evidence, "suggestion": "Ask an open question."}
            for n, cid in enumerate(ids)
        ]}


def _system(body: dict[str, Any]) -> str:
    return " ".join(str(m.get("content", "")) for m in body.get("messages", []) if m.get("role") == "system")


def _strict_problem(spec: dict[str, Any]) -> str | None:
    """What OpenAI's strict mode rejects: an object that is not closed or does not require every property."""
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", str(spec.get("name", ""))):
        return "json_schema.name must be 1-64 letters, digits, _ or -"
    if not spec.get("strict"):
        return None

    def check(node: Any, where: str) -> str | None:
        if isinstance(node, dict):
            if node.get("type") == "object":
                if node.get("additionalProperties") is not False:
                    return f"In context={where}, 'additionalProperties' is required to be supplied and to be false"
                if sorted(node.get("required", [])) != sorted(node.get("properties", {})):
                    return f"In context={where}, 'required' is required to include every key in properties"
            for key, value in node.items():
                problem = check(value, f"{where}.{key}")
                if problem:
                    return problem
        elif isinstance(node, list):
            for n, value in enumerate(node):
                problem = check(value, f"{where}[{n}]")
                if problem:
                    return problem
        return None

    return check(spec.get("schema", {}), "schema")


def _completion(text: str, model: str) -> dict[str, Any]:
    return {"id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text, "refusal": None},
                         "finish_reason": "stop", "logprobs": None}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}


def _chunk(model: str, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
    return {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]}


def _sse(data: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(data)}\n\n".encode()


def _error(code: int, message: str, kind: str, error_code: str | None,
           headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind, "param": None, "code": error_code}},
                        status_code=code, headers=headers)


class LocalOpenAI:
    """Serve a :class:`FakeOpenAI` on 127.0.0.1 in a background thread (TLS with ``tls=True``).

    Use as a context manager; :meth:`settings` gives the ``openai.*`` settings pointing here.
    """

    def __init__(self, fake: FakeOpenAI | None = None, *, tls: bool = False) -> None:
        self.fake = fake or FakeOpenAI()
        self.tls = tls
        self.ca_file = ""
        self._dir = tempfile.TemporaryDirectory(prefix="fake-openai-")
        self._thread: threading.Thread | None = None
        self._server: Any = None
        self.port = 0

    @property
    def api_key(self) -> str:
        return self.fake.api_key or ""

    @property
    def origin(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.origin}/v1"

    def start(self) -> LocalOpenAI:
        import uvicorn

        tls: dict[str, str] = {}
        if self.tls:
            import trustme

            ca = trustme.CA()
            cert = ca.issue_cert("127.0.0.1", "localhost")
            self.ca_file = os.path.join(self._dir.name, "ca.pem")
            ca.cert_pem.write_to_path(self.ca_file)
            tls = {"ssl_keyfile": os.path.join(self._dir.name, "server.key"),
                   "ssl_certfile": os.path.join(self._dir.name, "server.pem")}
            cert.private_key_pem.write_to_path(tls["ssl_keyfile"])
            cert.cert_chain_pems[0].write_to_path(tls["ssl_certfile"])
            for extra in cert.cert_chain_pems[1:]:
                extra.write_to_path(tls["ssl_certfile"], append=True)
        config = uvicorn.Config(self.fake.app, host="127.0.0.1", port=0, log_level="critical", lifespan="off",
                                interface="asgi3", **tls)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="fake-openai", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the local OpenAI-compatible server did not start")
            time.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        self._dir.cleanup()

    def settings(self) -> dict[str, Any]:
        """Dotted settings that point the openai provider here."""
        return {"openai.api_key": self.api_key, "openai.base_url": self.base_url, "openai.ca_file": self.ca_file,
                "openai.model": "fake-model", "openai.max_retries": 0, "openai.timeout": 10.0}

    def __enter__(self) -> LocalOpenAI:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def main() -> None:  # pragma: no cover - a manual tool
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=MODES, default="openai")
    parser.add_argument("--tls", action="store_true")
    args = parser.parse_args()
    fake = FakeOpenAI()
    fake.mode = args.mode
    with LocalOpenAI(fake, tls=args.tls) as server:
        print(json.dumps(server.settings()), flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)


if __name__ == "__main__":  # pragma: no cover
    main()
