"""A local stand-in for an OpenAI-compatible server, for tests and benchmarks on loopback.

It speaks the documented wire shapes the real ``openai`` client uses:

- ``POST /v1/chat/completions``: a ``chat.completion`` JSON answer, or with ``"stream": true``
  server-sent events of ``chat.completion.chunk`` objects ending with ``data: [DONE]``;
  ``response_format`` ``json_schema`` (strict), ``json_object`` or none;
- Azure OpenAI's ``POST /openai/deployments/{deployment}/chat/completions?api-version=...``
  (key in the ``api-key`` header);
- ``GET /v1/models``;
- the Realtime WebSocket ``/v1/realtime?model=...``: ``session.update`` -> ``session.updated``;
  ``conversation.item.create``; ``input_audio_buffer.append`` (PCM16 24 kHz, base64) run through a
  server VAD (an energy detector: ``speech_started``, then ``silence_duration_ms`` of quiet gives
  ``speech_stopped``, ``committed``, the input transcription delta/completed and an answer);
  ``input_audio_buffer.commit``; ``response.create``/``response.cancel``; ``conversation.item.truncate``.
  An answer is ``response.created``, ``response.output_audio.delta`` (a 660 Hz tone at 24 kHz) with
  ``response.output_audio_transcript.delta``, then ``...done`` and ``response.done``. Speech over an
  answer cancels it (``interrupt_response``); ``drop_after_turns`` drops the connection;
- errors as ``{"error": {"message", "type", "code"}}`` with the HTTP status.

Its ``mode`` imitates a server family: ``"openai"`` accepts every response_format; ``"ollama"``
answers 400 to ``json_schema`` (as many local servers do); ``"plain"`` answers 400 to any
response_format, so only text answers are left. Knobs make it fail: ``fail_next`` statuses (a 429
carries ``Retry-After``), ``delay`` before answering (timeouts), ``cut_after`` chunks (a stream
cut mid-way) and ``judge_override`` (malformed answers).

Its "model" is deterministic: a reply is "<Name> hears you say: <last user line>", streamed
three words a chunk; a spoken turn is transcribed as "tone <dominant Hz> hertz for <ms> milliseconds"
(so a test can prove the audio was resampled), answered "Reply <n>: you said ..." with n counted
from the assistant turns the conversation holds (so a re-sent conversation shows); a judgement scores every criterion listed in the prompt (80, 70, 60...)
quoting the first learner line verbatim.

Plain HTTP by default (as Ollama and llama.cpp serve); ``LocalOpenAI(tls=True)`` serves TLS with a
``trustme`` certificate, for ``openai.ca_file``. Run alone: ``python -m roleplay_openai.testserver``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import re
import tempfile
import threading
import time
from typing import Any

import numpy as np
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

MODES = ("openai", "ollama", "plain")
#: The Realtime API's PCM16 rate, both ways.
RATE = 24_000
REPLY_TONE_HZ = 660.0
_ids = itertools.count(1)


def new_id(prefix: str) -> str:
    return f"{prefix}_{next(_ids):06d}"


def tone(freq: float, ms: int, rate: int = RATE, amplitude: float = 0.4) -> bytes:
    """PCM16 mono sine wave."""
    t = np.arange(int(rate * ms / 1000)) / rate
    return (np.sin(2 * np.pi * freq * t) * amplitude * 32767).astype("<i2").tobytes()


def dominant_hz(pcm: bytes, rate: int = RATE) -> float:
    """The strongest frequency in PCM16 mono (FFT peak)."""
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    if samples.size < 64:
        return 0.0
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    return float(np.fft.rfftfreq(samples.size, 1 / rate)[int(np.argmax(spectrum))])


def rms(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0


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
            WebSocketRoute("/v1/realtime", self.realtime),
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
        #: Realtime knobs: speech detection, the answer's length and pace, dropping connections.
        self.speech_rms = 500.0
        self.reply_ms = 600
        self.chunk_ms = 40
        self.pace = 0.0  # seconds between answer chunks; > 0 lets a test talk over an answer
        self.drop_after_turns = 0  # close a connection abruptly after this many answers on it
        self.late_transcription = False  # the learner's transcription completes after the answer's response.done
        self.realtime_available = True
        #: What the Realtime side saw.
        self.realtime_connections: list[dict[str, Any]] = []  # {"query", "headers", "session", "items"}
        self.client_events: list[dict[str, Any]] = []
        self.truncations: list[dict[str, Any]] = []
        self.interruptions = 0
        self.turns_completed = 0
        self.audio_bytes_in = 0

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


    # -- Realtime -----------------------------------------------------------------

    async def realtime(self, ws: WebSocket) -> None:
        if not self.realtime_available:
            await ws.close(1008)  # a server without the Realtime API refuses the upgrade
            return
        if self.api_key is not None and ws.headers.get("authorization") != f"Bearer {self.api_key}":
            await ws.close(1008, "invalid API key")
            return
        await ws.accept()
        connection = RealtimeConnection(self, ws)
        self.realtime_connections.append(connection.seen)
        await connection.send({"type": "session.created", "session": connection.session_object()})
        try:
            while True:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                event = json.loads(message.get("text") or message.get("bytes"))
                self.client_events.append({k: v for k, v in event.items() if k != "audio"})
                await connection.on_event(event)
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            connection.closed = True
            if connection.reply_task is not None:
                connection.reply_task.cancel()


class RealtimeConnection:
    """One Realtime WebSocket: the session, the conversation, server VAD, the answer task and barge-in."""

    def __init__(self, fake: FakeOpenAI, ws: WebSocket) -> None:
        self.fake = fake
        self.ws = ws
        self.seen: dict[str, Any] = {"query": dict(ws.query_params), "headers": dict(ws.headers), "session": {},
                                     "items": []}
        self.lock = asyncio.Lock()
        self.speech = bytearray()
        self.speaking = False
        self.quiet_ms = 0.0
        self.reply_task: asyncio.Task | None = None
        self.response_id: str | None = None
        self.answers_here = 0
        self.closed = False

    async def send(self, event: dict[str, Any]) -> None:
        async with self.lock:
            if not self.closed:
                await self.ws.send_text(json.dumps({"event_id": new_id("event"), **event}))

    def session_object(self) -> dict[str, Any]:
        return {"type": "realtime", "object": "realtime.session", "id": "sess_fake",
                "model": self.seen["query"].get("model", ""), **self.seen["session"]}

    def turn_detection(self) -> dict[str, Any]:
        return ((self.seen["session"].get("audio") or {}).get("input") or {}).get("turn_detection") or {}

    async def error(self, code: str, message: str) -> None:
        await self.send({"type": "error", "error": {"type": "invalid_request_error", "code": code,
                                                    "message": message, "param": None, "event_id": None}})

    async def on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "session.update":
            self.seen["session"] = event["session"]
            await self.send({"type": "session.updated", "session": self.session_object()})
        elif kind == "conversation.item.create":
            item = {"id": new_id("item"), "object": "realtime.item", "status": "completed", **event["item"]}
            self.seen["items"].append(item)
            await self.send({"type": "conversation.item.added", "previous_item_id": None, "item": item})
        elif kind == "input_audio_buffer.append":
            await self.on_audio(base64.b64decode(event["audio"]))
        elif kind == "input_audio_buffer.commit":
            if self.speaking:
                await self.end_turn()
            else:
                await self.error("input_audio_buffer_commit_empty", "buffer too small")
        elif kind == "response.create":
            last = next((c.get("text", "") for item in reversed(self.seen["items"]) if item.get("role") == "user"
                         for c in item.get("content", [])), "")
            self.start_reply(last)
        elif kind == "response.cancel":
            if not await self.cancel_reply():
                await self.error("response_cancel_not_active", "Cancellation failed: no active response found")
        elif kind == "conversation.item.truncate":
            self.fake.truncations.append({"item_id": event["item_id"], "audio_end_ms": event["audio_end_ms"],
                                          "content_index": event["content_index"]})
            await self.send({"type": "conversation.item.truncated", "item_id": event["item_id"],
                             "content_index": event["content_index"], "audio_end_ms": event["audio_end_ms"]})
        else:
            await self.error("unknown_event", f"unknown client event {kind!r}")

    async def on_audio(self, pcm: bytes) -> None:
        self.fake.audio_bytes_in += len(pcm)
        loud = rms(pcm) > self.fake.speech_rms
        if loud:
            if not self.speaking:
                self.speaking = True
                self.speech.clear()
                await self.send({"type": "input_audio_buffer.speech_started", "audio_start_ms": 0,
                                 "item_id": new_id("item")})
                if self.turn_detection().get("interrupt_response", True) and await self.cancel_reply():
                    self.fake.interruptions += 1
            self.quiet_ms = 0.0
            self.speech += pcm
        elif self.speaking:
            self.quiet_ms += len(pcm) / 2 / RATE * 1000
            if self.quiet_ms >= float(self.turn_detection().get("silence_duration_ms", 500)):
                await self.end_turn()

    async def end_turn(self) -> None:
        self.speaking = False
        pcm = bytes(self.speech)
        self.speech.clear()
        item_id = new_id("item")
        ms = round(len(pcm) / 2 / RATE * 1000)
        await self.send({"type": "input_audio_buffer.speech_stopped", "audio_end_ms": ms, "item_id": item_id})
        await self.send({"type": "input_audio_buffer.committed", "item_id": item_id, "previous_item_id": None})
        text = f"tone {round(dominant_hz(pcm))} hertz for {ms} milliseconds"
        words = text.split(" ")
        for piece in (" ".join(words[:3]), " " + " ".join(words[3:])):
            await self.send({"type": "conversation.item.input_audio_transcription.delta", "item_id": item_id,
                             "content_index": 0, "delta": piece})
        completed = {"type": "conversation.item.input_audio_transcription.completed", "item_id": item_id,
                     "content_index": 0, "transcript": text, "usage": {"type": "duration", "seconds": ms / 1000}}
        self.seen["items"].append({"id": item_id, "type": "message", "role": "user",
                                   "content": [{"type": "input_audio", "transcript": text}]})
        if not self.fake.late_transcription:
            await self.send(completed)
        if self.turn_detection().get("create_response", True):
            self.start_reply(text, late=completed if self.fake.late_transcription else None)
        elif self.fake.late_transcription:
            await self.send(completed)

    def start_reply(self, learner_text: str, late: dict[str, Any] | None = None) -> None:
        self.response_id = new_id("resp")
        self.reply_task = asyncio.create_task(self.reply(self.response_id, learner_text, late))

    async def cancel_reply(self) -> bool:
        task, response_id = self.reply_task, self.response_id
        if task is None or task.done():
            return False
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        self.response_id = None
        await self.send({"type": "response.done", "response": {"id": response_id, "object": "realtime.response",
                                                                "status": "cancelled", "output": []}})
        return True

    async def reply(self, response_id: str, learner_text: str, late: dict[str, Any] | None = None) -> None:
        fake = self.fake
        # Numbered by the assistant turns the conversation holds, so a re-sent conversation shows.
        number = sum(1 for item in self.seen["items"] if item.get("role") == "assistant") + 1
        text = f"Reply {number}: you said {learner_text}."
        item_id = new_id("item")
        base = {"response_id": response_id, "item_id": item_id, "output_index": 0, "content_index": 0}
        await self.send({"type": "response.created", "response": {"id": response_id, "object": "realtime.response",
                                                                   "status": "in_progress", "output": []}})
        audio = tone(REPLY_TONE_HZ, fake.reply_ms)
        step = int(RATE * fake.chunk_ms / 1000) * 2
        chunks = [audio[i : i + step] for i in range(0, len(audio), step)]
        words = text.split(" ")
        per_chunk = max(1, -(-len(words) // len(chunks)))
        for n, chunk in enumerate(chunks):
            await self.send({"type": "response.output_audio.delta", **base, "delta": base64.b64encode(chunk).decode()})
            said = words[n * per_chunk : (n + 1) * per_chunk]
            if said:
                await self.send({"type": "response.output_audio_transcript.delta", **base,
                                 "delta": (" " if n else "") + " ".join(said)})
            if fake.pace:
                await asyncio.sleep(fake.pace)
        await self.send({"type": "response.output_audio.done", **base})
        await self.send({"type": "response.output_audio_transcript.done", **base, "transcript": text})
        item = {"id": item_id, "object": "realtime.item", "type": "message", "role": "assistant", "status": "completed",
                "content": [{"type": "output_audio", "transcript": text}]}
        self.seen["items"].append(item)
        self.response_id = None
        await self.send({"type": "response.done", "response": {"id": response_id, "object": "realtime.response",
                                                                "status": "completed", "output": [item]}})
        if late is not None:
            await self.send(late)  # late_transcription: the learner's transcript after the whole answer
        fake.turns_completed += 1
        self.answers_here += 1
        if fake.drop_after_turns and self.answers_here >= fake.drop_after_turns:
            self.closed = True
            with contextlib.suppress(Exception):
                await self.ws.close(1011, "the connection dropped")


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
    parser.add_argument("--pace", type=float, default=0.0, help="seconds between Realtime answer audio chunks")
    parser.add_argument("--reply-ms", type=int, default=600)
    args = parser.parse_args()
    fake = FakeOpenAI()
    fake.mode, fake.pace, fake.reply_ms = args.mode, args.pace, args.reply_ms
    with LocalOpenAI(fake, tls=args.tls) as server:
        print(json.dumps(server.settings()), flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)


if __name__ == "__main__":  # pragma: no cover
    main()
