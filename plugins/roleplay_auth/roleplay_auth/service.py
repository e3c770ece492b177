"""The auth service: users, passwords, refresh tokens, throttling and audit for one kernel."""

from __future__ import annotations

import time
from typing import Any

import attrs

from roleplay_core import EventLog, ExternalIdentity, Kernel, Problem
from roleplay_core.text import CONTROL

from .apikeys import ApiKeys
from .bodies import INVISIBLE, MAX_NAME
from .config import Rate, enabled_oidc
from .passwords import Passwords, policy_problems
from .refresh import RefreshTokens
from .throttle import RateLimit, Throttle
from .users import EmailTaken, Identity, IdentityTaken, User, UserStore, identity_id, new_user_id, now_iso


def service(kernel: Kernel) -> AuthService:
    """The kernel's auth service (built once per kernel, kept in ``kernel.state("auth")``; no per-user state)."""
    return kernel.state("auth").setdefault("service", lambda: AuthService(kernel))


class AuthService:
    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.settings = kernel.settings
        #: The typed ``auth`` settings (``config.AuthSettings``).
        self.config = config = kernel.typed_settings("auth")
        self.users = UserStore(kernel.storage)
        self.passwords = Passwords(attrs.asdict(config.password.argon2), threads=config.password.hash_threads or None)
        self.refresh = RefreshTokens(kernel.storage, config.refresh_token_ttl)
        self.throttle = Throttle(kernel.storage, attrs.asdict(config.throttle))
        self.limits = RateLimit(kernel.storage)
        self.sweeper: Any = None  # the task deleting expired OAuth sign-ins (plugin.startup)
        self.audit = EventLog(kernel.storage, "auth/audit")
        self.api_keys = ApiKeys(kernel.storage, config.api_keys.cache_seconds)

    # -- settings -------------------------------------------------------------

    @property
    def registration_enabled(self) -> bool:
        return self.config.registration.enabled

    def limit(self, rate: Rate) -> tuple[int, float]:
        """``(max, window_seconds)`` of a rate-limit setting such as ``config.registration.per_address``."""
        return rate.max, rate.window_seconds

    @property
    def prefix(self) -> str:
        return self.settings.plugin_prefix("auth")

    def callback_url(self, provider: str) -> str:
        base = self.config.oauth_redirect_base.rstrip("/")
        return f"{base}{self.prefix}/auth/oauth/{provider}/callback"

    def password_problems(self, password: str, email: str | None) -> list[str]:
        return policy_problems(password, email, min_length=self.config.password.min_length,
                               max_length=self.config.password.max_length)

    def oidc_names(self) -> list[str]:
        return sorted(enabled_oidc(self.settings))

    # -- tokens ---------------------------------------------------------------

    def access_token(self, user: User, auth_time: float | None = None) -> str:
        """An access token for ``user``; ``auth_time`` (the ``auth_time`` claim, as in OIDC) is when
        the person last proved who they are, which :func:`reauth.require_recent` checks."""
        extra = {"auth_time": int(auth_time)} if auth_time else None
        return self.kernel.tokens.issue(user.id, user.roles, extra=extra)

    def pair(self, user: User, refresh_token: str, auth_time: float | None = None) -> dict[str, Any]:
        return {"access_token": self.access_token(user, auth_time), "refresh_token": refresh_token,
                "token_type": "Bearer", "expires_in": self.kernel.tokens.ttl}

    async def sign_in(self, user: User, auth_time: Any = None) -> dict[str, Any]:
        """A new session (refresh-token family) for ``user``, who proved who they are just now, or at
        ``auth_time`` when a provider says its sign-in was earlier (an SSO session's ``auth_time``)."""
        now = time.time()
        if isinstance(auth_time, (int, float)) and not isinstance(auth_time, bool):
            now = min(now, float(auth_time))
        return self.pair(user, await self.refresh.start(user.id, user.session_epoch, now), now)

    # -- audit ----------------------------------------------------------------

    async def record(self, type: str, **data: Any) -> None:
        await self.audit.append(type, {k: v for k, v in data.items() if v is not None})

    # -- users ----------------------------------------------------------------

    async def create_local_user(self, *, email: str, password: str, display_name: str,
                                preferred_language: str | None = None, roles: tuple[str, ...] = ("user",)) -> User:
        """Hash the password (off the loop) and store the user; raise :class:`EmailTaken`."""
        password_hash = await self.passwords.hash(password)

        user = User(id=new_user_id(), email=email, display_name=display_name,
                    preferred_language=preferred_language, roles=roles, password_hash=password_hash,
                    password_set_at=now_iso())
        return await self.users.create(user)

    async def user_for_identity(self, identity: ExternalIdentity) -> tuple[User, str]:
        """Find, link or create the user for an external login; returns ``(user, how)``.

        ``how`` is ``"existing"``, ``"linked"`` or ``"created"``. An existing account is
        linked by email only when the provider says the email is verified; otherwise a
        login with an unverified email that another account owns is refused (409).
        """
        user = await self.users.by_identity(identity.provider, identity.subject)
        if user is not None:
            return user, "existing"
        link = Identity(id=identity_id(identity.provider, identity.subject), provider=identity.provider,
                        subject=identity.subject, email=identity.email)
        if identity.email:
            owner = await self.users.by_email(identity.email)
            if owner is not None:
                if not identity.email_verified:
                    raise Problem(409, f"An account with this email exists, but {identity.provider} does not say "
                                       "the email is verified, so the sign-in was not linked to it. Sign in with "
                                       "the account's existing method.")
                try:
                    return await self.users.link(owner.id, link), "linked"
                except IdentityTaken:
                    return await self._identity_winner(identity), "existing"
        if not self.registration_enabled:
            raise Problem(403, "Registration is switched off here; ask an admin for an account.")
        claimed_email = identity.email if identity.email and identity.email_verified else None
        # A provider's name claim is outside our control: drop control characters, fold spaces.
        display = " ".join(INVISIBLE.sub("", CONTROL.sub("", identity.display_name or "")).split())
        display = display or (identity.email or "").split("@")[0] or identity.provider
        user = User(id=new_user_id(), email=claimed_email, display_name=display[:MAX_NAME],
                    preferred_language=None, identities=(link,))
        try:
            return await self.users.create(user), "created"
        except IdentityTaken:  # the same person finished two sign-ins at once
            return await self._identity_winner(identity), "existing"
        except EmailTaken:  # someone registered this verified email a moment ago: link instead
            owner = await self.users.by_email(claimed_email or "")
            if owner is None:
                raise Problem(409, "This email was just taken; try again.") from None
            return await self.users.link(owner.id, link), "linked"

    async def _identity_winner(self, identity: ExternalIdentity) -> User:
        user = await self.users.by_identity(identity.provider, identity.subject)
        if user is None:
            raise Problem(409, "This sign-in is being linked by another request; try again.")
        return user

    async def bump_epoch(self, user_id: str) -> User:
        """Invalidate every refresh token of ``user_id`` (their sessions end at the next refresh)."""
        _, after = await self.users.update(user_id, lambda u: attrs.evolve(u, session_epoch=u.session_epoch + 1))
        return after
