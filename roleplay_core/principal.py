"""Who is making a request: a signed-in principal or nobody."""

from __future__ import annotations

import attrs
from starlette.authentication import BaseUser

#: Roles from least to most privileged. Each role includes the ones before it.
ROLES = ("user", "scripter", "admin")


def role_rank(role: str) -> int:
    try:
        return ROLES.index(role)
    except ValueError:
        return -1


@attrs.frozen
class Principal(BaseUser):
    """An authenticated caller, from a verified access token."""

    id: str
    roles: tuple[str, ...] = ("user",)
    token_id: str | None = None
    expires_at: float | None = None
    #: When the person last proved who they are (a password or a provider sign-in), from the
    #: token's ``auth_time`` claim (OIDC's name for it); ``None`` when the token has none.
    auth_time: float | None = None

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.id

    @property
    def identity(self) -> str:
        return self.id

    def has_role(self, minimum: str) -> bool:
        """True when one of the principal's roles is ``minimum`` or above it."""
        need = role_rank(minimum)
        return any(role_rank(role) >= need for role in self.roles)

    @property
    def is_admin(self) -> bool:
        return self.has_role("admin")


@attrs.frozen
class Anonymous(BaseUser):
    """Nobody signed in. ``reason`` says why a presented token was refused."""

    reason: str | None = None

    @property
    def is_authenticated(self) -> bool:
        return False

    @property
    def display_name(self) -> str:
        return ""

    @property
    def identity(self) -> str:
        return ""

    def has_role(self, minimum: str) -> bool:
        return False

    is_admin = False


ANONYMOUS = Anonymous()
