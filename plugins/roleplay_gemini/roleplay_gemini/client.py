"""Build the ``google-genai`` client from ``gemini.*`` settings, using only its public options."""

from __future__ import annotations

import ssl
from typing import Any

import certifi
from google import genai
from google.genai import types

#: HTTP statuses worth retrying: rate limits and transient server failures.
RETRY_STATUSES = [408, 429, 500, 502, 503, 504]


def ssl_context(ca_file: str) -> ssl.SSLContext:
    """The usual public roots plus ``ca_file``, for a corporate proxy or a test server."""
    context = ssl.create_default_context(cafile=certifi.where())
    context.load_verify_locations(cafile=ca_file)
    return context


def http_options(settings: Any) -> types.HttpOptions:
    """Base URL, API version, timeout, retries and the extra CA (of the typed ``gemini`` settings) as ``HttpOptions``."""
    options: dict[str, Any] = {
        "api_version": settings.api_version or "v1beta",
        # HttpOptions.timeout is in milliseconds; the setting is in seconds.
        "timeout": int(settings.timeout * 1000),
        "retry_options": types.HttpRetryOptions(
            attempts=settings.retries,
            initial_delay=0.2,
            max_delay=5.0,
            http_status_codes=RETRY_STATUSES,
        ),
    }
    if settings.base_url:
        options["base_url"] = settings.base_url
    async_args: dict[str, Any] = {}
    if not settings.live.compression:
        # The SDK hands `async_client_args` keys that websockets.connect accepts to the Live
        # connection: PCM in base64 barely compresses, so permessage-deflate only costs CPU.
        async_args["compression"] = None
    ca_file = settings.ca_file
    if ca_file:
        context = ssl_context(ca_file)
        # httpx reads `verify`; aiohttp and the Live websocket read `ssl` (see HttpOptions docs).
        options["client_args"] = {"verify": context}
        async_args.update({"ssl": context, "verify": context})
    if async_args:
        options["async_client_args"] = async_args
    return types.HttpOptions(**options)


def make_client(settings: Any) -> genai.Client:
    """A client for the Gemini Developer API (API key) or Vertex AI (ADC credentials), from the typed
    ``gemini`` settings (``GeminiSettings``)."""
    options = http_options(settings)
    if settings.vertexai:
        return genai.Client(vertexai=True, project=settings.project or None,
                            location=settings.location or None, http_options=options)
    return genai.Client(api_key=settings.api_key or None, http_options=options)
