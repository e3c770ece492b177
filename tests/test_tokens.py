"""Access tokens: what is accepted and every way a forged or stale one is refused.

Test home of ``roleplay_core.principal``.
"""

import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from roleplay_core.tokens import InvalidToken, TokenService

SECRET = "s3cr3t-for-tests-0123456789abcdefghijkl"


def service(**kwargs) -> TokenService:
    return TokenService(secret=kwargs.pop("secret", SECRET), **kwargs)


def test_issue_and_verify_round_trip():
    tokens = service()
    principal = tokens.verify(tokens.issue("u1", ["scripter"]))
    assert principal.id == "u1" and principal.roles == ("scripter",)
    assert principal.has_role("user") and principal.has_role("scripter") and not principal.has_role("admin")
    claims = jwt.decode(tokens.issue("u1"), SECRET, algorithms=["HS256"], audience="roleplay")
    assert {"sub", "roles", "iat", "exp", "iss", "aud", "jti"} <= claims.keys()
    assert claims["exp"] - claims["iat"] == 900


def test_alg_none_is_refused():
    tokens = service()
    forged = jwt.encode({"sub": "u1", "roles": ["admin"], "iat": int(time.time()), "exp": int(time.time()) + 60,
                         "iss": "roleplay", "aud": "roleplay", "jti": "x"}, None, algorithm="none")
    with pytest.raises(InvalidToken, match="algorithm"):
        tokens.verify(forged)


def test_wrong_key_is_refused():
    other = service(secret="another-secret-0123456789abcdefghijklmn")
    with pytest.raises(InvalidToken):
        service().verify(other.issue("u1"))


def test_expired_is_refused_with_reason():
    tokens = service(leeway=0)
    token = tokens.issue("u1", ttl=-5)
    with pytest.raises(InvalidToken, match="expired"):
        tokens.verify(token)


def test_tampered_payload_is_refused():
    tokens = service()
    header, payload, signature = tokens.issue("u1", ["user"]).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["roles"] = ["admin"]
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(InvalidToken):
        tokens.verify(f"{header}.{forged_payload}.{signature}")


def test_wrong_audience_and_issuer_are_refused():
    with pytest.raises(InvalidToken, match="(?i)audience"):
        service().verify(service(audience="someone-else").issue("u1"))
    with pytest.raises(InvalidToken, match="(?i)issuer"):
        service().verify(service(issuer="evil").issue("u1"))


def test_unknown_role_claim_is_refused():
    now = int(time.time())
    token = jwt.encode({"sub": "u1", "roles": ["root"], "iat": now, "exp": now + 60, "iss": "roleplay",
                        "aud": "roleplay", "jti": "j"}, SECRET, algorithm="HS256",
                       headers={"kid": service()._kid})
    with pytest.raises(InvalidToken, match="roles"):
        service().verify(token)


def test_rotation_accepts_previous_secret_by_kid():
    old = service(secret="old-secret-0123456789abcdefghijklmnopq")
    token = old.issue("u1")
    rotated = service(previous_secrets=["old-secret-0123456789abcdefghijklmnopq"])
    assert rotated.verify(token).id == "u1"
    assert jwt.get_unverified_header(rotated.issue("u2"))["kid"] != jwt.get_unverified_header(token)["kid"]
    with pytest.raises(InvalidToken, match="unknown key"):
        service().verify(token)  # rotated out


def _pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _public_pem(key) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.mark.parametrize(
    ("algorithm", "make_key"),
    [
        ("RS256", lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        ("ES256", lambda: ec.generate_private_key(ec.SECP256R1())),
        ("EdDSA", ed25519.Ed25519PrivateKey.generate),
    ],
)
def test_asymmetric_algorithms_with_key_rotation(algorithm, make_key):
    old_key, new_key = make_key(), make_key()
    old = TokenService(algorithm=algorithm, private_key_pem=_pem(old_key))
    new = TokenService(algorithm=algorithm, private_key_pem=_pem(new_key), public_key_pems=[_public_pem(old_key)])
    assert new.verify(old.issue("u1")).id == "u1"
    assert new.verify(new.issue("u2")).id == "u2"
    with pytest.raises(InvalidToken):
        old.verify(new.issue("u3"))
    # an HS256 token signed with the public key as a secret (the classic confusion attack) is refused
    confused = jwt.encode({"sub": "x"}, "k" * 32, algorithm="HS256")
    with pytest.raises(InvalidToken, match="algorithm"):
        new.verify(confused)


def test_unsupported_algorithm_is_a_clear_error():
    with pytest.raises(ValueError, match="jwt_algorithm"):
        TokenService(algorithm="none", secret=SECRET)
