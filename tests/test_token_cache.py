"""The cache of verified tokens: it saves the signature check, never the decision.

What may be cached is a verdict that cannot change for the same bytes (signature,
algorithm, key, issuer, audience, claims). Time can change it, so a hit re-checks
expiry with pyjwt's own rule; a changed byte is a different key and a full check.
"""

import base64
import json
import time
import types

import jwt
import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

import roleplay_core.tokens as tokens_module
from roleplay_core import JSON, current_principal, hookimpl, requires_user
from roleplay_core.testing import make_app
from roleplay_core.tokens import InvalidToken, TokenService

SECRET = "cache-test-secret-0123456789abcdefghijkl"


@pytest.fixture
def decodes(monkeypatch):
    """Count full verifications (pyjwt decodes) while still doing them."""
    calls = []
    real = jwt.decode

    def counting(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(tokens_module.jwt, "decode", counting)
    return calls


@pytest.fixture
def clock(monkeypatch):
    """The clock the cache reads (``roleplay_core.tokens.time``): real, or frozen at ``clock.now``."""
    state = types.SimpleNamespace(now=None)
    monkeypatch.setattr(tokens_module, "time",
                        types.SimpleNamespace(time=lambda: time.time() if state.now is None else state.now))
    return state


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def tamper(token: str) -> str:
    """The same token with one signature character changed (mid-signature: all six bits count)."""
    at = len(token) - 10
    return token[:at] + ("A" if token[at] != "A" else "B") + token[at + 1:]


def test_a_second_verify_is_a_cache_hit(decodes):
    service = TokenService(secret=SECRET)
    token = service.issue("u1", ["scripter"])
    first = service.verify(token)
    second = service.verify(token)
    assert second == first and second.id == "u1" and second.roles == ("scripter",)
    assert len(decodes) == 1  # the second call did not run pyjwt again


def test_same_prefix_other_signature_is_refused_after_the_real_one_is_cached(decodes):
    service = TokenService(secret=SECRET)
    token = service.issue("u1")
    service.verify(token)
    header, payload, signature = token.split(".")
    flipped = tamper(token).split(".")[2]
    # Same header and claims, signed with another key: only the signature differs.
    forged = jwt.encode(json.loads(unb64(payload)), "not-the-secret-0123456789abcdefghijkl", algorithm="HS256",
                        headers={"kid": json.loads(unb64(header))["kid"]})
    assert forged.split(".")[:2] == [header, payload] and forged != token
    for bad in (f"{header}.{payload}.{flipped}", forged, f"{header}.{payload}.", f"{header}.{payload}"):
        with pytest.raises(InvalidToken):
            service.verify(bad)
    assert service.verify(token).id == "u1"  # the genuine one is still accepted


def test_tampered_claims_with_the_original_signature_are_refused():
    service = TokenService(secret=SECRET)
    token = service.issue("u1", ["user"])
    service.verify(token)
    header, payload, signature = token.split(".")
    claims = json.loads(unb64(payload))
    claims["roles"] = ["admin"]
    with pytest.raises(InvalidToken):
        service.verify(f"{header}.{b64(json.dumps(claims).encode())}.{signature}")


def test_alg_none_copy_of_a_cached_token_is_refused():
    service = TokenService(secret=SECRET)
    token = service.issue("u1")
    service.verify(token)
    claims = json.loads(unb64(token.split(".")[1]))
    with pytest.raises(InvalidToken, match="algorithm"):
        service.verify(jwt.encode(claims, None, algorithm="none"))


def test_refused_tokens_are_never_cached(decodes):
    service = TokenService(secret=SECRET)
    token = service.issue("u1")
    forged = tamper(token)
    for _ in range(3):
        with pytest.raises(InvalidToken):
            service.verify(forged)
    assert len(decodes) == 3  # each attempt was a full verification
    expired = service.issue("u1", ttl=-60)
    with pytest.raises(InvalidToken, match="expired"):
        service.verify(expired)
    assert forged not in service._cache and expired not in service._cache


def test_a_cached_token_expires_on_time_with_the_leeway(clock, decodes):
    service = TokenService(secret=SECRET, ttl=60, leeway=10)
    token = service.issue("u1")
    exp = json.loads(unb64(token.split(".")[1]))["exp"]
    service.verify(token)
    clock.now = exp + 10 - 0.001  # just inside the leeway: still good, from the cache
    assert service.verify(token).id == "u1"
    assert len(decodes) == 1
    clock.now = exp + 10  # exp <= now - leeway: expired, exactly as pyjwt decides
    with pytest.raises(InvalidToken, match="expired"):
        service.verify(token)
    assert token not in service._cache  # dropped, not kept around
    clock.now = exp  # even if the clock steps back, only a full check can re-admit it
    service.verify(token)
    assert len(decodes) == 2


def test_a_cached_token_is_refused_once_really_expired():
    """The same on the real clock, with no leeway: a token that lives about a second."""
    service = TokenService(secret=SECRET, ttl=1, leeway=0)
    token = service.issue("u1")
    assert service.verify(token).id == "u1"
    exp = json.loads(unb64(token.split(".")[1]))["exp"]
    time.sleep(max(0.0, exp - time.time()) + 0.05)
    with pytest.raises(InvalidToken, match="expired"):
        service.verify(token)
    with pytest.raises(InvalidToken, match="expired"):  # and again, now through pyjwt
        service.verify(token)


def test_the_cache_is_bounded_and_least_recently_used_goes_first(decodes):
    service = TokenService(secret=SECRET, cache_size=3)
    issued = [service.issue(f"u{n}") for n in range(10)]
    for token in issued:
        service.verify(token)
    assert len(service._cache) == 3
    service.verify(issued[7])  # recently used: kept on the next insert
    service.verify(issued[0])  # a miss (evicted long ago): decoded again, evicts the oldest (issued[8])
    assert len(service._cache) == 3
    before = len(decodes)
    service.verify(issued[7])
    service.verify(issued[9])
    assert len(decodes) == before  # both hits
    service.verify(issued[8])
    assert len(decodes) == before + 1  # evicted, so fully verified again


def test_cache_size_zero_caches_nothing(decodes):
    service = TokenService(secret=SECRET, cache_size=0)
    token = service.issue("u1")
    service.verify(token)
    service.verify(token)
    assert len(decodes) == 2 and len(service._cache) == 0


class Me:
    name = "me"

    @hookimpl
    def register_routes(self):
        @requires_user
        async def me(request):
            return JSON({"id": current_principal(request).id})

        return [Route("/me", me, methods=["GET"])]


def test_over_http_cached_tokens_still_expire_and_forgeries_fail(clock):
    app = make_app({"security.jwt_secret": SECRET, "security.leeway": 0}, plugins=[Me()], load_entry_points=False)
    with TestClient(app) as client:
        service = app.state.kernel.tokens
        token = service.issue("u1", ttl=30)
        for _ in range(2):  # the second request is served from the cache
            response = client.get("/me", headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 200 and response.json() == {"id": "u1"}
        forged = tamper(token)
        refused = client.get("/me", headers={"Authorization": f"Bearer {forged}"})
        assert refused.status_code == 401
        assert refused.headers["content-type"].startswith("application/problem+json")
        clock.now = time.time() + 31
        expired = client.get("/me", headers={"Authorization": f"Bearer {token}"})
        assert expired.status_code == 401 and "expired" in expired.json()["detail"]
