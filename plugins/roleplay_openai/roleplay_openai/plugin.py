"""Hook implementations of the `openai` plugin: settings, their checks, the start-up probe and the provider."""

from __future__ import annotations

import logging
import os
import tomllib
from typing import Any

import attrs

from roleplay_core import existing_file, hookimpl, http_url

#: OpenAI's own endpoint: ``openai.base_url`` unless set.
OPENAI_BASE_URL = "https://api.openai.com/v1"
#: The ways the judge asks for JSON, most structured first (``openai.judge_format``).
JUDGE_FORMATS = ("json_schema", "json_object", "text")

logger = logging.getLogger("roleplay.openai")

DEFAULTS: dict[str, Any] = {
    # OpenAI's endpoint, or any OpenAI-compatible server: "http://127.0.0.1:11434/v1" (Ollama),
    # "http://127.0.0.1:8000/v1" (vLLM), "http://127.0.0.1:8080/v1" (llama.cpp), "http://127.0.0.1:1234/v1" (LM Studio).
    "base_url": OPENAI_BASE_URL,
    # Secret: set ROLEPLAY_OPENAI__API_KEY or put it in .secrets.toml, never in settings.toml. Empty: the
    # SDK's OPENAI_API_KEY (AZURE_OPENAI_API_KEY for Azure), else no key at all (local servers need none).
    "api_key": "",
    "model": "gpt-4o-mini",
    # Empty: `model`.
    "judge_model": "",
    # Realtime voice (chat.voice.model = "openai"): the model and the voice a character without its own speaks with.
    "realtime_model": "gpt-realtime",
    "voice": "alloy",
    "organization": "",
    "project": "",
    # Seconds per HTTP request, and how many times the SDK retries 408/409/429/5xx and connection
    # failures (honouring Retry-After).
    "timeout": 60.0,
    "max_retries": 2,
    # Headers sent with every request, for example a gateway's routing or tenant header.
    "extra_headers": {},
    # An extra PEM CA bundle to trust (a private server, a corporate TLS proxy, the local test server).
    "ca_file": "",
    "temperature": 0.8,
    "judge_temperature": 0.0,
    # The longest reply in tokens (0: the server's own limit).
    "max_tokens": 1024,
    # How the judge asks for JSON: "auto" tries json_schema (strict), then json_object with the schema
    # in the prompt, then plain text, as far as the server refuses each; or pin one of them.
    "judge_format": "auto",
    "judge_attempts": 2,
    # Azure OpenAI instead of base_url: the resource endpoint, the deployment (it replaces `model` in
    # the URL) and the data-plane API version.
    "azure": {"endpoint": "", "deployment": "", "api_version": "2024-10-21"},
    "realtime": {
        "transcription_model": "gpt-4o-mini-transcribe",
        # Server VAD: how loud speech must be (0-1), how long a pause ends a turn, audio kept before speech.
        "vad_threshold": 0.5,
        "silence_duration_ms": 500,
        "prefix_padding_ms": 300,
        # New connections after a dropped one (the conversation is re-sent each time).
        "max_reconnects": 5,
        # Audio per input_audio_buffer.append, in milliseconds.
        "frame_ms": 40,
        "event_buffer": 256,
    },
}

_POSITIVE = attrs.validators.gt(0)
_ONE_OR_MORE = attrs.validators.ge(1)
_ZERO_OR_MORE = attrs.validators.ge(0)


def _header_values(instance: Any, attribute: Any, value: dict[str, Any]) -> None:
    if not all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value.values()):
        raise ValueError(f"'{attribute.name}' must be a table of header names to text values")


def _judge_format(instance: Any, attribute: Any, value: str) -> None:
    if value and value not in ("auto", *JUDGE_FORMATS):
        raise ValueError(f"'{attribute.name}' must be one of auto, {', '.join(JUDGE_FORMATS)}, not {value!r}")


@attrs.frozen(kw_only=True)
class Azure:
    endpoint: str = attrs.field(validator=http_url)
    deployment: str
    api_version: str


@attrs.frozen(kw_only=True)
class Realtime:
    transcription_model: str
    vad_threshold: float = attrs.field(validator=_ZERO_OR_MORE)
    silence_duration_ms: int = attrs.field(validator=_ZERO_OR_MORE)
    prefix_padding_ms: int = attrs.field(validator=_ZERO_OR_MORE)
    max_reconnects: int = attrs.field(validator=_ZERO_OR_MORE)
    frame_ms: int = attrs.field(validator=_ONE_OR_MORE)
    event_buffer: int = attrs.field(validator=_ONE_OR_MORE)


