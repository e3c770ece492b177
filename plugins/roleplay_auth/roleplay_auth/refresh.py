"""Refresh tokens: random, stored hashed, rotated on every use, grouped in families.

A login starts a family. Each refresh marks the presented token used (compare-and-swap)
and issues the next one in the same family. Presenting a used token again means it was
copied: the whole family is revoked, so the thief and the victim both have to sign in
again (OAuth 2.0 Security BCP, refresh token rotation).

Keys: ``auth/refresh/<sha256(token)>`` (never the token itself) and ``auth/families/<id>``.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
import uuid

import attrs

from roleplay_core import NotFound, PreconditionFailed, Storage


class RefreshError(Exception):
    """The refresh token is unknown, expired or revoked."""


class RefreshReused(RefreshError):
    """A used refresh token came back: its family is now revoked."""

    def __init__(self, user_id: str, family: str) -> None:
        super().__init__("refresh token reused")
        self.user_id = user_id
        self.family = family


@attrs.frozen
class Grant:
    """What a valid refresh token stands for."""

    user_id: str
    family: str
    epoch: int
    #: When the sign-in that started the family happened (seconds since the epoch; 0 if unknown):
    #: tokens refreshed later keep it, so a refresh never counts as a fresh sign-in.
    auth_time: float = 0.0


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class RefreshTokens:
    def __init__(self, storage: Storage, ttl: int) -> None:
        self.storage = storage
        self.ttl = int(ttl)

    @staticmethod
    def token_key(token: str) -> str:
        return f"auth/refresh/{_hash(token)}"

    @staticmethod
    def family_key(family: str) -> str:
        return f"auth/families/{family}"

    async def start(self, user_id: str, epoch: int, auth_time: float | None = None) -> str:
        """A new family (a new sign-in at ``auth_time``, default now) and its first token."""
        family = uuid.uuid4().hex
        now = time.time()
        body = {"user_id": user_id, "revoked": False, "created_at": now}
        await self.storage.put(self.family_key(family), json.dumps(body).encode(), if_absent=True)
        return await self._issue(Grant(user_id, family, epoch, now if auth_time is None else auth_time))

    async def _issue(self, grant: Grant) -> str:
        token = secrets.token_urlsafe(32)
        body = {"user_id": grant.user_id, "family": grant.family, "epoch": grant.epoch,
                "auth_time": grant.auth_time, "expires_at": time.time() + self.ttl, "used_at": None}
        await self.storage.put(self.token_key(token), json.dumps(body).encode(), if_absent=True)
        return token

    async def use(self, token: str) -> Grant:
        """Spend ``token`` once; raise :class:`RefreshReused` if it was spent before."""
        if not isinstance(token, str) or not token or len(token) > 200:
            raise RefreshError("malformed refresh token")
        try:
            record = await self.storage.get(self.token_key(token))
        except NotFound:
            raise RefreshError("unknown refresh token") from None
        body = json.loads(record.data)
        grant = Grant(body["user_id"], body["family"], int(body.get("epoch", 0)), float(body.get("auth_time") or 0))
        if body.get("used_at") is not None:
            await self.revoke_family(grant.family)
            raise RefreshReused(grant.user_id, grant.family)
        if body["expires_at"] < time.time():
            raise RefreshError("refresh token expired")
        if await self.family_revoked(grant.family):
            raise RefreshError("refresh token revoked")
        body["used_at"] = time.time()
        try:
            await self.storage.put(self.token_key(token), json.dumps(body).encode(), if_version=record.version)
        except PreconditionFailed:
            # Two requests spent the same token at once: one of them is not the owner.
            await self.revoke_family(grant.family)
            raise RefreshReused(grant.user_id, grant.family) from None
        return grant

    async def rotate(self, grant: Grant, epoch: int) -> str:
        """The next token of ``grant``'s family."""
        return await self._issue(Grant(grant.user_id, grant.family, epoch, grant.auth_time))

    async def family_revoked(self, family: str) -> bool:
        try:
            return bool(json.loads((await self.storage.get(self.family_key(family))).data)["revoked"])
        except NotFound:
            return True

    async def revoke_family(self, family: str) -> None:
        for _ in range(20):
            try:
                record = await self.storage.get(self.family_key(family))
            except NotFound:
                return
            body = json.loads(record.data)
            if body["revoked"]:
                return
            body["revoked"] = True
            try:
                await self.storage.put(self.family_key(family), json.dumps(body).encode(), if_version=record.version)
                return
            except PreconditionFailed:
                continue

    async def revoke(self, token: str) -> None:
        """Log out: revoke the family of ``token`` if it is one of ours (silently otherwise)."""
        if not isinstance(token, str) or not token or len(token) > 200:
            return
        try:
            body = json.loads((await self.storage.get(self.token_key(token))).data)
        except NotFound:
            return
        await self.revoke_family(body["family"])
