"""Build the ``google-genai`` client from ``gemini.*`` settings, using only its public options."""

from __future__ import annotations

import ssl
from typing import Any

import certifi
from google import genai
from google.genai import types

from roleplay_core import Settings

#: HTTP statuses worth retrying: rate limits and transient server failures.
RETRY_STATUSES = [408, 429, 500, 502, 503, 504]


def ssl_context(ca_file: str) -> ssl.SSLContext:
    """The usual public roots plus ``ca_file``, for a corporate proxy or a test server."""
    context = ssl.create_default_context(cafile=certifi.where())
    context.load_verify_locations(cafile=ca_file)
    return context


def http_options(settings: Settings) -> types.HttpOptions:
    """Base URL, API version, timeout, retries and the extra CA as ``HttpOptions``."""
    options: dict[str, Any] = {
        "api_version": settings.get("gemini.api_version") or "v1beta",
        # HttpOptions.timeout is in milliseconds; the setting is in seconds.
        "timeout": int(float(settings.get("gemini.timeout", 60)) * 1000),
        "retry_options": types.HttpRetryOptions(
            attempts=int(settings.get("gemini.retries", 3)),
            initial_delay=0.2,
            max_delay=5.0,
            http_status_codes=RETRY_STATUSES,
        ),
    }
    if settings.get("gemini.base_url"):
        options["base_url"] = settings.get("gemini.base_url")
    async_args: dict[str, Any] = {}
    if not settings.get("gemini.live.compression", False):
        # The SDK hands `async_client_args` keys that websockets.connect accepts to the Live
        # connection: PCM in base64 barely compresses, so permessage-deflate only costs CPU.
        async_args["compression"] = None
    ca_file = settings.get("gemini.ca_file")
    if ca_file:
        context = ssl_context(ca_file)
        # httpx reads `verify`; aiohttp and the Live websocket read `ssl` (see HttpOptions docs).
        options["client_args"] = {"verify": context}
        async_args.update({"ssl": context, "verify": context})
    if async_args:
        options["async_client_args"] = async_args
    return types.HttpOptions(**options)


def make_client(settings: Settings) -> genai.Client:
    """A client for the Gemini Developer API (API key) or Vertex AI (ADC credentials)."""
    options = http_options(settings)
    if settings.get("gemini.vertexai"):
        return genai.Client(vertexai=True, project=settings.get("gemini.project") or None,
                            location=settings.get("gemini.location") or None, http_options=options)
    return genai.Client(api_key=settings.get("gemini.api_key") or None, http_options=options)
