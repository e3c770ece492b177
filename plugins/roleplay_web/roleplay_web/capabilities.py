"""``GET /capabilities``: what the server can do that the page must know before offering it.

Today that is voice: whether the provider that voice calls would use has live speech. The page
asks before showing the "Talk" mode, and explains how to set a model when there is none. The
rule is the one the voice endpoint applies (docs/voice.md, "Choosing the provider"):
``chat.voice.model`` when set, else ``chat.model``. The endpoint stays the authority: it refuses
a call with ``no_live_capability`` whatever this says, and the page handles that too.
"""

from __future__ import annotations

from typing import Any

import attrs
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .headers import SECURITY_HEADERS


@attrs.frozen(kw_only=True)
class VoiceCapability:
    """Whether voice practice works here: the provider voice calls would use, the setting naming it, why not."""

    available: bool
    provider: str
    setting: str
    reason: str | None


@attrs.frozen(kw_only=True)
class Capabilities:
    """What the page must know before offering a feature (``GET /capabilities``)."""

    voice: VoiceCapability


def voice(kernel: Any) -> dict[str, Any]:
    """``{"available", "provider", "setting", "reason"}`` for voice practice."""
    settings = kernel.settings
    setting = "chat.voice.model" if settings.get("chat.voice.model") else "chat.model"
    name = str(settings.get(setting) or "scripted")
    chat = any(info.name == "chat" and info.enabled for info in kernel.plugins)
    found = {"available": False, "provider": name, "setting": setting, "reason": None}
    if not chat:
        return {**found, "reason": "no_chat"}
    try:
        provider = kernel.model(name)
    except LookupError:
        return {**found, "reason": "no_live_provider"}
    if "live" not in provider.capabilities:
        return {**found, "reason": "no_live_capability"}
    return {**found, "available": True}


def endpoint(kernel: Any):
    async def capabilities(request: Request) -> Response:
        # Settings do not change while running, but providers are built lazily: ask each time.
        return JSONResponse({"voice": voice(kernel)}, headers={**SECURITY_HEADERS, "Cache-Control": "no-store"})

    return capabilities
