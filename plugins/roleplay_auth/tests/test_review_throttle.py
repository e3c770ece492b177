"""Issue 13, findings 5 and 6: throttling that nobody can use to lock the owner out, and a
registration limit per address.

Test home of ``roleplay_auth.throttle``.
"""

from __future__ import annotations

from auth_helpers import PASSWORD, register
from starlette.testclient import TestClient

from roleplay_core.testing import make_app

WRONG = {"email": "owner@example.com", "password": "a wrong guess 1"}
RIGHT = {"email": "owner@example.com", "password": PASSWORD}


def at(app, address: str) -> TestClient:
    """Another browser at ``address`` (no lifespan: the first client started the app)."""
    return TestClient(app, client=(address, 40000))


def test_wrong_guesses_from_elsewhere_do_not_lock_the_owner_out():
    app = make_app({"auth.throttle.account.max_failures": 5})
    with TestClient(app, client=("192.0.2.10", 50000)) as home:
        register(home, "owner@example.com")
        assert home.post("/auth/login", json=RIGHT).status_code == 200  # home is now a known address
        attacker = at(app, "203.0.113.66")
        for _ in range(5):
            assert attacker.post("/auth/login", json=WRONG).status_code == 401
        # the attacker is throttled, even with the right password
        assert attacker.post("/auth/login", json=WRONG).status_code == 429
        assert attacker.post("/auth/login", json=RIGHT).status_code == 429
        # ...from other addresses too (the account counts every failure), unless they are known
        stranger = at(app, "198.51.100.7")
        locked = stranger.post("/auth/login", json=RIGHT)
        assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
        # the owner, at home, signs in as usual
        assert home.post("/auth/login", json=RIGHT).status_code == 200
        # and on the road, the browser that signed in before (its HttpOnly device cookie) gets through
        assert "roleplay_device" in home.cookies
        road = at(app, "198.51.100.99")
        road.cookies.set("roleplay_device", home.cookies["roleplay_device"])
        assert road.post("/auth/login", json=RIGHT).status_code == 200
        # a made-up device cookie is no key
        forged = at(app, "198.51.100.98")
        forged.cookies.set("roleplay_device", "made-up-device-token")
        assert forged.post("/auth/login", json=RIGHT).status_code == 429


def test_wrong_guesses_from_a_known_address_stay_throttled():
    app = make_app({"auth.throttle.account.max_failures": 3})
    with TestClient(app, client=("192.0.2.20", 50000)) as home:
        register(home, "owner@example.com")
        assert home.post("/auth/login", json=RIGHT).status_code == 200
        for _ in range(3):
            assert home.post("/auth/login", json=WRONG).status_code == 401
        assert home.post("/auth/login", json=WRONG).status_code == 429
        assert home.post("/auth/login", json=RIGHT).status_code == 429


def test_one_noisy_machine_behind_a_nat_does_not_lock_out_everyone_there():
    app = make_app({"auth.throttle.client.max_failures": 4, "auth.throttle.account.max_failures": 100})
    nat = "192.0.2.30"
    with TestClient(app, client=(nat, 50000)) as colleague:
        register(colleague, "owner@example.com")
        assert colleague.post("/auth/login", json=RIGHT).status_code == 200
        sprayer = at(app, nat)
        for n in range(4):
            sprayer.post("/auth/login", json={"email": f"spray{n}@example.com", "password": "spray spray"})
        assert sprayer.post("/auth/login", json={"email": "spray9@example.com", "password": "x" * 12}
                            ).status_code == 429
        # the colleague signed in from this address before: not locked out by the sprayer
        fresh = at(app, nat)  # even in a new browser without the device cookie
        assert fresh.post("/auth/login", json=RIGHT).status_code == 200


def test_registration_is_limited_per_address():
    app = make_app({"auth.registration.per_address.max": 3, "auth.registration.per_address.window_seconds": 3600})
    with TestClient(app, client=("203.0.113.5", 50000)) as client:
        for n in range(3):
            register(client, f"bot{n}@example.com")
        refused = client.post("/auth/register", json={"email": "bot3@example.com", "password": PASSWORD,
                                                      "display_name": "Bot"})
        assert refused.status_code == 429, refused.text
        assert 3000 < int(refused.headers["retry-after"]) <= 3600
        assert refused.headers["content-type"].startswith("application/problem+json")
        # a bad request counts too (each one costs a password hash or a lookup), and stays refused
        assert client.post("/auth/register", json={"email": "x"}).status_code == 429
        # another address is not affected
        other = at(app, "203.0.113.6")
        assert other.post("/auth/register", json={"email": "person@example.com", "password": PASSWORD,
                                                  "display_name": "Person"}).status_code == 201
