"""The ``gemini`` model provider: streamed character replies, structured judging, Live speech."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

import attrs
import cattrs
from google.genai import errors, types

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
    converter,
)

from . import prompts
from .client import make_client

logger = logging.getLogger("roleplay.gemini")

#: Top-level modules of the HTTP clients google-genai sends REST calls with: aiohttp when it is
#: installed, else httpx2 (its fork of httpx under another name). Their errors (a refused TLS
#: certificate, a dropped connection) share no base class with OSError, so they are known by module.
TRANSPORT_MODULES = frozenset({"aiohttp", "httpx", "httpcore", "httpx2", "httpcore2"})


@attrs.frozen(kw_only=True)
class JudgeOutput:
    """The judge's JSON answer, structured strictly (unknown keys and wrong types are errors)."""

    criteria: tuple[CriterionJudgement, ...]


def provider_error(exc: BaseException) -> ProviderError:
    """A safe-to-show message for an SDK or network failure."""
    if isinstance(exc, errors.APIError):
        return ProviderError(f"Gemini answered {exc.code} {exc.status or ''}: {exc.message or ''}".strip())
    return ProviderError(f"Gemini could not be reached: {type(exc).__name__}: {exc}"[:300])


def is_call_failure(exc: BaseException) -> bool:
    """An API answer or a network/TLS failure (to report as :class:`ProviderError`), not a bug of ours."""
    return (isinstance(exc, (errors.APIError, OSError, TimeoutError))
            or type(exc).__module__.split(".")[0] in TRANSPORT_MODULES)


def safety_settings(configured: Mapping[str, str] | None) -> list[types.SafetySetting] | None:
    if not configured:
        return None
    return [types.SafetySetting(category=category.upper(), threshold=str(threshold).upper())
            for category, threshold in configured.items()]


class GeminiProvider(ModelProvider):
    """Plays characters and judges transcripts with Gemini; holds Live speech sessions."""

    name = "gemini"
    capabilities = frozenset({"reply", "judge", "live"})

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.settings = kernel.settings
        self._client = None

    @property
    def client(self):
        # Built on first use so a kernel without Gemini credentials still starts.
        if self._client is None:
            self._client = make_client(self.config)
        return self._client

    @property
    def config(self) -> Any:
        """The kernel's typed ``gemini`` settings (``GeminiSettings``)."""
        return self.kernel.typed_settings("gemini")

    # -- text -----------------------------------------------------------------

    async def reply(self, request: ReplyRequest) -> AsyncIterator[ReplyDelta | Reply]:
        """Stream the character's answer to the last learner message."""
        model = self.config.text_model
        config = types.GenerateContentConfig(
            system_instruction=prompts.character_instruction(request.script, request.character,
                                                               language=request.language),
            temperature=self.config.temperature,
            max_output_tokens=self.config.max_output_tokens,
            safety_settings=safety_settings(self.config.safety_settings),
            seed=request.seed or None,
        )
        contents = prompts.history_contents(request.script, request.character, request.history)
        pieces: list[str] = []
        finish = None
        try:
            stream = await self.client.aio.models.generate_content_stream(model=model, contents=contents, config=config)
            async for chunk in stream:
                text = _text_of(chunk)
                if chunk.candidates and chunk.candidates[0].finish_reason:
                    finish = str(chunk.candidates[0].finish_reason.value)
                if text:
                    pieces.append(text)
                    yield ReplyDelta(text)
        except Exception as exc:
            if is_call_failure(exc):
                raise provider_error(exc) from exc
            raise
        text = "".join(pieces).strip()
        if not text:
            raise ProviderError(f"Gemini returned no text (finish reason {finish or 'unknown'})")
        yield Reply(text=text, state=dict(request.state), info={"model": model, "finish_reason": finish})

    async def judge(self, request: JudgeRequest) -> Judgement:
        """Score the criteria with JSON output against a schema; retry a malformed answer."""
        model = self.config.judge_model
        prompt = prompts.judge_prompt(request)
        config = types.GenerateContentConfig(
            system_instruction=prompt.instruction,
            temperature=self.config.judge_temperature,
            safety_settings=safety_settings(self.config.safety_settings),
            response_mime_type="application/json",
            response_json_schema=prompt.schema,
        )
        contents = [types.Content(role="user", parts=[types.Part(text=prompt.text)])]
        attempts = self.config.judge_attempts
        problem = ""
        for _ in range(attempts):
            try:
                response = await self.client.aio.models.generate_content(model=model, contents=contents, config=config)
            except Exception as exc:
                if is_call_failure(exc):
                    raise provider_error(exc) from exc
                raise
            try:
                return self._judgement(request, _text_of(response), model)
            except ValueError as exc:
                problem = str(exc)
                logger.warning("gemini judge answer rejected: %s", problem)
        raise ProviderError(f"Gemini's judgement was not valid after {attempts} attempts: {problem}"[:400])

    def _judgement(self, request: JudgeRequest, text: str, model: str) -> Judgement:
        try:
            output = converter.structure(json.loads(text), JudgeOutput)
        except (json.JSONDecodeError, cattrs.BaseValidationError, TypeError) as exc:
            raise ValueError(f"the answer does not match the schema: {exc}") from None
        wanted = [c.id for c in request.criteria]
        got = [c.criterion_id for c in output.criteria]
        if sorted(got) != sorted(wanted):
            raise ValueError(f"expected one judgement for each of {wanted}, got {got}")
        # Quotes pass through as the model gave them: the evaluator checks each against the transcript,
        # drops the invented ones and tells the reader how many, which it could not if they vanished here.
        judged = sorted(output.criteria, key=lambda c: wanted.index(c.criterion_id))
        return Judgement(criteria=tuple(judged), model=f"gemini:{model}")

    # -- live -------------------------------------------------------------------

    async def connect_live(self, request: LiveRequest) -> LiveSession:
        """Open a Live speech session (see :class:`roleplay_gemini.live.GeminiLiveSession`)."""
        from .live import GeminiLiveSession

        session = GeminiLiveSession(self, request)
        await session.start()
        return session

    async def close(self) -> None:
        if self._client is not None:
            try:
                await self._client.aio.aclose()
            except Exception:  # closing is best effort at shutdown
                logger.debug("closing the gemini client failed", exc_info=True)


def _text_of(response: types.GenerateContentResponse) -> str:
    """The text parts of the first candidate (``response.text`` warns on mixed parts)."""
    if not response.candidates or not response.candidates[0].content:
        return ""
    return "".join(part.text or "" for part in response.candidates[0].content.parts or [] if not part.thought)
