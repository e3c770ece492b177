"""The ``openai`` provider: streamed character replies and structured judging over chat completions."""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import attrs
import cattrs
import openai

from roleplay_core import (
    CriterionJudgement,
    Judgement,
    JudgeRequest,
    Kernel,
    LiveRequest,
    LiveSession,
    ModelProvider,
    ProviderError,
    Reply,
    ReplyDelta,
    ReplyRequest,
    build_judge_prompt,
    converter,
)

from . import prompts
from .client import make_client, ssl_context
from .plugin import JUDGE_FORMATS, OPENAI_BASE_URL

logger = logging.getLogger("roleplay.openai")

#: The name OpenAI shows for the schema (letters, digits, _ and - only).
SCHEMA_NAME = "roleplay_judgement"


@attrs.frozen(kw_only=True)
class JudgeOutput:
    """The judge's JSON answer, structured strictly (unknown keys and wrong types are errors)."""

    criteria: tuple[CriterionJudgement, ...]


def provider_error(exc: BaseException) -> ProviderError:
    """A safe-to-show message for an SDK or network failure."""
    if isinstance(exc, openai.APIStatusError):
        detail = exc.message or ""
        return ProviderError(f"the OpenAI-compatible server answered {exc.status_code}: {detail}"[:400])
    if isinstance(exc, openai.APITimeoutError):
        return ProviderError("the OpenAI-compatible server did not answer in time (openai.timeout)")
    cause = exc.__cause__ or exc
    return ProviderError(f"the OpenAI-compatible server could not be reached: {type(cause).__name__}: {cause}"[:300])


def is_call_failure(exc: BaseException) -> bool:
    """An API answer or a network/TLS failure (reported as :class:`ProviderError`), not a bug of ours.

    A stream the server cuts mid-way surfaces from the SDK's HTTP client (``httpx2``) as its own
    ``RemoteProtocolError``/``ReadError``, which share no base class with ``OSError``: known by module.
    """
    return (isinstance(exc, (openai.APIError, OSError, TimeoutError))
            or type(exc).__module__.split(".")[0] in ("httpx", "httpcore", "httpx2", "httpcore2"))


