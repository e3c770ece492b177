"""OpenID Connect sign-in through Authlib: authorization code + PKCE (S256), state, nonce.

One :class:`OIDCProvider` per configured ``auth.oidc.<name>`` with a client id. The
provider's discovery document and JWKS are fetched over HTTPS and cached in memory
(public data, the same for every process). The pending login (state, nonce, PKCE
verifier, redirect URI, expiry) is kept in storage under ``auth/oauth/pending/<sha256(state)>``
so any server process can finish the flow; the callback deletes it with a conditional
delete, so a state (and with it its nonce) works once.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
import time
from collections.abc import Mapping
from typing import Any

from authlib.common.security import generate_token
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from starlette.requests import Request

from roleplay_core import AuthProvider, ExternalIdentity, NotFound, PreconditionFailed, Problem, Storage

from .config import scopes_of
from .emails import hidden_characters, normalise

#: Asymmetric algorithms accepted for id_tokens. Never "none"; never HS* (that would
#: make the client secret a signing key).
ID_TOKEN_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
LEEWAY = 60
HTTP_TIMEOUT = 10.0


def _header(token: str) -> dict[str, Any]:
    try:
        segment = token.split(".", 1)[0]
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, UnicodeDecodeError):
        return {}
    return header if isinstance(header, dict) else {}


def issuers(issuer: str) -> list[str]:
    """The ``iss`` values to accept. Google documents both forms of its issuer in id_tokens."""
    if issuer in GOOGLE_ISSUERS:
        return list(GOOGLE_ISSUERS)
    return [issuer]


GOOGLE_ISSUERS = ("https://accounts.google.com", "accounts.google.com")


class OIDCProvider(AuthProvider):
    kind = "redirect"

    def __init__(self, name: str, config: Mapping[str, Any], storage: Storage, *,
                 state_ttl: int = 600, cache_seconds: int = 3600) -> None:
        self.name = name
        self.display_name = str(config.get("display_name") or name)
        self.discovery_url = str(config["discovery_url"])
        self.client_id = str(config["client_id"])
        self.client_secret = str(config.get("client_secret") or "")
        self.scopes = scopes_of(config.get("scopes"))
        self.storage = storage
        self.state_ttl = int(state_ttl)
        self.cache_seconds = int(cache_seconds)
        self._metadata: tuple[float, dict[str, Any]] | None = None
        self._jwks: tuple[float, KeySet] | None = None
        self._lock = asyncio.Lock()

    # -- provider documents ---------------------------------------------------

    def _client(self, **kwargs: Any) -> Any:
        # authlib's httpx client (and httpx) load at the first sign-in, not at every start.
        from authlib.integrations.httpx_client import AsyncOAuth2Client

        return AsyncOAuth2Client(client_id=self.client_id, client_secret=self.client_secret or None,
                                 code_challenge_method="S256", timeout=HTTP_TIMEOUT,
                                 token_endpoint_auth_method=self._auth_method(), **kwargs)

    def _auth_method(self) -> str:
        if not self.client_secret:
            return "none"  # a public client: PKCE is what protects the code
        supported = (self._metadata[1] if self._metadata else {}).get("token_endpoint_auth_methods_supported")
        if supported and "client_secret_basic" not in supported and "client_secret_post" in supported:
            return "client_secret_post"
        return "client_secret_basic"

    async def _get_json(self, url: str) -> dict[str, Any]:
        import httpx

        try:
            async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
                response = await client.get(url)
        except Exception as exc:
            raise Problem(502, f"Could not reach the {self.display_name} sign-in service: {type(exc).__name__}.") from None
        if response.status_code != 200:
            raise Problem(502, f"The {self.display_name} sign-in service answered {response.status_code} for {url}.")
        try:
            data = response.json()
        except ValueError:
            raise Problem(502, f"The {self.display_name} sign-in service sent invalid JSON from {url}.") from None
        if not isinstance(data, dict):
            raise Problem(502, f"The {self.display_name} sign-in service sent unexpected JSON from {url}.")
        return data

    async def metadata(self) -> dict[str, Any]:
        """The discovery document, cached for ``auth.oidc_cache_seconds``."""
        if self._metadata and self._metadata[0] > time.time():
            return self._metadata[1]
        async with self._lock:
            if self._metadata and self._metadata[0] > time.time():
                return self._metadata[1]
            data = await self._get_json(self.discovery_url)
            missing = [k for k in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri") if not data.get(k)]
            if missing:
                raise Problem(502, f"The {self.display_name} discovery document lacks {', '.join(missing)}.")
            self._metadata = (time.time() + self.cache_seconds, data)
            return data

    async def keys(self, *, refresh: bool = False) -> KeySet:
        """The provider's signing keys (JWKS), cached; ``refresh`` refetches (key rotation)."""
        if not refresh and self._jwks and self._jwks[0] > time.time():
            return self._jwks[1]
        data = await self._get_json((await self.metadata())["jwks_uri"])
        try:
            keys = KeySet.import_key_set(data)  # type: ignore[arg-type]
        except (JoseError, ValueError, KeyError, TypeError) as exc:
            raise Problem(502, f"The {self.display_name} JWKS is not valid: {exc}") from None
        self._jwks = (time.time() + self.cache_seconds, keys)
        return keys

    # -- the flow -------------------------------------------------------------

    @staticmethod
    def pending_key(state: str) -> str:
        return f"auth/oauth/pending/{hashlib.sha256(state.encode()).hexdigest()}"

    async def authorization_url(self, request: Request, redirect_uri: str) -> str:
        meta = await self.metadata()
        state = secrets.token_urlsafe(32)
        nonce = secrets.token_urlsafe(32)
        verifier = generate_token(64)  # RFC 7636: 43-128 characters
        pending = {"provider": self.name, "nonce": nonce, "code_verifier": verifier,
                   "redirect_uri": redirect_uri, "expires_at": time.time() + self.state_ttl}
        await self.storage.put(self.pending_key(state), json.dumps(pending).encode(), if_absent=True)
        # ?reauth=true: the person must sign in at the provider again now (an SSO session is not
        # enough), for the changes that need a recent sign-in (reauth.py).
        fresh = {"prompt": "login", "max_age": "0"} if request.query_params.get("reauth") in ("1", "true") else {}
        async with self._client(redirect_uri=redirect_uri, scope=" ".join(self.scopes)) as client:
            url, _ = client.create_authorization_url(meta["authorization_endpoint"], state=state,
                                                     code_verifier=verifier, nonce=nonce, **fresh)
        return url

    async def _take_pending(self, state: str) -> dict[str, Any]:
        key = self.pending_key(state)
        try:
            record = await self.storage.get(key)
            await self.storage.delete(key, if_version=record.version)  # single use, even under races
        except (NotFound, PreconditionFailed):
            raise Problem(400, "Unknown, expired or already used sign-in state; start the sign-in again.") from None
        pending = json.loads(record.data)
        if pending.get("provider") != self.name:
            raise Problem(400, "This sign-in state belongs to another provider; start the sign-in again.")
        if pending["expires_at"] < time.time():
            raise Problem(400, "The sign-in took too long; start it again.")
        return pending

    async def complete(self, request: Request, redirect_uri: str) -> ExternalIdentity:
        params = request.query_params
        state = params.get("state")
        if not state or len(state) > 512:
            raise Problem(400, "The callback has no valid state parameter.")
        pending = await self._take_pending(state)
        if params.get("error"):
            error = params.get("error", "")[:100]
            raise Problem(401, f"{self.display_name} refused the sign-in: {error}.")
        code = params.get("code")
        if not code:
            raise Problem(400, "The callback has no code parameter.")
        meta = await self.metadata()
        token = await self._exchange(meta, code, pending)
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise Problem(502, f"{self.display_name} sent no id_token; is the 'openid' scope allowed?")
        claims = await self._verify_id_token(id_token, meta, pending["nonce"])
        if "email" not in claims and meta.get("userinfo_endpoint") and token.get("access_token"):
            claims = {**await self._userinfo(meta["userinfo_endpoint"], token, claims["sub"]), **claims}
        email = claims.get("email")
        verified = claims.get("email_verified")
        return ExternalIdentity(
            provider=self.name,
            subject=str(claims["sub"]),
            # An address with control or invisible characters is no address to link or show.
            email=normalise(email) if isinstance(email, str) and email.strip() and not hidden_characters(email) else None,
            email_verified=verified is True or verified == "true",
            display_name=str(claims.get("name") or claims.get("given_name") or "") or None,
            claims={k: claims[k] for k in ("iss", "sub", "email", "email_verified", "name", "locale", "auth_time")
                    if k in claims},
        )

    async def _exchange(self, meta: Mapping[str, Any], code: str, pending: Mapping[str, Any]) -> dict[str, Any]:
        try:
            async with self._client(redirect_uri=pending["redirect_uri"]) as client:
                token = await client.fetch_token(meta["token_endpoint"], grant_type="authorization_code", code=code,
                                                 code_verifier=pending["code_verifier"],
                                                 redirect_uri=pending["redirect_uri"])
        except Problem:
            raise
        except Exception as exc:
            # OAuthError (invalid_grant: wrong code or PKCE verifier) or a transport error.
            name = getattr(exc, "error", None) or type(exc).__name__
            raise Problem(401, f"{self.display_name} refused the code exchange: {name}.") from None
        return dict(token)

    async def _verify_id_token(self, id_token: str, meta: Mapping[str, Any], nonce: str) -> dict[str, Any]:
        allowed = [a for a in meta.get("id_token_signing_alg_values_supported", ["RS256"]) if a in ID_TOKEN_ALGORITHMS]
        if not allowed:
            raise Problem(502, f"{self.display_name} signs id_tokens with no algorithm we accept.")
        algorithm = _header(id_token).get("alg")
        if algorithm not in allowed:  # "none", HS256...: refused before any key is looked at
            raise Problem(401, f"The {self.display_name} id_token uses the algorithm {algorithm!r}, which is not accepted.")
        token = None
        for refresh in (False, True):  # a failure may mean the provider rotated keys: refetch once
            try:
                token = jwt.decode(id_token, await self.keys(refresh=refresh), algorithms=allowed)
                break
            except JoseError as exc:
                if refresh:
                    raise Problem(401, f"The {self.display_name} id_token is not valid: {exc.error}.") from None
        assert token is not None
        claims = dict(token.claims)
        registry = jwt.JWTClaimsRegistry(
            leeway=LEEWAY,
            iss={"essential": True, "values": issuers(meta["issuer"])},
            aud={"essential": True, "value": self.client_id},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
        )
        try:
            registry.validate(claims)
        except JoseError as exc:
            raise Problem(401, f"The {self.display_name} id_token is not valid: {exc.error} {exc.description or ''}".strip()) from None
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self.client_id:
            raise Problem(401, f"The {self.display_name} id_token was issued to another party (azp).")
        if not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
            raise Problem(401, f"The {self.display_name} id_token does not carry this sign-in's nonce (a replay?).")
        return claims

    async def _userinfo(self, url: str, token: Mapping[str, Any], subject: str) -> dict[str, Any]:
        try:
            async with self._client(token=dict(token)) as client:
                response = await client.get(url)
            data = response.json() if response.status_code == 200 else {}
        except Exception:
            return {}
        # OIDC Core 5.3.2: userinfo from another subject must not be used.
        return data if isinstance(data, dict) and data.get("sub") == subject else {}
