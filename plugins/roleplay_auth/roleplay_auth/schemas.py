"""The shapes the auth routes answer with, as attrs classes: what ``/openapi.json`` describes.

The handlers build these answers as dictionaries (``User.public()`` and friends); these classes
only describe them, and the schemathesis run (``tests/test_api_fuzz.py``) checks every answer
against them, so a field added to one side and not the other fails a test.
"""

from __future__ import annotations

from typing import Any

import attrs


@attrs.frozen(kw_only=True)
class AuthMethod:
    """One way to sign in to an account: the password, or an external (OIDC) identity."""

    id: str
    provider: str
    kind: str
    email: str | None
    created_at: str | None


@attrs.frozen(kw_only=True)
class PublicUser:
    """A user as the API shows them (never the password hash)."""

    id: str
    email: str | None
    display_name: str
    preferred_language: str | None
    roles: list[str]
    disabled: bool
    created_at: str
    updated_at: str


@attrs.frozen(kw_only=True)
class UserDetail(PublicUser):
    """A user with their sign-in methods."""

    auth_methods: list[AuthMethod]


@attrs.frozen(kw_only=True)
class TokenPair:
    """An access token (``Authorization: Bearer``) and the refresh token that renews it."""

    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int


@attrs.frozen(kw_only=True)
class Registered(TokenPair):
    """The new account and its first tokens."""

    user: PublicUser


@attrs.frozen(kw_only=True)
class SignedIn(TokenPair):
    """A redirect sign-in finished without ``auth.oauth_frontend_redirect``: the account and its tokens."""

    user: PublicUser
    account: str


@attrs.frozen(kw_only=True)
class Provider:
    """A sign-in method a login screen shows; redirect providers carry the URL that starts them."""

    name: str
    display_name: str
    kind: str
    login_url: str | None = None


@attrs.frozen(kw_only=True)
class ProviderList:
    """The enabled sign-in methods and whether registration is open."""

    items: list[Provider]
    next_cursor: str | None
    registration_enabled: bool


@attrs.frozen(kw_only=True)
class AuthMethodList:
    """The signed-in user's sign-in methods."""

    items: list[AuthMethod]
    next_cursor: str | None


@attrs.frozen(kw_only=True)
class UserList:
    """A page of users (admins)."""

    items: list[PublicUser]
    next_cursor: str | None


@attrs.frozen(kw_only=True)
class AuditEvent:
    """One audit-log event; ``data`` depends on ``type`` (docs/api/auth.md)."""

    seq: int
    type: str
    data: dict[str, Any]
    created_at: str


@attrs.frozen(kw_only=True)
class AuditPage:
    """A page of the audit log, oldest first; ``next_cursor`` continues it."""

    items: list[AuditEvent]
    next_cursor: str | None


@attrs.frozen(kw_only=True)
class ServiceAccountView:
    """A service account (never its key, which only its creation answer shows)."""

    id: str
    name: str
    roles: list[str]
    created_at: str
    created_by: str
    expires_at: str | None
    last_used_at: str | None
    revoked_at: str | None
    revoked_by: str | None
    key_hint: str
    status: str


@attrs.frozen(kw_only=True)
class NewServiceAccount(ServiceAccountView):
    """A service account just made, with its key: shown this once."""

    api_key: str


@attrs.frozen(kw_only=True)
class ServiceAccountList:
    """Every service account."""

    items: list[ServiceAccountView]
    next_cursor: str | None

