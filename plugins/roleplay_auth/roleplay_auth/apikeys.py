"""Service accounts and their API keys: for integrations (an LMS, an HR system, a script).

An admin creates a service account with a name, roles and an optional expiry; the answer shows
its API key once (``rp_`` and 43 URL-safe characters: 256 random bits). Only the key's SHA-256
is stored, so a stolen storage dump holds no usable key; a fast hash is enough for a random key
of that length (a password needs argon2 because people choose guessable ones). The caller sends
it as ``Authorization: Bearer rp_...`` or ``X-API-Key: rp_...``, or as the ``token`` of a
WebSocket's auth frame; the kernel asks this module through its ``authenticate_request`` hook
after its own JWT check refused the token.

Keys (under ``auth/``):

- ``auth/service-accounts/<id>``: the :class:`ServiceAccount` (no key), written with
  compare-and-swap; ``revoked_at`` set by a revocation, never deleted (the audit names it).
- ``auth/api-keys/<sha256 hex>``: the id of the account whose key hashes so: the lookup of a
  presented key. Deleted when the account is revoked.

Verified keys are cached per kernel for ``auth.api_keys.cache_seconds`` (5 s by default), so a
busy integration costs one storage read per key per few seconds; a revocation on another
server takes effect within that time, on this one at once. ``last_used_at`` is written at most
once a minute per key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
import time
from typing import Any

import attrs

from roleplay_core import ROLES, NotFound, PreconditionFailed, Principal, converter
from roleplay_core.storage import time_ordered_id

PREFIX = "rp_"
ACCOUNT_PREFIX = "auth/service-accounts/"
KEY_PREFIX = "auth/api-keys/"
#: Service-account principals' ids start so: ``check_principal`` and the admin routes tell them from people.
ID_PREFIX = "sa-"
LAST_USED_EVERY = 60.0


@attrs.frozen(kw_only=True)
class ServiceAccount:
    id: str
    name: str
    roles: tuple[str, ...]
    created_at: str
    created_by: str
    #: ISO 8601, or ``None`` for a key that does not expire.
    expires_at: str | None = None
    last_used_at: str | None = None
    revoked_at: str | None = None
    revoked_by: str | None = None
    #: The first characters of the key (``rp_AbCd``): enough for a person to tell keys apart.
    key_hint: str = ""

    def expires_ts(self) -> float | None:
        return dt.datetime.fromisoformat(self.expires_at).timestamp() if self.expires_at else None

    def active(self, now: float) -> bool:
        expires = self.expires_ts()
        return self.revoked_at is None and (expires is None or now < expires)

    def public(self) -> dict[str, Any]:
        return {**converter.unstructure(self), "roles": list(self.roles),
                "status": "revoked" if self.revoked_at else "expired" if not self.active(time.time()) else "active"}


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat()


class ApiKeys:
    """Service accounts on one kernel's storage, with a short cache of verified keys."""

    def __init__(self, storage: Any, cache_seconds: float = 5.0) -> None:
        self.storage = storage
        self.cache_seconds = cache_seconds
        #: digest -> (account, checked at); last use written -> digest -> time
        self._cache: dict[str, tuple[ServiceAccount, float]] = {}
        self._used: dict[str, float] = {}

    async def create(self, *, name: str, roles: tuple[str, ...], created_by: str,
                     expires_at: float | None = None) -> tuple[ServiceAccount, str]:
        """A new service account and its key (the only time the key is seen)."""
        key = new_key()
        account = ServiceAccount(id=ID_PREFIX + time_ordered_id(8), name=name, roles=roles, created_at=_iso(time.time()),
                                 created_by=created_by, expires_at=_iso(expires_at) if expires_at else None,
                                 key_hint=key[:7])
        await self.storage.put(ACCOUNT_PREFIX + account.id, _encode(account), if_absent=True)
        await self.storage.put(KEY_PREFIX + key_digest(key), json.dumps({"account": account.id}).encode(),
                               if_absent=True)
        return account, key

    async def get(self, account_id: str) -> ServiceAccount | None:
        if not account_id.startswith(ID_PREFIX):
            return None
        try:
            return _decode((await self.storage.get(ACCOUNT_PREFIX + account_id)).data)
        except (NotFound, ValueError):  # ValueError: an id that is no valid key
            return None

    async def list(self) -> list[ServiceAccount]:
        found = []
        for key in await self.storage.list_all(ACCOUNT_PREFIX):
            try:
                found.append(_decode((await self.storage.get(key)).data))
            except NotFound:
                continue
        return found

    async def revoke(self, account_id: str, by: str) -> ServiceAccount | None:
        """Revoke the account (idempotent); ``None`` if there is none."""
        while True:
            try:
                record = await self.storage.get(ACCOUNT_PREFIX + account_id)
            except (NotFound, ValueError):
                return None
            account = _decode(record.data)
            if account.revoked_at is not None:
                return account
            revoked = attrs.evolve(account, revoked_at=_iso(time.time()), revoked_by=by)
            try:
                await self.storage.put(ACCOUNT_PREFIX + account_id, _encode(revoked), if_version=record.version)
            except PreconditionFailed:
                continue
            break
        for key in await self.storage.list_all(KEY_PREFIX):
            try:
                if json.loads((await self.storage.get(key)).data).get("account") == account_id:
                    await self.storage.delete(key)
                    self._cache.pop(key[len(KEY_PREFIX):], None)
            except NotFound:
                continue
        return revoked

    async def principal(self, key: str) -> Principal | None:
        """The principal of an active key, or ``None`` (not ours, unknown, revoked, expired)."""
        if not key.startswith(PREFIX) or len(key) > 100:
            return None
        digest = key_digest(key)
        now = time.time()
        cached = self._cache.get(digest)
        if cached is not None and now - cached[1] < self.cache_seconds:
            account = cached[0]
        else:
            try:
                account_id = json.loads((await self.storage.get(KEY_PREFIX + digest)).data)["account"]
            except NotFound:
                self._cache.pop(digest, None)
                return None
            account = await self.get(account_id)
            if account is None:
                return None
            self._cache[digest] = (account, now)
        if not account.active(now):
            return None
        if now - self._used.get(digest, 0.0) >= LAST_USED_EVERY:
            self._used[digest] = now
            await self._touch(account.id, now)
        return Principal(id=account.id, roles=account.roles, expires_at=account.expires_ts())

    async def _touch(self, account_id: str, now: float) -> None:
        """Record the last use; a lost race only loses a timestamp, so one try."""
        try:
            record = await self.storage.get(ACCOUNT_PREFIX + account_id)
            account = attrs.evolve(_decode(record.data), last_used_at=_iso(now))
            await self.storage.put(ACCOUNT_PREFIX + account_id, _encode(account), if_version=record.version)
        except (NotFound, PreconditionFailed):
            pass


def _encode(account: ServiceAccount) -> bytes:
    return json.dumps(converter.unstructure(account)).encode()


def _decode(data: bytes) -> ServiceAccount:
    return converter.structure(json.loads(data), ServiceAccount)


def valid_roles(roles: Any) -> bool:
    return isinstance(roles, list) and bool(roles) and all(isinstance(r, str) and r in ROLES for r in roles)
