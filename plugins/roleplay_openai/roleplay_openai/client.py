"""Build the ``openai`` SDK's async client from ``openai.*`` settings, using only its public options."""

from __future__ import annotations

import os
import ssl
from typing import Any

import certifi
import openai

from .plugin import OPENAI_BASE_URL

#: Sent as the API key when none is configured: local servers (Ollama, llama.cpp, vLLM, LM Studio)
#: ignore it, and the SDK refuses to build a client without one.
NO_KEY = "no-key"


def ssl_context(ca_file: str) -> ssl.SSLContext:
    """The usual public roots plus ``ca_file``, for a corporate proxy, a private server or a test server."""
    context = ssl.create_default_context(cafile=certifi.where())
    context.load_verify_locations(cafile=ca_file)
    return context


def is_azure(settings: Any) -> bool:
    return bool(settings.azure.endpoint)


def api_key(settings: Any) -> str:
    """``openai.api_key``, else the SDK's own environment variable, else a placeholder for keyless servers."""
    env = "AZURE_OPENAI_API_KEY" if is_azure(settings) else "OPENAI_API_KEY"
    return settings.api_key or os.environ.get(env) or NO_KEY


def client_options(settings: Any) -> dict[str, Any]:
    """Timeout, retries, extra headers and the private CA: what every client kind shares."""
    options: dict[str, Any] = {
        "timeout": settings.timeout,
        "max_retries": settings.max_retries,
        "default_headers": {str(k): str(v) for k, v in settings.extra_headers.items()} or None,
    }
    ca_file = settings.ca_file
    if ca_file:
        # The SDK's default async client (its timeouts and connection limits), trusting the extra CA.
        options["http_client"] = openai.DefaultAsyncHttpxClient(verify=ssl_context(ca_file))
    return options


def make_client(settings: Any) -> openai.AsyncOpenAI:
    """An ``AsyncAzureOpenAI`` when ``openai.azure.endpoint`` is set, else an ``AsyncOpenAI`` on ``openai.base_url``
    (``settings``: the typed ``openai`` settings, ``OpenAISettings``)."""
    options = client_options(settings)
    if is_azure(settings):
        return openai.AsyncAzureOpenAI(
            azure_endpoint=settings.azure.endpoint,
            azure_deployment=settings.azure.deployment or None,
            api_version=settings.azure.api_version,
            api_key=api_key(settings),
            **options,
        )
    return openai.AsyncOpenAI(
        api_key=api_key(settings),
        base_url=settings.base_url or OPENAI_BASE_URL,
        organization=settings.organization or None,
        project=settings.project or None,
        **options,
    )
