"""Delete auth records that can no longer matter: expired sign-ins, refresh tokens, counters."""

from __future__ import annotations

import json
import time
from typing import Any

from roleplay_core import NotFound, PreconditionFailed, Storage


async def prune(storage: Storage, *, throttle_rules: dict[str, Any], now: float | None = None) -> dict[str, int]:
    """Delete expired records under ``auth/``; return how many of each kind went.

    Safe to run from any process at any time: each delete is conditional on the
    version that was read, so a record rewritten meanwhile is left alone.
    """
    now = time.time() if now is None else now
    counts = {"oauth_pending": 0, "refresh_tokens": 0, "throttle": 0, "known": 0, "limits": 0}

    def pending_expired(body: dict) -> bool:
        return body.get("expires_at", 0) < now

    def refresh_expired(body: dict) -> bool:
        return body.get("expires_at", 0) < now

    def throttle_expired(kind: str, body: dict) -> bool:
        rule = throttle_rules.get(kind) or (throttle_rules.get("account") if kind == "pair" else None) or {}
        window = float(rule.get("window_seconds", 900))
        return body.get("locked_until", 0) < now and body.get("window_start", 0) + window < now

    counts["oauth_pending"] = await _sweep(storage, "auth/oauth/pending/", pending_expired)
    counts["refresh_tokens"] = await _sweep(storage, "auth/refresh/", refresh_expired)
    for kind in ("account", "client", "pair"):
        counts["throttle"] += await _sweep(storage, f"auth/throttle/{kind}/", lambda b, k=kind: throttle_expired(k, b))
    counts["limits"] = await _sweep(storage, "auth/limits/",
                                    lambda b: b.get("window_start", 0) + b.get("window_seconds", 0) < now)
    known_seconds = float(throttle_rules.get("known_days", 90)) * 86400
    counts["known"] = await _sweep(storage, "auth/known/", lambda b: b.get("at", 0) + known_seconds < now)
    return counts


async def _sweep(storage: Storage, prefix: str, expired) -> int:
    deleted = 0
    for key in await storage.list_all(prefix):
        try:
            record = await storage.get(key)
            if expired(json.loads(record.data)):
                await storage.delete(key, if_version=record.version)
                deleted += 1
        except (NotFound, PreconditionFailed, ValueError, KeyError):
            continue
    return deleted


async def prune_pending(storage: Storage, now: float | None = None) -> int:
    """Delete expired pending OAuth sign-ins only (the part of :func:`prune` servers run on their own)."""
    now = time.time() if now is None else now
    return await _sweep(storage, "auth/oauth/pending/", lambda body: body.get("expires_at", 0) < now)
