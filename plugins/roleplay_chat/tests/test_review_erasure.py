"""Issue 13, finding 13: deleting an account erases the user's sessions, messages, audio and
evaluations (through the kernel's user_deleted hook), so an admin no longer lists them."""

from __future__ import annotations

import pytest
from chat_support import build_app
from starlette.testclient import TestClient

from roleplay_core.testing import auth_headers

pytest.importorskip("roleplay_auth")
pytest.importorskip("roleplay_evaluator")

PASSWORD = "a sturdy passphrase 42"


def test_deleting_an_account_erases_its_sessions_and_evaluations():
    app = build_app()
    storage = app.state.kernel.storage
    admin = auth_headers(app, "root", ("admin",))
    with TestClient(app) as client:
        keep = client.post("/auth/register", json={"email": "keep@example.com", "password": PASSWORD,
                                                   "display_name": "Keep"}).json()
        pair = client.post("/auth/register", json={"email": "gone@example.com", "password": PASSWORD,
                                                   "display_name": "Gone"}).json()
        sessions = {}
        for who in (keep, pair):
            me = {"Authorization": f"Bearer {who['access_token']}"}
            sid = client.post("/chat/sessions", json={"scenario_id": "test-bakery"}, headers=me).json()["id"]
            assert client.post(f"/chat/sessions/{sid}/messages", json={"text": "hello"}, headers=me).status_code == 201
            # an audio record of the session, as a kept voice turn stores it
            client.portal.call(storage.put, f"chat/sessions/{sid}/voice-audio/000000000002.wav", b"RIFF")
            assert client.post("/evaluations", json={"session_id": sid}, headers=me).status_code == 201
            sessions[who["user"]["id"]] = sid
        gone_id, keep_id = pair["user"]["id"], keep["user"]["id"]
        assert client.get(f"/chat/sessions?user_id={gone_id}", headers=admin).json()["items"]
        assert client.get(f"/evaluations?user_id={gone_id}", headers=admin).json()["items"]

        assert client.delete("/users/me", headers={"Authorization": f"Bearer {pair['access_token']}"}
                             ).status_code == 204

        assert client.get(f"/chat/sessions?user_id={gone_id}", headers=admin).json()["items"] == []
        assert client.get(f"/evaluations?user_id={gone_id}", headers=admin).json()["items"] == []
        assert client.get(f"/chat/sessions/{sessions[gone_id]}", headers=admin).status_code == 404
        left = client.portal.call(storage.list_all, "")
        assert not [k for k in left if sessions[gone_id] in k or gone_id in k], [k for k in left if gone_id in k]
        # nobody else's data went with it
        assert len(client.get(f"/chat/sessions?user_id={keep_id}", headers=admin).json()["items"]) == 1
        assert len(client.get(f"/evaluations?user_id={keep_id}", headers=admin).json()["items"]) == 1
        assert client.portal.call(storage.list_all, f"chat/sessions/{sessions[keep_id]}/voice-audio/")