@attrs.frozen(kw_only=True)
class OpenAISettings:
    """The ``openai`` table, structured by the kernel's strict converter (``settings_schema``)."""

    base_url: str = attrs.field(validator=http_url)
    api_key: str = attrs.field(repr=False)
    model: str
    judge_model: str
    realtime_model: str
    voice: str
    organization: str
    project: str
    #: Seconds per HTTP request.
    timeout: float = attrs.field(validator=_POSITIVE)
    max_retries: int = attrs.field(validator=_ZERO_OR_MORE)
    extra_headers: dict[str, Any] = attrs.field(validator=_header_values)
    ca_file: str = attrs.field(validator=existing_file)
    temperature: float = attrs.field(validator=_ZERO_OR_MORE)
    judge_temperature: float = attrs.field(validator=_ZERO_OR_MORE)
    #: Tokens; 0: the server's own limit.
    max_tokens: int = attrs.field(validator=_ZERO_OR_MORE)
    judge_format: str = attrs.field(validator=_judge_format)
    judge_attempts: int = attrs.field(validator=_ONE_OR_MORE)
    azure: Azure
    realtime: Realtime


#: The settings that switch this provider on for one use each.
USES = ("chat.model", "evaluator.model", "chat.voice.model")


def uses(settings: Any) -> list[str]:
    """The settings that name this provider, for example ``["chat.model", "evaluator.model"]``."""
    return [key for key in USES if settings.get(key) == "openai"]


def needs_key(settings: Any) -> bool:
    """OpenAI's own endpoint and Azure always want a key; a local or private server may not."""
    if settings.get("openai.azure.endpoint"):
        return True
    return (settings.get("openai.base_url") or OPENAI_BASE_URL).rstrip("/").startswith("https://api.openai.com")


def key_in_plain_settings_files() -> list[str]:
    """The settings files other than ``.secrets.toml`` that hold an ``openai.api_key`` value: secrets
    belong in the environment or ``.secrets.toml`` (kept out of version control), never in
    ``settings.toml``. The files are the kernel's (``ROLEPLAY_SETTINGS_FILES`` or the defaults)."""
    listed = os.environ.get("ROLEPLAY_SETTINGS_FILES")
    files = listed.split(",") if listed else ["settings.toml"]
    found = []
    for name in files:
        if name.strip().endswith(".secrets.toml") or not os.path.isfile(name.strip()):
            continue
        try:
            with open(name.strip(), "rb") as handle:
                data = tomllib.load(handle)
        except (OSError, tomllib.TOMLDecodeError):
            continue  # the kernel reports an unreadable settings file itself
        for section in data.values():
            if isinstance(section, dict) and (section.get("openai") or {}).get("api_key"):
                found.append(name.strip())
                break
    return found


@hookimpl
def settings_defaults(env):
    return {"openai": DEFAULTS}


@hookimpl
def settings_schema():
    return {"openai": OpenAISettings}


@hookimpl
def validate_settings(settings):
    """Rules across keys and environments (each key's type and range is ``OpenAISettings``)."""
    problems: list[str] = []
    used = uses(settings)
    if settings.env != "development":
        for name in key_in_plain_settings_files():
            problems.append(f"openai.api_key is a secret: move it out of {name} into ROLEPLAY_OPENAI__API_KEY "
                            "or .secrets.toml")
    if used and not (settings.get("openai.model") or settings.get("openai.azure.deployment")):
        problems.append(f"openai.model must be set when {' and '.join(used)} use openai")
    if settings.get("openai.azure.endpoint") and not settings.get("openai.azure.api_version"):
        problems.append("openai.azure.api_version must be set when openai.azure.endpoint is")
    if used and settings.env != "development" and needs_key(settings):
        env = "AZURE_OPENAI_API_KEY" if settings.get("openai.azure.endpoint") else "OPENAI_API_KEY"
        if not (settings.get("openai.api_key") or os.environ.get(env)):
            problems.append(f"openai.api_key must be set (ROLEPLAY_OPENAI__API_KEY, .secrets.toml or {env}) when "
                            f"{' and '.join(used)} use openai at {settings.get('openai.azure.endpoint') or settings.get('openai.base_url')}")
    return problems


@hookimpl
async def startup(kernel):
    """Outside development, ask the server once whether it does what the settings need, and refuse to
    start with a message naming the missing capability and the setting that needs it."""
    used = uses(kernel.settings)
    if not used or kernel.settings.env == "development":
        return
    provider = kernel.model("openai")
    problem = None
    if "chat.model" in used or "evaluator.model" in used:
        problem = await provider.probe(judging="evaluator.model" in used)
    if not problem and "chat.voice.model" in used:
        problem = await provider.probe_realtime()
    if problem:
        raise RuntimeError(f"openai: {problem}")


@hookimpl
def register_model_providers():
    return {"openai": _provider}


def _provider(kernel: Any) -> Any:
    # The openai SDK (and httpx) load on first use, not at every start: a server or CLI command
    # that never calls an OpenAI-compatible model does not pay for importing them.
    from .provider import OpenAIProvider

    return OpenAIProvider(kernel)
