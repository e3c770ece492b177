"""Access tokens: short-lived JWTs signed and verified with pyjwt.

HS256 with ``security.jwt_secret`` by default; RS256, ES256 or EdDSA with
``security.jwt_private_key_file`` (and ``security.jwt_public_key_files`` for
keys still accepted). Every key has a ``kid`` (a fingerprint), so a token names
the key that verifies it and keys can rotate: sign with the new one, keep the
old ones in ``jwt_previous_secrets`` / ``jwt_public_key_files`` until the
last token they signed has expired.

Verification is the hot path of every request, so verified tokens are cached by
their exact bytes in a bounded LRU; a hit still checks expiry.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import jwt
from jwt.algorithms import get_default_algorithms

from .principal import ROLES, Principal

ALLOWED_ALGORITHMS = ("HS256", "RS256", "ES256", "EdDSA")


class InvalidToken(Exception):
    """The token is missing, malformed, expired, or not ours. The message says which."""


def _kid(material: bytes) -> str:
    return hashlib.sha256(material).hexdigest()[:16]


class TokenService:
    def __init__(
        self,
        *,
        algorithm: str = "HS256",
        secret: str | None = None,
        previous_secrets: Iterable[str] = (),
        private_key_pem: bytes | None = None,
        public_key_pems: Iterable[bytes] = (),
        issuer: str = "roleplay",
        audience: str = "roleplay",
        ttl: int = 900,
        leeway: int = 10,
        cache_size: int = 4096,
    ) -> None:
        if algorithm not in ALLOWED_ALGORITHMS:
            raise ValueError(f"security.jwt_algorithm must be one of {ALLOWED_ALGORITHMS}, not {algorithm!r}")
        self.algorithm = algorithm
        self.issuer = issuer
        self.audience = audience
        self.ttl = int(ttl)
        self.leeway = int(leeway)
        # token text -> (principal, exp as pyjwt compares it); least recently used first
        self._cache: OrderedDict[str, tuple[Principal, int]] = OrderedDict()
        self._cache_size = max(0, int(cache_size))
        self._verify_keys: dict[str, Any] = {}
        impl = get_default_algorithms()[algorithm]
        if algorithm == "HS256":
            if not secret:
                raise ValueError("security.jwt_secret is empty")
            self._signing_key: Any = secret.encode()
            self._kid = _kid(self._signing_key)
            for key in (secret, *previous_secrets):
                self._verify_keys[_kid(key.encode())] = key.encode()
        else:
            if not private_key_pem:
                raise ValueError(f"security.jwt_private_key_file is needed for {algorithm}")
            self._signing_key = impl.prepare_key(private_key_pem)
            public = self._signing_key.public_key()
            self._kid = _kid(impl.to_jwk(public).encode())
            self._verify_keys[self._kid] = public
            for pem in public_key_pems:
                key = impl.prepare_key(pem)
                self._verify_keys[_kid(impl.to_jwk(key).encode())] = key

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> TokenService:
        security = settings.get("security", {})
        private_file = security.get("jwt_private_key_file")
        return cls(
            algorithm=security.get("jwt_algorithm", "HS256"),
            secret=security.get("jwt_secret"),
            previous_secrets=security.get("jwt_previous_secrets", []),
            private_key_pem=Path(private_file).read_bytes() if private_file else None,
            public_key_pems=[Path(p).read_bytes() for p in security.get("jwt_public_key_files", [])],
            issuer=security.get("jwt_issuer", "roleplay"),
            audience=security.get("jwt_audience", "roleplay"),
            ttl=security.get("access_token_ttl", 900),
            leeway=security.get("leeway", 10),
            cache_size=security.get("token_cache_size", 4096),
        )

    def issue(self, subject: str, roles: Iterable[str] = ("user",), *, ttl: int | None = None,
              extra: Mapping[str, Any] | None = None) -> str:
        """Sign an access token for ``subject`` with ``roles``."""
        roles = list(roles)
        unknown = [r for r in roles if r not in ROLES]
        if unknown:
            raise ValueError(f"unknown roles {unknown}")
        now = int(time.time())
        claims = {
            **(extra or {}),
            "sub": subject,
            "roles": roles,
            "iat": now,
            "exp": now + (self.ttl if ttl is None else ttl),
            "iss": self.issuer,
            "aud": self.audience,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self._signing_key, algorithm=self.algorithm, headers={"kid": self._kid})

    def verify(self, token: str) -> Principal:
        """Return the principal of a valid token; raise :class:`InvalidToken` otherwise.

        A token that verified before is answered from the cache, keyed by its
        exact text, so a changed byte is a miss and goes through full verification.
        Signature, algorithm, key, issuer, audience and required claims cannot change
        for the same bytes; only time can, so a hit re-checks expiry with pyjwt's rule
        (``exp <= now - leeway`` is expired). Refused tokens are never cached.
        """
        cached = self._cache.get(token)
        if cached is not None:
            principal, expires = cached
            if expires <= time.time() - self.leeway:
                self._cache.pop(token, None)
                raise InvalidToken("token expired")
            try:
                self._cache.move_to_end(token)
            except KeyError:  # evicted meanwhile by another thread: still verified, still valid
                pass
            return principal
        principal = self._decode(token)
        self._cache[token] = (principal, int(principal.expires_at))
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return principal

    def _decode(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"malformed token: {exc}") from None
        if header.get("alg") != self.algorithm:
            raise InvalidToken(f"token algorithm {header.get('alg')!r} is not accepted")
        key = self._verify_keys.get(header.get("kid", ""))
        if key is None:
            raise InvalidToken("token signed with an unknown key")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[self.algorithm],  # an explicit allow-list: never "none"
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["sub", "exp", "iat", "iss", "aud", "jti"]},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("token expired") from None
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"invalid token: {exc}") from None
        roles = claims.get("roles") or []
        if not isinstance(roles, list) or not all(r in ROLES for r in roles):
            raise InvalidToken("invalid token: bad roles claim")
        auth_time = claims.get("auth_time")
        if auth_time is not None and (isinstance(auth_time, bool) or not isinstance(auth_time, (int, float))):
            raise InvalidToken("invalid token: bad auth_time claim")
        return Principal(id=str(claims["sub"]), roles=tuple(roles), token_id=claims["jti"],
                         expires_at=float(claims["exp"]),
                         auth_time=None if auth_time is None else float(auth_time))