def strict_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The kernel's answer schema as OpenAI's strict structured output needs it: every object closed
    (``additionalProperties: false``) with every property required. The kernel's schema already
    requires every field; closing the objects is what strict mode adds."""
    strict = copy.deepcopy(schema)

    def close(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "object":
                node["additionalProperties"] = False
                node["required"] = list(node.get("properties", {}))
            for value in node.values():
                close(value)
        elif isinstance(node, list):
            for value in node:
                close(value)

    close(strict)
    return strict


def json_text(text: str) -> str:
    """The JSON object in a plain-text answer: a ```json fence's content, else from the first ``{``
    to the last ``}``. Anything that is not then valid JSON fails validation."""
    fenced = re.search(r"```(?:json)?\s*(\{.*\})\s*```", text, re.S)
    if fenced:
        return fenced.group(1)
    start, end = text.find("{"), text.rfind("}")
    return text[start : end + 1] if 0 <= start < end else text


class OpenAIProvider(ModelProvider):
    """Plays characters and judges transcripts with any OpenAI-compatible chat completions server."""

    name = "openai"
    capabilities = frozenset({"reply", "judge", "live"})

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.settings = kernel.settings
        self._client: openai.AsyncOpenAI | None = None
        configured = self.config.judge_format or "auto"
        #: The judge formats still to try; "auto" drops the ones the server refused (learnt once per process).
        self.judge_formats: list[str] = list(JUDGE_FORMATS) if configured == "auto" else [configured]

    @property
    def client(self) -> openai.AsyncOpenAI:
        # Built on first use so a kernel that never calls the server needs no key.
        if self._client is None:
            self._client = make_client(self.config)
        return self._client

    @property
    def config(self) -> Any:
        """The kernel's typed ``openai`` settings (``OpenAISettings``)."""
        return self.kernel.typed_settings("openai")

    @property
    def model(self) -> str:
        return self.config.model or self.config.azure.deployment or ""

    @property
    def judge_model(self) -> str:
        return self.config.judge_model or self.model

    def _token_limit(self) -> dict[str, int]:
        """The reply length limit under the parameter the server knows: OpenAI and Azure deprecated
        ``max_tokens`` for ``max_completion_tokens`` (reasoning models refuse the old one), while
        local servers read ``max_tokens``."""
        limit = self.config.max_tokens
        if not limit:
            return {}
        base = (self.config.base_url or OPENAI_BASE_URL).rstrip("/")
        official = self.config.azure.endpoint or base.startswith("https://api.openai.com")
        return {"max_completion_tokens" if official else "max_tokens": limit}

    # -- text -----------------------------------------------------------------

    async def reply(self, request: ReplyRequest) -> AsyncIterator[ReplyDelta | Reply]:
        """Stream the character's answer to the last learner message."""
        model = self.model
        messages = prompts.reply_messages(request)
        options: dict[str, Any] = {"temperature": self.config.temperature, **self._token_limit()}
        if request.seed:
            options["seed"] = request.seed
        pieces: list[str] = []
        finish = None
        try:
            stream = await self.client.chat.completions.create(model=model, messages=messages, stream=True, **options)
            async with stream:
                async for chunk in stream:
                    if not chunk.choices:
                        continue
                    choice = chunk.choices[0]
                    finish = choice.finish_reason or finish
                    text = choice.delta.content if choice.delta else None
                    if text:
                        pieces.append(text)
                        yield ReplyDelta(text)
        except Exception as exc:
            if is_call_failure(exc):
                raise provider_error(exc) from exc
            raise
        text = "".join(pieces).strip()
        if finish is None:
            # The stream ended without a finish reason: the server or a proxy cut it mid-way.
            raise ProviderError("the OpenAI-compatible server's stream ended before the reply was finished")
        if not text:
            raise ProviderError(f"the OpenAI-compatible server returned no text (finish reason {finish})")
        yield Reply(text=text, state=dict(request.state), info={"model": model, "finish_reason": finish})

    # -- judging ----------------------------------------------------------------

    def _judge_call(self, judge_format: str, instruction: str, text: str, schema: dict[str, Any]) -> dict[str, Any]:
        """The chat completion arguments for one judge format."""
        if judge_format == "json_schema":
            system = instruction
            response_format: dict[str, Any] | None = {
                "type": "json_schema",
                "json_schema": {"name": SCHEMA_NAME, "schema": strict_schema(schema), "strict": True},
            }
        else:
            # No schema on the wire: it goes into the instruction, and the answer is validated as strictly.
            system = prompts.with_schema(instruction, schema)
            response_format = {"type": "json_object"} if judge_format == "json_object" else None
        call: dict[str, Any] = {
            "model": self.judge_model,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": text}],
            "temperature": self.config.judge_temperature,
        }
        if response_format is not None:
            call["response_format"] = response_format
        return call

    async def _complete(self, call: dict[str, Any]) -> str:
        response = await self.client.chat.completions.create(**call)
        if not response.choices:
            return ""
        message = response.choices[0].message
        if getattr(message, "refusal", None):
            raise ValueError(f"the model refused: {message.refusal}")
        return message.content or ""

    async def judge(self, request: JudgeRequest) -> Judgement:
        """Score every criterion in one call, asking for JSON in the best format the server accepts;
        a malformed answer is asked again, up to ``openai.judge_attempts`` times."""
        prompt = build_judge_prompt(request)
        attempts = self.config.judge_attempts
        problem = ""
        used = 0
        while used < attempts:
            judge_format = self.judge_formats[0]
            call = self._judge_call(judge_format, prompt.instruction, prompt.text, prompt.schema)
            try:
                text = await self._complete(call)
            except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
                # A server without this response_format answers 400/422: fall back (once per process)
                # when the format was chosen automatically and a simpler one is left.
                if len(self.judge_formats) > 1:
                    logger.warning("openai: the server refused response_format %s (%s); judging falls back to %s",
                                   judge_format, exc.status_code, self.judge_formats[1])
                    self.judge_formats.pop(0)
                    continue
                raise provider_error(exc) from exc
            except ValueError as exc:
                problem = str(exc)
                used += 1
                continue
            except Exception as exc:
                if is_call_failure(exc):
                    raise provider_error(exc) from exc
                raise
            used += 1
            try:
                return self._judgement(request, text, judge_format)
            except ValueError as exc:
                problem = str(exc)
                logger.warning("openai judge answer rejected (%s): %s", judge_format, problem)
        raise ProviderError(f"the judgement was not valid after {attempts} attempts: {problem}"[:400])

    def _judgement(self, request: JudgeRequest, text: str, judge_format: str) -> Judgement:
        raw = json_text(text) if judge_format == "text" else text
        try:
            output = converter.structure(json.loads(raw), JudgeOutput)
        except (json.JSONDecodeError, cattrs.BaseValidationError, TypeError, ValueError) as exc:
            raise ValueError(f"the answer does not match the schema: {exc}") from None
        wanted = [c.id for c in request.criteria]
        got = [c.criterion_id for c in output.criteria]
        if sorted(got) != sorted(wanted):
            raise ValueError(f"expected one judgement for each of {wanted}, got {got}")
        # Quotes pass through as the model gave them: the evaluator checks each against the transcript
        # and says how many it dropped.
        judged = sorted(output.criteria, key=lambda c: wanted.index(c.criterion_id))
        return Judgement(criteria=tuple(judged), model=f"openai:{self.judge_model}")

    # -- realtime voice -----------------------------------------------------------

    def ws_ssl_context(self):
        """The SSL context for the Realtime WebSocket when ``openai.ca_file`` is set and the server is TLS."""
        ca_file = self.config.ca_file
        base = str(self.config.azure.endpoint or self.config.base_url or OPENAI_BASE_URL)
        return ssl_context(ca_file) if ca_file and base.startswith("https://") else None

    async def connect_live(self, request: LiveRequest) -> LiveSession:
        """Open a Realtime speech session (see :class:`roleplay_openai.live.OpenAIRealtimeSession`)."""
        from .live import OpenAIRealtimeSession

        session = OpenAIRealtimeSession(self, request)
        await session.start()
        return session

    async def probe_realtime(self) -> str | None:
        """Open and close one Realtime connection; a problem naming chat.voice.model when it fails."""
        where = self.config.azure.endpoint or self.config.base_url
        model = self.config.realtime_model or "gpt-realtime"
        options = {"ssl": self.ws_ssl_context()} if self.ws_ssl_context() is not None else {}
        try:
            manager = self.client.realtime.connect(model=model, websocket_connection_options=options)
            await asyncio.wait_for(manager.__aenter__(), self.config.timeout)
            await manager.__aexit__(None, None, None)
        except Exception as exc:
            return (f"the server at {where} has no usable Realtime API for model {model!r} "
                    f"(openai.realtime_model), which chat.voice.model = 'openai' needs: {type(exc).__name__}: {exc}"[:400])
        return None

    # -- start-up ---------------------------------------------------------------

    async def probe(self, *, judging: bool) -> str | None:
        """Ask the server once whether it answers, and (when ``judging``) which JSON output it supports.

        Returns a problem naming the setting that needs the missing capability, or None. With
        ``openai.judge_format = "auto"`` a server without json_schema is not a problem: the judge
        starts from the first format the server accepts.
        """
        where = self.config.azure.endpoint or self.config.base_url
        schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
        formats = list(self.judge_formats) if judging else ["text"]
        for judge_format in formats:
            call = self._judge_call(judge_format, "Answer with JSON.", 'Say {"ok": true}.', schema)
            call.update(model=self.judge_model if judging else self.model, **self._token_limit())
            try:
                await self.client.chat.completions.create(**call)
                return None
            except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
                if judge_format == formats[-1]:
                    setting = ("evaluator.model = 'openai' with openai.judge_format = "
                               f"{self.config.judge_format!r}" if judging else "chat.model = 'openai'")
                    return (f"the server at {where} does not support response_format {judge_format} "
                            f"({exc.status_code}), which {setting} needs")
                logger.warning("openai: the server at %s has no response_format %s; judging uses %s",
                               where, judge_format, formats[formats.index(judge_format) + 1])
                self.judge_formats.remove(judge_format)
            except openai.AuthenticationError as exc:
                return f"the server at {where} refused openai.api_key ({exc.status_code})"
            except openai.NotFoundError as exc:
                return f"the server at {where} has no model {call['model']!r} (openai.model / openai.judge_model): {exc.status_code}"
            except Exception as exc:
                if is_call_failure(exc):
                    return f"the server at {where} (openai.base_url) could not be used: {provider_error(exc)}"
                raise
        return None

    async def close(self) -> None:
        if self._client is not None:
            try:
                await self._client.close()
            except Exception:  # closing is best effort at shutdown
                logger.debug("closing the openai client failed", exc_info=True)
