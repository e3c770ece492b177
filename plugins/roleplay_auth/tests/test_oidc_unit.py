"""Unit tests of id_token verification with a local key set (the JWKS fetch is pre-filled)."""

from __future__ import annotations

import time

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, OctKey, RSAKey
from roleplay_auth.oidc import OIDCProvider

from roleplay_core import Problem
from roleplay_core.storage import MemoryStorage

KEY = RSAKey.generate_key(2048, {"kid": "g1"}, private=True)
GOOGLE_META = {"issuer": "https://accounts.google.com", "id_token_signing_alg_values_supported": ["RS256"]}


def provider() -> OIDCProvider:
    found = OIDCProvider("google", {"discovery_url": "https://accounts.google.com/.well-known/openid-configuration",
                                    "client_id": "cid"}, MemoryStorage())
    keys = KeySet([RSAKey.import_key(KEY.as_dict(private=False))])

    async def local_keys(*, refresh: bool = False) -> KeySet:
        return keys  # the JWKS "fetch", refetch included

    found.keys = local_keys
    return found


def id_token(key=KEY, alg="RS256", **claims) -> str:
    now = int(time.time())
    body = {"iss": "https://accounts.google.com", "aud": "cid", "sub": "1", "iat": now, "exp": now + 300,
            "nonce": "n", **claims}
    return jwt.encode({"alg": alg, "kid": "g1"}, body, key, algorithms=[alg])


@pytest.mark.anyio
@pytest.mark.parametrize("iss", ["https://accounts.google.com", "accounts.google.com"])
async def test_google_issuer_in_both_documented_forms(iss):
    claims = await provider()._verify_id_token(id_token(iss=iss), GOOGLE_META, "n")
    assert claims["sub"] == "1"


@pytest.mark.anyio
@pytest.mark.parametrize("token, why", [
    (lambda: id_token(iss="https://evil.example"), "issuer"),
    (lambda: id_token(aud="someone-else"), "audience"),
    (lambda: id_token(aud=["cid", "other"], azp="other"), "azp"),
    (lambda: id_token(exp=int(time.time()) - 3600), "expired"),
    (lambda: id_token(nonce="other"), "nonce"),
    (lambda: id_token(key=OctKey.import_key("x" * 32), alg="HS256"), "HS256 with a shared secret"),
    (lambda: id_token().rsplit(".", 1)[0] + ".", "no signature"),
    (lambda: "e30." + id_token().split(".", 1)[1], "header without alg"),
])
async def test_bad_id_tokens_are_refused(token, why):
    with pytest.raises(Problem) as raised:
        await provider()._verify_id_token(token(), GOOGLE_META, "n")
    assert raised.value.status == 401, why
