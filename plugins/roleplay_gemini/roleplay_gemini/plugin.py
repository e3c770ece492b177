"""Hook implementations of the `gemini` plugin: settings and the ``gemini`` model provider."""

from __future__ import annotations

import math
import os
from typing import Any

from roleplay_core import hookimpl

from .provider import GeminiProvider

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
    },
}


#: Numeric settings: (type, smallest allowed value, what the number means).
NUMBERS: dict[str, tuple[type, float, str]] = {
    "timeout": (float, 0.001, "seconds"),
    "retries": (int, 1, "attempts"),
    "judge_attempts": (int, 1, "attempts"),
    "temperature": (float, 0, "sampling temperature"),
    "judge_temperature": (float, 0, "sampling temperature"),
    "max_output_tokens": (int, 1, "tokens"),
    "live.compression_trigger_tokens": (int, 0, "tokens, 0 for the service's default"),
    "live.max_reconnects": (int, 0, "reconnections"),
    "live.silence_duration_ms": (int, 0, "milliseconds"),
    "live.prefix_padding_ms": (int, 0, "milliseconds"),
    "live.event_buffer": (int, 1, "events"),
    "live.frame_ms": (int, 1, "milliseconds"),
}
DEFAULT_NUMBERS: dict[str, Any] = {
    key: DEFAULTS["live"][key[5:]] if key.startswith("live.") else DEFAULTS[key] for key in NUMBERS}


def _number_problem(key: str, value: Any, kind: type, least: float, meaning: str) -> str | None:
    """A problem naming ``key`` unless ``value`` is a number of ``kind`` (a numeric string counts,
    as environment variables may give one) of at least ``least``; checked before any conversion,
    so ``"abc"``, null or a list are reported, not raised."""
    wanted = "an integer" if kind is int else "a number"
    if isinstance(value, str):
        try:
            value = kind(value.strip())
        except ValueError:
            return f"{key} must be {wanted} ({meaning}), not {value!r}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"{key} must be {wanted} ({meaning}), not {type(value).__name__} {value!r}"
    if kind is int and not float(value).is_integer():
        return f"{key} must be {wanted} ({meaning}), not {value!r}"
    if not math.isfinite(value) or value < least:
        bound = "positive" if least and least < 1 else f"at least {least:g}"
        return f"{key} must be {bound} ({meaning}), not {value!r}"
    return None


@hookimpl
def settings_defaults(env):
    return {"gemini": DEFAULTS}


@hookimpl
def validate_settings(settings):
    problems: list[str] = []
    ca_file = settings.get("gemini.ca_file") or ""
    if ca_file and not os.path.isfile(ca_file):
        problems.append(f"gemini.ca_file names {ca_file!r}, which is not a file")
    base_url = settings.get("gemini.base_url") or ""
    if base_url and not base_url.startswith(("https://", "http://")):
        problems.append("gemini.base_url must start with https:// or http://")
    for key, (kind, least, meaning) in NUMBERS.items():
        problem = _number_problem(f"gemini.{key}", settings.get(f"gemini.{key}", DEFAULT_NUMBERS[key]),
                                  kind, least, meaning)
        if problem:
            problems.append(problem)
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
    return {"gemini": GeminiProvider}
