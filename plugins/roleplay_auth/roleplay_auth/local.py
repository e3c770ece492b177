"""The ``local`` auth provider: email and password."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from roleplay_core import AuthProvider, ExternalIdentity

from .emails import normalise
from .passwords import Passwords
from .users import UserStore


class LocalPasswordProvider(AuthProvider):
    """Checks an email and password against the stored argon2id hash.

    An unknown email (or an account without a password) is verified against a
    dummy hash, so both take the same time and answer the same ``None``.
    A valid login whose hash was made with older parameters is rehashed.
    """

    name = "local"
    display_name = "Email and password"
    kind = "password"

    def __init__(self, users: UserStore, passwords: Passwords) -> None:
        self.users = users
        self.passwords = passwords

    async def authenticate(self, credentials: Mapping[str, Any]) -> ExternalIdentity | None:
        email = normalise(str(credentials.get("email", "")))
        password = str(credentials.get("password", ""))
        user = await self.users.by_email(email) if email else None
        if user is None or not user.password_hash:
            return await self.passwords.verify_dummy(password) or None
        if not await self.passwords.verify(user.password_hash, password):
            return None
        if self.passwords.needs_rehash(user.password_hash):
            await self._rehash(user.id, user.password_hash, password)
        return ExternalIdentity(provider=self.name, subject=user.id, email=user.email, email_verified=False,
                                display_name=user.display_name)

    async def _rehash(self, user_id: str, old_hash: str, password: str) -> None:
        new_hash = await self.passwords.hash(password)

        def change(user):
            # Only replace the hash we verified: a concurrent password change wins.
            return attrs.evolve(user, password_hash=new_hash) if user.password_hash == old_hash else user

        await self.users.update(user_id, change)
