"""Real concurrency: 50 registrations of one email against two server processes' worth of kernels."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
from auth_helpers import PASSWORD
from auth_oidc_provider import UvicornThread

from roleplay_core.testing import make_app


def test_fifty_concurrent_registrations_of_one_email_have_one_winner(tmp_path):
    # Two independent kernels (as two server processes would have) on one shared file storage,
    # each behind its own uvicorn server on loopback; 50 threads race through both.
    settings = {"storage.backend": "file", "storage.file.root": str(tmp_path), "storage.file.fsync": False}
    with UvicornThread(make_app(settings)) as one, UvicornThread(make_app(settings)) as two:
        servers = [one.url, two.url]
        barrier = threading.Barrier(50)

        def attempt(n: int) -> int:
            with httpx.Client(base_url=servers[n % 2], timeout=60) as client:
                barrier.wait()
                return client.post("/auth/register", json={
                    "email": "Race@Example.com" if n % 3 else " race@example.com", "password": PASSWORD,
                    "display_name": f"Racer {n}"}).status_code

        with ThreadPoolExecutor(max_workers=50) as pool:
            codes = list(pool.map(attempt, range(50)))
        assert codes.count(201) == 1, codes
        assert codes.count(409) == 49, codes
        for url in servers:  # both servers see the one account
            response = httpx.post(f"{url}/auth/login", json={"email": "race@example.com", "password": PASSWORD})
            assert response.status_code == 200, response.text
    users = [json.loads(p.read_bytes().split(b"\n", 1)[1]) for p in (tmp_path / "auth" / "users").glob("*.rec")]
    assert [u["email"] for u in users] == ["race@example.com"]
