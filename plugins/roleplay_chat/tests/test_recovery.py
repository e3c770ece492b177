"""Crashes do not lock sessions: turn leases are short, renewed while a reply is produced, taken over once lapsed.

The multi-process test is the issue's scenario: a server is killed with ``kill -9``
in the middle of turns, and another server on the same storage takes messages for
every session again within 10 seconds, with clients that do only what the API
tells them (wait ``Retry-After`` on ``session_busy``, retry on ``reply_pending``).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
from chat_support import FlakyPlugin, assert_gapless, build_app

from roleplay_core.testing import ServerProcess, auth_headers, check_recovered, crash_and_recover, make_app

TESTS = str(Path(__file__).parent)


@pytest.mark.anyio
async def test_a_live_turn_longer_than_its_lease_keeps_it():
    """A 2.5 s reply with a 0.6 s lease: the heartbeat renews it, nobody takes the session over meanwhile."""
    plugin = FlakyPlugin()
    plugin.provider.mode, plugin.provider.delay = "delayed", 2.5
    app = build_app({"chat.model": "flaky", "chat.turn_lease_seconds": 0.6}, plugins=[plugin])
    kernel = app.state.kernel
    await kernel.start()
    try:
        headers = auth_headers(app, "alice")
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://chat") as client:
            sid = (await client.post("/chat/sessions", json={"scenario_id": "test-quiet"}, headers=headers)).json()["id"]
            first = asyncio.ensure_future(client.post(f"/chat/sessions/{sid}/messages", json={"text": "long one"},
                                                      headers=headers))
            await asyncio.sleep(0.3)
            refused = []
            while not first.done():
                response = await client.post(f"/chat/sessions/{sid}/messages", json={"text": "cutting in"},
                                             headers=headers)
                assert response.status_code == 409, response.text
                refused.append(response)
                await asyncio.sleep(0.2)
            assert len(refused) >= 8, "the turn did not outlive its lease several times over"
            for response in refused:
                assert response.json()["code"] == "session_busy"
                assert response.headers["Retry-After"] == "1"  # at most 0.6 s left, rounded up
            assert (await first).status_code == 201, (await first).text
            stored = (await client.get(f"/chat/sessions/{sid}", headers=headers)).json()["messages"]
            assert_gapless(stored)
            assert [m["text"] for m in stored if m["role"] == "learner"] == ["long one"]
            # Released: the next message goes straight through.
            response = await client.post(f"/chat/sessions/{sid}/messages", json={"text": "next"}, headers=headers)
            assert response.status_code == 201, response.text
    finally:
        await kernel.stop()


def test_retry_after_counts_down_a_dead_holders_lease(tmp_path):
    """A lease nobody renews: Retry-After says the seconds really left, then the session is free."""
    settings = {"storage.backend": "file", "storage.file.root": str(tmp_path), "storage.file.fsync": False,
                "chat.turn_lease_seconds": 4.0, "chat.limits.messages_per_minute": 0}
    app = build_app(settings)
    from roleplay_chat import sessions
    from starlette.testclient import TestClient

    with TestClient(app) as client:
        headers = auth_headers(app, "alice")
        sid = client.post("/chat/sessions", json={"scenario_id": "test-quiet"}, headers=headers).json()["id"]
        kernel = app.state.kernel
        # A holder that took the lease and died: nothing renews or releases it.
        client.portal.call(sessions.take_lease, kernel, sid)
        answers = []
        for _ in range(3):
            response = client.post(f"/chat/sessions/{sid}/messages", json={"text": "hello"}, headers=headers)
            assert response.status_code == 409 and response.json()["code"] == "session_busy", response.text
            answers.append(int(response.headers["Retry-After"]))
            time.sleep(1.0)
        assert answers[0] == 4 and answers[1] in (3, 4) and answers[2] in (2, 3), answers
        assert answers == sorted(answers, reverse=True) and answers[2] < answers[0]
        time.sleep(answers[-1])
        response = client.post(f"/chat/sessions/{sid}/messages", json={"text": "hello"}, headers=headers)
        assert response.status_code == 201, response.text


def _server_settings(root: Path, delay: float) -> dict:
    return {"storage.backend": "file", "storage.file.root": str(root), "storage.file.fsync": False,
            "chat.model": "test-slow", "test_model.delay": delay, "chat.reply_timeout": 60.0, "chat.seed": 7,
            "chat.limits.messages_per_minute": 0, "chat.limits.sessions_per_day": 0}


def test_kill_9_mid_turn_frees_every_session_within_10_seconds_on_file_storage(tmp_path):
    plugins, path = ("chat_support:ExtraScripts",), (TESTS,)
    dying = ServerProcess(_server_settings(tmp_path, delay=30), plugins=plugins, pythonpath=path)
    living = ServerProcess(_server_settings(tmp_path, delay=0), plugins=plugins, pythonpath=path)
    try:
        dying.wait_ready()
        living.wait_ready()
        headers = auth_headers(make_app(_server_settings(tmp_path, 0)), "alice")
        result = crash_and_recover(dying, living, headers, "test-quiet")
        print(f"\nfile storage: every session took messages {result['seconds']:.2f} s after kill -9")
        check_recovered(result, lease=6)
    finally:
        dying.kill()
        living.stop()
