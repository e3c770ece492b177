"""A local stand-in for the Gemini API, for tests and benchmarks on loopback.

It speaks the documented wire shapes the real ``google-genai`` client uses:

- REST ``POST /{version}/models/{model}:generateContent`` and
  ``:streamGenerateContent?alt=sse`` (server-sent events of the same JSON);
- the Live WebSocket ``/ws/google.ai.generativelanguage.{version}.GenerativeService.BidiGenerateContent``:
  ``setup`` -> ``setupComplete``; ``realtimeInput`` audio/text/``audioStreamEnd``;
  ``serverContent`` with ``modelTurn`` audio parts, ``inputTranscription``,
  ``outputTranscription``, ``interrupted``, ``generationComplete``, ``turnComplete``;
  ``sessionResumptionUpdate`` and ``goAway``.

Its "model" is deterministic so tests can check real behaviour: a learner turn
is found with an energy detector (speech, then ``silence_ms`` of quiet, or
``audioStreamEnd``); its transcription names the dominant frequency of what
arrived ("tone 440 hertz ..."), so a test can prove the audio was resampled
correctly on the way in; the reply is a 660 Hz tone at 24 kHz with an output
transcription. Speech over a reply interrupts it (barge-in).

Because the SDK always dials ``wss://`` with an API key, :class:`LocalGemini`
serves TLS with a certificate from a ``trustme`` test authority; point
``gemini.ca_file`` at :attr:`LocalGemini.ca_file`.

Run it alone with ``python -m roleplay_gemini.testserver`` (prints its URL and CA file).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import secrets
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

LIVE_PATH = "/ws/google.ai.generativelanguage.{version}.GenerativeService.BidiGenerateContent"
IN_RATE = 16_000
OUT_RATE = 24_000
REPLY_TONE_HZ = 660.0


def tone(freq: float, ms: int, rate: int, amplitude: float = 0.4) -> bytes:
    """PCM16 mono sine wave."""
    t = np.arange(int(rate * ms / 1000)) / rate
    return (np.sin(2 * np.pi * freq * t) * amplitude * 32767).astype("<i2").tobytes()


def dominant_hz(pcm: bytes, rate: int) -> float:
    """The strongest frequency in PCM16 mono (FFT peak)."""
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    if samples.size < 64:
        return 0.0
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    return float(np.fft.rfftfreq(samples.size, 1 / rate)[int(np.argmax(spectrum))])


def camel(value: Any) -> Any:
    """Proto JSON accepts field names in snake_case and lowerCamelCase (the SDK sends both); use camel."""
    if isinstance(value, dict):
        return {re.sub(r"_([a-z])", lambda m: m.group(1).upper(), k): camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camel(v) for v in value]
    return value


def b64decode(text: str) -> bytes:
    """Proto JSON bytes: standard or URL-safe base64, padded or not (the SDK sends URL-safe)."""
    text = text.replace("-", "+").replace("_", "/")
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def rms(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0


class Conversation:
    """What the fake model remembers across connections (for session resumption)."""

    def __init__(self) -> None:
        self.id = secrets.token_hex(6)
        self.turns: list[tuple[str, str]] = []
        self.connections = 0


class LiveConnection:
    """One Live WebSocket: the speech detector, the reply task and barge-in."""

    def __init__(self, fake: FakeGemini, ws: WebSocket, setup: dict[str, Any], conversation: Conversation) -> None:
        self.fake = fake
        self.ws = ws
        self.setup = setup
        self.conversation = conversation
        self.send_lock = asyncio.Lock()
        self.speech = bytearray()
        self.speaking = False
        self.quiet_ms = 0.0
        self.reply_task: asyncio.Task | None = None
        self.turns_here = 0
        self.closed = False
        self.late_input: str | None = None

    async def send(self, message: dict[str, Any]) -> None:
        async with self.send_lock:
            if not self.closed:
                await self.ws.send_text(json.dumps(message))

    async def on_audio(self, pcm: bytes) -> None:
        self.fake.audio_bytes_in += len(pcm)
        loud = rms(pcm) > self.fake.speech_rms
        chunk_ms = len(pcm) / 2 / IN_RATE * 1000
        if loud:
            if not self.speaking:
                self.speaking = True
                self.speech.clear()
                if self.reply_task is not None and not self.reply_task.done():
                    self.reply_task.cancel()  # barge-in: the learner talks over the character
                    with contextlib.suppress(asyncio.CancelledError):
                        await self.reply_task
                    self.fake.interruptions += 1
                    await self.send({"serverContent": {"interrupted": True}})
            self.quiet_ms = 0.0
            self.speech += pcm
        elif self.speaking:
            self.quiet_ms += chunk_ms
            if self.quiet_ms >= self.fake.silence_ms:
                await self.end_turn()

    async def end_turn(self) -> None:
        if not self.speaking:
            return
        self.speaking = False
        pcm = bytes(self.speech)
        self.speech.clear()
        ms = round(len(pcm) / 2 / IN_RATE * 1000)
        if self.fake.transcripts:
            text = self.fake.transcripts.pop(0)
        else:
            text = f"tone {round(dominant_hz(pcm, IN_RATE))} hertz for {ms} milliseconds"
        words = text.split(" ")
        half = max(1, len(words) // 2)
        pieces = [p for p in (" ".join(words[:half]), " " + " ".join(words[half:])) if p.strip()]
        # With late_transcription the last piece arrives after the reply has started, as it can with Gemini.
        self.late_input = pieces.pop() if self.fake.late_transcription and len(pieces) > 1 else None
        for piece in pieces:
            await self.send({"serverContent": {"inputTranscription": {"text": piece}}})
        self.start_reply(text)

    def start_reply(self, learner_text: str) -> None:
        self.reply_task = asyncio.create_task(self.reply(learner_text))

    async def reply(self, learner_text: str) -> None:
        text = self.fake.reply_text(learner_text, self.conversation)
        audio = tone(REPLY_TONE_HZ, self.fake.reply_ms, OUT_RATE)
        step = int(OUT_RATE * self.fake.chunk_ms / 1000) * 2
        chunks = [audio[i : i + step] for i in range(0, len(audio), step)]
        words = text.split(" ")
        per_chunk = max(1, -(-len(words) // len(chunks)))
        for n, chunk in enumerate(chunks):
            content: dict[str, Any] = {
                "modelTurn": {"parts": [{"inlineData": {"mimeType": f"audio/pcm;rate={OUT_RATE}",
                                                         "data": base64.b64encode(chunk).decode()}}]}
            }
            said = words[n * per_chunk : (n + 1) * per_chunk]
            if said:
                content["outputTranscription"] = {"text": (" " if n else "") + " ".join(said)}
            await self.send({"serverContent": content})
            self.fake.audio_chunks_out += 1
            if self.late_input:
                await self.send({"serverContent": {"inputTranscription": {"text": self.late_input}}})
                self.late_input = None
            if self.fake.pace:
                await asyncio.sleep(self.fake.pace)
        await self.send({"serverContent": {"generationComplete": True}})
        await self.send({"serverContent": {"turnComplete": True}})
        self.conversation.turns.append((learner_text, text))
        self.turns_here += 1
        self.fake.turns_completed += 1
        if self.setup.get("sessionResumption") is not None:
            handle = f"h-{self.conversation.id}-{len(self.conversation.turns)}"
            self.fake.handles[handle] = self.conversation
            await self.send({"sessionResumptionUpdate": {"newHandle": handle, "resumable": True}})
        if self.fake.go_away_after_turns and self.turns_here >= self.fake.go_away_after_turns:
            self.fake.go_aways += 1
            await self.send({"goAway": {"timeLeft": "0.2s"}})
            await asyncio.sleep(0.2)
            self.closed = True
            with contextlib.suppress(Exception):
                await self.ws.close(1000, "session time limit")


class FakeGemini:
    """The server's state and knobs; tests read what it saw and tune how it answers."""

    def __init__(self, api_key: str = "test-key") -> None:
        self.api_key = api_key
        self.reset()
        self.routes = Starlette(routes=[
            WebSocketRoute(LIVE_PATH, self.live),
            Route("/{version}/models/{call}", self.rest, methods=["POST"]),
        ])

    async def app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """The ASGI app. The SDK joins a base URL ending in "/" with "/ws/...", giving "//ws/...",
        which Google's front end accepts; collapse repeated slashes the same way."""
        if scope["type"] in ("http", "websocket") and "//" in scope["path"]:
            scope = dict(scope, path=re.sub("/{2,}", "/", scope["path"]))
        await self.routes(scope, receive, send)

    def reset(self) -> None:
        """Forget what was seen and restore every knob's default (tests share one server)."""
        #: Live knobs.
        self.speech_rms = 500.0
        self.silence_ms = 300.0
        self.reply_ms = 600
        self.chunk_ms = 40
        self.pace = 0.0  # seconds between reply chunks; > 0 lets a test talk over a reply
        self.go_away_after_turns = 0
        self.late_transcription = False
        self.transcripts: list[str] = []
        #: REST knobs: status codes to fail the next requests with, canned judge output.
        self.fail_next: list[int] = []
        self.judge_override: list[str] = []
        #: Judge knobs: seconds to think before answering, and fixed scores by criterion id.
        self.judge_delay = 0.0
        self.judge_scores: dict[str, float] = {}
        #: What it saw.
        self.setups: list[dict[str, Any]] = []
        self.rest_requests: list[dict[str, Any]] = []
        self.handles: dict[str, Conversation] = {}
        self.resumed: list[str] = []
        self.interruptions = 0
        self.turns_completed = 0
        self.go_aways = 0
        self.audio_bytes_in = 0
        self.audio_chunks_out = 0
        self.live_connections = 0
        self.live_headers: list[dict[str, str]] = []

    # -- the "model" ----------------------------------------------------------

    def reply_text(self, learner_text: str, conversation: Conversation) -> str:
        return f"Reply {len(conversation.turns) + 1}: you said {learner_text}."

    # -- REST -------------------------------------------------------------

    def _authorised(self, headers: Any) -> bool:
        return headers.get("x-goog-api-key") == self.api_key

    async def rest(self, request: Request) -> Response:
        model, _, method = request.path_params["call"].partition(":")
        body = json.loads(await request.body())
        self.rest_requests.append({"model": model, "method": method, "body": body,
                                   "version": request.path_params["version"]})
        if not self._authorised(request.headers):
            return _error(401, "API key not valid.", "UNAUTHENTICATED")
        if self.fail_next:
            code = self.fail_next.pop(0)
            return _error(code, "The model is overloaded.", "UNAVAILABLE")
        if method not in ("generateContent", "streamGenerateContent"):
            return _error(404, f"unknown method {method}", "NOT_FOUND")
        text = await self._answer(body)
        if method == "generateContent":
            return JSONResponse(_candidate(text, final=True))

        async def events():
            words = text.split(" ")
            pieces = [" ".join(words[i : i + 3]) + (" " if i + 3 < len(words) else "") for i in range(0, len(words), 3)]
            for n, piece in enumerate(pieces):
                yield f"data: {json.dumps(_candidate(piece, final=n == len(pieces) - 1))}\r\n\r\n".encode()

        return StreamingResponse(events(), media_type="text/event-stream")

    async def _answer(self, body: dict[str, Any]) -> str:
        config = body.get("generationConfig", {})
        schema = config.get("responseJsonSchema") or config.get("responseSchema")
        if config.get("responseMimeType") == "application/json" and schema:
            if self.judge_delay:
                await asyncio.sleep(self.judge_delay)
            if self.judge_override:
                return self.judge_override.pop(0)
            return json.dumps(self._judge(body, schema))
        contents = body.get("contents", [])
        last = next((p.get("text", "") for c in reversed(contents) if c.get("role") == "user"
                     for p in reversed(c.get("parts", []))), "")
        system = " ".join(p.get("text", "") for p in body.get("systemInstruction", {}).get("parts", []))
        name = re.search(r"You are (\w+)", system)
        return f"{name.group(1) if name else 'Someone'} hears you say: {last}"

    def judge_requests(self) -> list[dict[str, Any]]:
        """The judge calls seen: requests for JSON against a schema."""
        return [r for r in self.rest_requests
                if (r["body"].get("generationConfig") or {}).get("responseMimeType") == "application/json"]

    def _judge(self, body: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
        """Score every criterion the schema allows (``judge_scores``, else 80, 70, 60...), quoting the
        first learner line of the prompt verbatim (spoken or typed)."""
        item = schema["properties"]["criteria"]["items"]
        ids = item["properties"]["criterion_id"]["enum"]
        prompt = " ".join(p.get("text", "") for c in body.get("contents", []) for p in c.get("parts", []))
        found = re.search(r"^\[(\d+)\] learner(?: \(spoken\))?: (.+)$", prompt, re.M)
        evidence = [{"seq": int(found.group(1)), "quote": found.group(2)[:40]}] if found else []
        return {"criteria": [
            {"criterion_id": cid, "score": self.judge_scores.get(cid, max(0, 80 - 10 * n)),
             "justification": f"judged {cid}", "evidence": evidence, "suggestion": "Ask an open question."}
            for n, cid in enumerate(ids)
        ]}

    # -- Live -------------------------------------------------------------

    async def live(self, ws: WebSocket) -> None:
        self.live_headers.append(dict(ws.headers))
        await ws.accept()
        if not self._authorised(ws.headers):
            await ws.close(1008, "API key not valid")
            return
        try:
            first = camel(json.loads(await ws.receive_text()))
            setup = first["setup"]
            if not str(setup.get("model", "")).startswith("models/"):
                raise ValueError("setup.model must be models/...")
        except Exception as exc:
            await ws.close(1007, f"invalid setup: {exc}"[:120])
            return
        self.setups.append(setup)
        handle = (setup.get("sessionResumption") or {}).get("handle")
        if handle:
            conversation = self.handles.get(handle)
            if conversation is None:
                await ws.close(1008, "unknown session resumption handle")
                return
            self.resumed.append(handle)
        else:
            conversation = Conversation()
        conversation.connections += 1
        self.live_connections += 1
        await ws.send_text(json.dumps({"setupComplete": {}}))
        connection = LiveConnection(self, ws, setup, conversation)
        try:
            while True:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                raw = message.get("text") or message.get("bytes")
                await self._on_client_message(connection, camel(json.loads(raw)))
        except (WebSocketDisconnect, RuntimeError):
            pass
        except (ValueError, KeyError) as exc:
            connection.closed = True
            with contextlib.suppress(Exception):
                await ws.close(1007, f"invalid message: {exc}"[:120])
        finally:
            connection.closed = True
            if connection.reply_task is not None:
                connection.reply_task.cancel()

    async def _on_client_message(self, connection: LiveConnection, message: dict[str, Any]) -> None:
        realtime = message.get("realtimeInput")
        if realtime is None:
            return  # clientContent / toolResponse: recorded nowhere, not needed by the fake
        blobs = [realtime["audio"]] if "audio" in realtime else list(realtime.get("mediaChunks", []))
        for blob in blobs:
            if blob.get("mimeType") != f"audio/pcm;rate={IN_RATE}":
                raise ValueError(f"audio must be audio/pcm;rate={IN_RATE}, got {blob.get('mimeType')!r}")
            await connection.on_audio(b64decode(blob["data"]))
        if realtime.get("audioStreamEnd") or "activityEnd" in realtime:
            await connection.end_turn()
        if realtime.get("text"):
            connection.start_reply(realtime["text"])  # typed input is not transcribed, only answered


def _candidate(text: str, *, final: bool) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}
    if final:
        candidate["finishReason"] = "STOP"
    return {"candidates": [candidate], "modelVersion": "fake-gemini",
            "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15}}


def _error(code: int, message: str, status: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "status": status}}, status_code=code)


