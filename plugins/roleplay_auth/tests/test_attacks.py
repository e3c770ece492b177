"""Attacks over HTTP: forged tokens, role escalation, refresh reuse, enumeration, brute force.

Test home of ``roleplay_auth.refresh``.
"""

from __future__ import annotations

import base64
import json
import statistics
import time

import jwt
from auth_helpers import PASSWORD, bearer, login, register
from starlette.testclient import TestClient

from roleplay_core.settings import DEV_JWT_SECRET
from roleplay_core.testing import make_app

ADMIN = {"auth.bootstrap_admin.email": "root@example.com", "auth.bootstrap_admin.password": PASSWORD}


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def claims_for(user_id: str, **changes) -> dict:
    now = int(time.time())
    return {"sub": user_id, "roles": ["user"], "iat": now, "exp": now + 600, "iss": "roleplay",
            "aud": "roleplay", "jti": "x" * 32, **changes}


def test_forged_access_tokens_are_refused():
    app = make_app(ADMIN)
    with TestClient(app) as client:
        pair = register(client, "victim@example.com")
        user_id = pair["user"]["id"]
        kid = jwt.get_unverified_header(pair["access_token"])["kid"]
        header, payload, signature = pair["access_token"].split(".")
        forged = {
            "alg none": f"{b64({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{b64(claims_for(user_id))}.",
            "wrong key": jwt.encode(claims_for(user_id), "another-secret-that-is-long-enough!!",
                                    algorithm="HS256", headers={"kid": kid}),
            "expired": app.state.kernel.tokens.issue(user_id, ("user",), ttl=-3600),
            "tampered payload": f"{header}.{b64(claims_for(user_id, roles=['admin']))}.{signature}",
            "wrong audience": jwt.encode(claims_for(user_id, aud="another-service"), DEV_JWT_SECRET,
                                         algorithm="HS256", headers={"kid": kid}),
            "wrong issuer": jwt.encode(claims_for(user_id, iss="evil"), DEV_JWT_SECRET, algorithm="HS256",
                                       headers={"kid": kid}),
            "garbage": "not.a.token",
        }
        # the control: the same claims signed properly ARE accepted, so the refusals mean something
        genuine = jwt.encode(claims_for(user_id), DEV_JWT_SECRET, algorithm="HS256", headers={"kid": kid})
        assert client.get("/auth/me", headers=bearer(genuine)).status_code == 200
        for name, token in forged.items():
            response = client.get("/auth/me", headers=bearer(token))
            assert response.status_code == 401, name
            assert response.headers["content-type"].startswith("application/problem+json")
        admin_forgery = f"{header}.{b64(claims_for(user_id, roles=['admin']))}.{signature}"
        assert client.get("/users", headers=bearer(admin_forgery)).status_code == 401


def test_role_escalation_through_patch_is_refused():
    with TestClient(make_app(ADMIN)) as client:
        pair = register(client, "mallory@example.com")
        for body in ({"roles": ["admin"]}, {"display_name": "M", "roles": ["admin"]}, {"disabled": False}):
            response = client.patch("/users/me", json=body, headers=bearer(pair))
            assert response.status_code == 422, response.text
            assert set(body) - {"display_name"} <= {e["field"] for e in response.json()["errors"]}
        user_id = pair["user"]["id"]
        assert client.patch(f"/users/{user_id}", json={"roles": ["admin"]}, headers=bearer(pair)).status_code == 403
        assert client.get("/users", headers=bearer(pair)).status_code == 403
        fresh = login(client, "mallory@example.com")
        assert jwt.decode(fresh["access_token"], options={"verify_signature": False})["roles"] == ["user"]
        assert client.get("/users/me", headers=bearer(fresh)).json()["roles"] == ["user"]
        assert client.get("/users/me", headers=bearer(fresh)).json()["display_name"] == "Test User"


def test_control_characters_in_a_display_name_are_refused():
    with TestClient(make_app(ADMIN)) as client:
        pair = register(client, "ctrl@example.com")
        for name in ("a\u0000b", "\u0007", "x\u001fy", "esc\u001b[2J", "del\u007f", "c1\u009b"):
            response = client.patch("/users/me", json={"display_name": name}, headers=bearer(pair))
            assert response.status_code == 422, (name, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
            assert [e["field"] for e in response.json()["errors"]] == ["display_name"]
        assert client.get("/users/me", headers=bearer(pair)).json()["display_name"] == "Test User"
        # Ordinary whitespace is still folded, not refused.
        response = client.patch("/users/me", json={"display_name": " Ann\tLee\n"}, headers=bearer(pair))
        assert response.status_code == 200 and response.json()["display_name"] == "Ann Lee"


def test_refresh_token_reuse_revokes_the_whole_family():
    with TestClient(make_app(ADMIN)) as client:
        first = register(client, "reuse@example.com")
        other_session = login(client, "reuse@example.com")
        second = client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]}).json()
        # an attacker replays the old token: refused, and the victim's newer token dies with it
        reused = client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert reused.status_code == 401 and "already used" in reused.json()["detail"]
        assert client.post("/auth/refresh", json={"refresh_token": second["refresh_token"]}).status_code == 401
        # another sign-in (another family) is untouched
        assert client.post("/auth/refresh", json={"refresh_token": other_session["refresh_token"]}).status_code == 200
        admin = login(client, "root@example.com")
        events = client.get("/users/audit?limit=200", headers=bearer(admin)).json()["items"]
        reuse = [e for e in events if e["type"] == "refresh.reused"]
        assert len(reuse) == 1 and reuse[0]["data"]["user_id"] == first["user"]["id"]


