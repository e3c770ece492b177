"""Auth providers: pluggable ways to prove who someone is."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
from starlette.requests import Request


@attrs.frozen(kw_only=True)
class ExternalIdentity:
    """Who a provider says the person is. ``(provider, subject)`` is stable and unique."""

    provider: str
    subject: str
    email: str | None = None
    email_verified: bool = False
    display_name: str | None = None
    claims: Mapping[str, Any] = attrs.field(factory=dict)


class AuthProvider:
    """Base class for auth providers registered through ``register_auth_providers``.

    ``kind = "password"`` providers implement :meth:`authenticate`;
    ``kind = "redirect"`` providers (OAuth / OIDC) implement
    :meth:`authorization_url` and :meth:`complete`.
    """

    name: str = "abstract"
    display_name: str = ""
    kind: str = "password"

    async def authenticate(self, credentials: Mapping[str, Any]) -> ExternalIdentity | None:
        """Return the identity for valid credentials, ``None`` for invalid ones."""
        raise NotImplementedError

    async def authorization_url(self, request: Request, redirect_uri: str) -> str:
        """Where to send the browser to sign in. Remember state/nonce/PKCE server-side or signed."""
        raise NotImplementedError

    async def complete(self, request: Request, redirect_uri: str) -> ExternalIdentity:
        """Finish the redirect flow from the callback request; raise on any failure."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """What a login screen needs to show this method."""
        return {"name": self.name, "display_name": self.display_name or self.name, "kind": self.kind}