class LocalGemini:
    """Serve a :class:`FakeGemini` over TLS on 127.0.0.1 in a background thread.

    Use as a context manager; :attr:`base_url`, :attr:`ca_file` and
    :attr:`api_key` are what ``gemini.base_url``, ``gemini.ca_file`` and
    ``gemini.api_key`` need.
    """

    def __init__(self, fake: FakeGemini | None = None) -> None:
        self.fake = fake or FakeGemini()
        self._dir = tempfile.TemporaryDirectory(prefix="fake-gemini-")
        self._thread: threading.Thread | None = None
        self._server: Any = None
        self.port = 0

    @property
    def api_key(self) -> str:
        return self.fake.api_key

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.port}/"

    def start(self) -> LocalGemini:
        import trustme
        import uvicorn

        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        self.ca_file = os.path.join(self._dir.name, "ca.pem")
        ca.cert_pem.write_to_path(self.ca_file)
        key_file = os.path.join(self._dir.name, "server.key")
        cert_file = os.path.join(self._dir.name, "server.pem")
        cert.private_key_pem.write_to_path(key_file)
        cert.cert_chain_pems[0].write_to_path(cert_file)
        for extra in cert.cert_chain_pems[1:]:
            extra.write_to_path(cert_file, append=True)
        config = uvicorn.Config(self.fake.app, host="127.0.0.1", port=0, ssl_keyfile=key_file, ssl_certfile=cert_file,
                                log_level="warning", ws="websockets-sansio", lifespan="off", interface="asgi3", ws_max_size=16 * 1024 * 1024)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="fake-gemini", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the local Gemini server did not start")
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
        """Dotted settings that point the gemini provider here."""
        return {"gemini.api_key": self.api_key, "gemini.base_url": self.base_url, "gemini.ca_file": self.ca_file}

    def __enter__(self) -> LocalGemini:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def main() -> None:  # pragma: no cover - a manual tool
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pace", type=float, default=0.0, help="seconds between reply audio chunks")
    parser.add_argument("--reply-ms", type=int, default=600)
    args = parser.parse_args()
    fake = FakeGemini()
    fake.pace, fake.reply_ms = args.pace, args.reply_ms
    with LocalGemini(fake) as server:
        print(json.dumps(server.settings()), flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)


if __name__ == "__main__":  # pragma: no cover
    main()
