"""Hook implementations of the `gemini` plugin: settings and the ``gemini`` model provider."""

from __future__ import annotations

import os
from typing import Any

import attrs

from roleplay_core import existing_file, hookimpl, http_url

DEFAULTS: dict[str, Any] = {
    # API key for the Gemini Developer API. Set it through ROLEPLAY_GEMINI__API_KEY or
    # .secrets.toml; when empty the SDK's own GEMINI_API_KEY / GOOGLE_API_KEY env vars apply.
    "api_key": "",
    # Vertex AI instead of an API key: credentials come from Application Default Credentials
    # (GOOGLE_APPLICATION_CREDENTIALS or the metadata server).
    "vertexai": False,
    "project": "",
    "location": "us-central1",
    # A proxy or a test server, for example "https://127.0.0.1:8443/". Empty: Google's endpoint.
    "base_url": "",
    "api_version": "v1beta",
    # An extra PEM CA bundle to trust (corporate TLS proxies, the local test server).
    "ca_file": "",
    "text_model": "gemini-2.5-flash",
    "judge_model": "gemini-2.5-pro",
    "live_model": "gemini-live-2.5-flash-preview",
    "temperature": 0.8,
    "judge_temperature": 0.0,
    "max_output_tokens": 1024,
    # {"HARM_CATEGORY_HARASSMENT": "BLOCK_ONLY_HIGH", ...}; empty: the service's defaults.
    "safety_settings": {},
    "timeout": 60.0,
    "retries": 3,
    "judge_attempts": 2,
    # The prebuilt voice a character without its own `voice` speaks with.
    "voice": "Kore",
    "live": {
        "context_compression": True,
        "compression_trigger_tokens": 0,
        "max_reconnects": 5,
        "silence_duration_ms": 500,
        "prefix_padding_ms": 100,
        "event_buffer": 256,
        # Audio per realtimeInput message, in milliseconds.
        "frame_ms": 40,
        # permessage-deflate on the Live WebSocket: off, base64 PCM gains little for its CPU cost.
        "compression": False,
        # Audio frames and server content as plain JSON, not through the SDK's models (a fifth of
        # the CPU per frame); false: every message through google-genai. Vertex AI always uses the SDK.
        "direct_audio": True,
    },
}


_POSITIVE = attrs.validators.gt(0)
_ONE_OR_MORE = attrs.validators.ge(1)
_ZERO_OR_MORE = attrs.validators.ge(0)


@attrs.frozen(kw_only=True)
class Live:
    """``gemini.live``: the Live API (voice)."""

    context_compression: bool
    #: Tokens; 0: the service's default.
    compression_trigger_tokens: int = attrs.field(validator=_ZERO_OR_MORE)
    max_reconnects: int = attrs.field(validator=_ZERO_OR_MORE)
    silence_duration_ms: int = attrs.field(validator=_ZERO_OR_MORE)
    prefix_padding_ms: int = attrs.field(validator=_ZERO_OR_MORE)
    event_buffer: int = attrs.field(validator=_ONE_OR_MORE)
    frame_ms: int = attrs.field(validator=_ONE_OR_MORE)
    compression: bool
    direct_audio: bool


@attrs.frozen(kw_only=True)
class GeminiSettings:
    """The ``gemini`` table, structured by the kernel's strict converter (``settings_schema``)."""

    api_key: str = attrs.field(repr=False)
    vertexai: bool
    project: str
    location: str
    base_url: str = attrs.field(validator=http_url)
    api_version: str
    ca_file: str = attrs.field(validator=existing_file)
    text_model: str
    judge_model: str
    live_model: str
    temperature: float = attrs.field(validator=_ZERO_OR_MORE)
    judge_temperature: float = attrs.field(validator=_ZERO_OR_MORE)
    max_output_tokens: int = attrs.field(validator=_ONE_OR_MORE)
    safety_settings: dict[str, str]
    #: Seconds per request.
    timeout: float = attrs.field(validator=_POSITIVE)
    retries: int = attrs.field(validator=_ONE_OR_MORE)
    judge_attempts: int = attrs.field(validator=_ONE_OR_MORE)
    voice: str
    live: Live


@hookimpl
def settings_defaults(env):
    return {"gemini": DEFAULTS}


@hookimpl
def settings_schema():
    return {"gemini": GeminiSettings}


@hookimpl
def validate_settings(settings):
    """Rules across keys and environments (each key's type and range is ``GeminiSettings``)."""
    problems: list[str] = []
    # Voice alone (chat.voice.model) talks to Gemini just as much as typed chat does.
    uses_gemini = "gemini" in (settings.get("chat.model"), settings.get("evaluator.model"),
                               settings.get("chat.voice.model"))
    if uses_gemini and settings.env != "development":
        has_key = settings.get("gemini.api_key") or os.environ.get("GEMINI_API_KEY") or os.environ.get("GOOGLE_API_KEY")
        if settings.get("gemini.vertexai"):
            if not settings.get("gemini.project"):
                problems.append("gemini.project must be set when gemini.vertexai is true")
        elif not has_key:
            problems.append("gemini.api_key must be set (or gemini.vertexai = true) when chat, voice or the evaluator "
                            "uses gemini")
    return problems


@hookimpl
def register_model_providers():
    return {"gemini": _provider}


def _provider(kernel: Any) -> Any:
    # google-genai (and its HTTP clients) load on first use, not at every start: a server or CLI
    # command that never calls Gemini does not pay for importing them.
    from .provider import GeminiProvider

    return GeminiProvider(kernel)