def test_no_enumeration_by_timing():
    """Unknown email and wrong password take about the same time: both verify one argon2id hash."""
    from argon2 import PasswordHasher
    from argon2.exceptions import VerifyMismatchError

    settings = {"auth.throttle.account.max_failures": 1000, "auth.throttle.client.max_failures": 1000}
    probe = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
    reference = probe.hash("x")

    def one_verify() -> float:
        start = time.perf_counter()
        try:
            probe.verify(reference, "y")
        except VerifyMismatchError:  # the wrong password: what is timed; anything else is a failure
            pass
        return time.perf_counter() - start

    with TestClient(make_app(settings)) as client:
        register(client, "known@example.com")
        unknown, wrong, verify = [], [], []
        for n in range(9):  # interleaved, so machine noise hits every series alike
            start = time.perf_counter()
            a = client.post("/auth/login", json={"email": f"ghost{n}@example.com", "password": "wrong password!"})
            unknown.append(time.perf_counter() - start)
            start = time.perf_counter()
            b = client.post("/auth/login", json={"email": "known@example.com", "password": "wrong password!"})
            wrong.append(time.perf_counter() - start)
            verify.append(one_verify())
            assert a.status_code == b.status_code == 401
            assert a.json()["detail"] == b.json()["detail"]
        med_unknown, med_wrong, med_verify = (statistics.median(x) for x in (unknown, wrong, verify))
        # the unknown-email path really does the hashing work (a shortcut would take ~1 ms) ...
        assert med_unknown > 0.4 * med_verify, (med_unknown, med_verify)
        # ... and the two medians are within a tolerance of each other
        assert abs(med_unknown - med_wrong) < 0.5 * max(med_unknown, med_wrong), (med_unknown, med_wrong)


def test_account_throttle_answers_429_with_retry_after():
    settings = {"auth.throttle.account.max_failures": 3, "auth.throttle.account.lockout_seconds": 2}
    with TestClient(make_app(settings)) as client:
        register(client, "target@example.com")
        register(client, "bystander@example.com")
        for _ in range(3):
            assert client.post("/auth/login", json={"email": "target@example.com", "password": "guess guess"}
                               ).status_code == 401
        locked = client.post("/auth/login", json={"email": "target@example.com", "password": PASSWORD})
        assert locked.status_code == 429, locked.text
        assert 1 <= int(locked.headers["retry-after"]) <= 2
        assert locked.headers["content-type"].startswith("application/problem+json")
        # the same unknown-email rule: a locked unknown address looks like a locked real one
        for _ in range(3):
            client.post("/auth/login", json={"email": "ghost@example.com", "password": "guess guess"})
        assert client.post("/auth/login", json={"email": "ghost@example.com", "password": "x" * 12}
                           ).status_code == 429
        assert login(client, "bystander@example.com")  # other accounts are not locked
        time.sleep(2.1)
        assert login(client, "target@example.com")  # the lockout ends


def test_client_throttle_spans_accounts():
    settings = {"auth.throttle.account.max_failures": 100, "auth.throttle.client.max_failures": 4}
    with TestClient(make_app(settings)) as client:
        register(client, "real@example.com")
        for n in range(4):
            assert client.post("/auth/login", json={"email": f"spray{n}@example.com", "password": PASSWORD}
                               ).status_code == 401
        blocked = client.post("/auth/login", json={"email": "real@example.com", "password": PASSWORD})
        assert blocked.status_code == 429
        assert int(blocked.headers["retry-after"]) > 0


def test_disabled_user_keeps_no_session():
    with TestClient(make_app(ADMIN)) as client:
        admin = login(client, "root@example.com")
        pair = register(client, "leaver@example.com")
        user_id = pair["user"]["id"]
        response = client.patch(f"/users/{user_id}", json={"disabled": True}, headers=bearer(admin))
        assert response.status_code == 200 and response.json()["disabled"] is True
        # auth's own endpoints check the stored user at once; refresh and login refuse
        assert client.get("/users/me", headers=bearer(pair)).status_code == 403
        assert client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]}).status_code == 401
        assert client.post("/auth/login", json={"email": "leaver@example.com", "password": PASSWORD}
                           ).status_code == 401  # like a wrong password (issue 13, finding 13)
        client.patch(f"/users/{user_id}", json={"disabled": False}, headers=bearer(admin))
        assert login(client, "leaver@example.com")
        # the old family stays dead after re-enabling: disabling ended every session
        assert client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]}).status_code == 401


def test_demoted_admin_loses_admin_endpoints_immediately():
    with TestClient(make_app(ADMIN)) as client:
        root = login(client, "root@example.com")
        helper = register(client, "helper@example.com")
        helper_id = helper["user"]["id"]
        assert client.patch(f"/users/{helper_id}", json={"roles": ["admin"]}, headers=bearer(root)).status_code == 200
        helper_admin = login(client, "helper@example.com")
        assert client.get("/users", headers=bearer(helper_admin)).status_code == 200
        assert client.patch(f"/users/{helper_id}", json={"roles": ["user"]}, headers=bearer(root)).status_code == 200
        # the JWT still says admin for up to 15 minutes, but auth re-reads the stored user
        assert jwt.decode(helper_admin["access_token"], options={"verify_signature": False})["roles"] == ["admin"]
        assert client.get("/users", headers=bearer(helper_admin)).status_code == 403
        # and the next refresh hands out the new roles
        refreshed = client.post("/auth/refresh", json={"refresh_token": helper_admin["refresh_token"]}).json()
        assert jwt.decode(refreshed["access_token"], options={"verify_signature": False})["roles"] == ["user"]
