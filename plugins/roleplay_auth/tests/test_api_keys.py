"""Service accounts and API keys, end to end over HTTP and a WebSocket, and from the CLI.

The kernel asks plugins' ``authenticate_request`` hooks for credentials its own JWT check refuses;
roleplay_auth answers for ``rp_...`` keys. Test home of ``roleplay_auth.apikeys`` and
``roleplay_auth.apikey_routes``.
"""

from __future__ import annotations

import importlib.metadata
import io
import json
import os
import sys

import pytest
from auth_helpers import PASSWORD, bearer, login, register
from roleplay_auth.apikeys import KEY_PREFIX, key_digest
from starlette.testclient import TestClient

from roleplay_core import cli
from roleplay_core.testing import make_app

ADMIN = {"auth.bootstrap_admin.email": "root@example.com", "auth.bootstrap_admin.password": PASSWORD}
CHAT = bool(importlib.metadata.entry_points(group="roleplay", name="chat"))


def create(client, admin, **body):
    return client.post("/auth/service-accounts", json={"name": "LMS", "roles": ["user"], **body}, headers=bearer(admin))


def test_an_admin_creates_a_key_that_is_shown_once_and_stored_hashed():
    app = make_app(ADMIN)
    with TestClient(app) as client:
        admin = login(client, "root@example.com")
        response = create(client, admin, name="Moodle", roles=["scripter"], expires_in_days=30)
        assert response.status_code == 201, response.text
        body = response.json()
        key = body["api_key"]
        assert key.startswith("rp_") and len(key) == 46 and response.headers["cache-control"] == "no-store"
        assert body["id"].startswith("sa-") and body["roles"] == ["scripter"] and body["status"] == "active"
        assert body["key_hint"] == key[:7] and body["expires_at"] and body["last_used_at"] is None
        assert response.headers["location"].endswith(f"/auth/service-accounts/{body['id']}")

        listed = client.get("/auth/service-accounts", headers=bearer(admin)).json()["items"]
        assert [item["id"] for item in listed] == [body["id"]]
        assert key not in json.dumps(listed)
        storage = app.state.kernel.storage
        everything = [client.portal.call(storage.get, k).data for k in client.portal.call(storage.list_all, "")]
        assert not any(key.encode() in data for data in everything), "the key itself is stored nowhere"
        assert client.portal.call(storage.get, KEY_PREFIX + key_digest(key)).data  # only its SHA-256


def test_the_key_works_as_bearer_or_header_with_its_roles_and_records_its_last_use():
    with TestClient(make_app(ADMIN)) as client:
        admin = login(client, "root@example.com")
        user_key = create(client, admin, roles=["user"]).json()
        admin_key = create(client, admin, name="Ops script", roles=["admin"]).json()
        assert client.get("/plugins", headers={"Authorization": f"Bearer {admin_key['api_key']}"}).status_code == 200
        assert client.get("/plugins", headers={"X-API-Key": admin_key["api_key"]}).status_code == 200
        refused = client.get("/plugins", headers={"X-API-Key": user_key["api_key"]})
        assert refused.status_code == 403, refused.text  # the key's roles, nothing more
        assert client.get("/plugins", headers={"X-API-Key": "rp_" + "x" * 43}).status_code == 401
        assert client.get("/plugins", headers={"Authorization": "Bearer rp_unknown"}).status_code == 401
        listed = {a["id"]: a for a in client.get("/auth/service-accounts", headers=bearer(admin)).json()["items"]}
        assert listed[admin_key["id"]]["last_used_at"] is not None
        assert listed[user_key["id"]]["last_used_at"] is not None
        # a service account is no person: it cannot manage service accounts or users
        assert client.get("/auth/service-accounts", headers={"X-API-Key": admin_key["api_key"]}).status_code == 401


def test_revoked_and_expired_keys_stop_working_and_the_audit_log_says_so(monkeypatch):
    import roleplay_auth.apikeys as apikeys

    with TestClient(make_app(ADMIN)) as client:
        admin = login(client, "root@example.com")
        made = create(client, admin, roles=["admin"], expires_in_days=1).json()
        headers = {"X-API-Key": made["api_key"]}
        assert client.get("/plugins", headers=headers).status_code == 200
        revoked = client.delete(f"/auth/service-accounts/{made['id']}", headers=bearer(admin))
        assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
        assert client.get("/plugins", headers=headers).status_code == 401  # at once on this server
        assert client.delete(f"/auth/service-accounts/{made['id']}", headers=bearer(admin)).status_code == 200
        assert client.delete("/auth/service-accounts/sa-nope", headers=bearer(admin)).status_code == 404

        later = create(client, admin, roles=["admin"], expires_in_days=1).json()
        assert client.get("/plugins", headers={"X-API-Key": later["api_key"]}).status_code == 200
        real = apikeys.time.time
        monkeypatch.setattr(apikeys.time, "time", lambda: real() + 86400 + 10)  # a day and a bit later
        assert client.get("/plugins", headers={"X-API-Key": later["api_key"]}).status_code == 401
        monkeypatch.undo()

        events = client.get("/users/audit?limit=200", headers=bearer(admin)).json()["items"]
        kinds = [(e["type"], e["data"]["account_id"]) for e in events if e["type"].startswith("service_account.")]
        assert kinds == [("service_account.created", made["id"]), ("service_account.revoked", made["id"]),
                         ("service_account.created", later["id"])]


@pytest.mark.parametrize(("body", "field"), [
    ({"roles": ["owner"]}, "roles"),
    ({"roles": []}, "roles"),
    ({"name": ""}, "name"),
    ({"name": "bad\x00name"}, "name"),
    ({"expires_in_days": 0}, "expires_in_days"),
    ({"expires_in_days": "soon"}, "expires_in_days"),
    ({"scopes": ["x"]}, "scopes"),
])
def test_bad_input_is_a_422_naming_the_field(body, field):
    with TestClient(make_app(ADMIN)) as client:
        admin = login(client, "root@example.com")
        response = create(client, admin, **body)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert field in [error["field"] for error in response.json()["errors"]]


def test_only_admins_manage_service_accounts():
    with TestClient(make_app(ADMIN)) as client:
        person = register(client, "someone@example.com")
        assert create(client, person).status_code == 403
        assert client.get("/auth/service-accounts", headers=bearer(person)).status_code == 403
        assert client.get("/auth/service-accounts").status_code == 401


@pytest.mark.skipif(not CHAT, reason="needs roleplay-chat installed: its session socket")
def test_a_key_authenticates_a_websocket_and_the_socket_closes_when_it_is_revoked():
    with TestClient(make_app({**ADMIN, "security.websocket_recheck_seconds": 0.3})) as client:
        admin = login(client, "root@example.com")
        made = create(client, admin, roles=["user"]).json()
        headers = {"Authorization": f"Bearer {made['api_key']}"}
        scenario = client.get("/chat/scenarios", headers=headers).json()["items"][0]["id"]
        session = client.post("/chat/sessions", json={"scenario_id": scenario}, headers=headers)
        assert session.status_code == 201, session.text
        with client.websocket_connect(f"/chat/sessions/{session.json()['id']}/ws") as ws:
            ws.send_json({"type": "auth", "token": made["api_key"]})
            authenticated = ws.receive_json()
            assert authenticated["type"] == "authenticated" and authenticated["user"] == {"id": made["id"],
                                                                                         "roles": ["user"]}
            client.delete(f"/auth/service-accounts/{made['id']}", headers=bearer(admin))
            while True:  # frames (ready, pong...) until the recheck closes the socket
                message = ws.receive()
                if message["type"] == "websocket.close":
                    break
                frame = json.loads(message["text"])
                if frame.get("type") == "error":
                    assert frame["code"] == "account_changed" and "revoked" in frame["detail"], frame
            assert message["code"] == 4401
        with client.websocket_connect(f"/chat/sessions/{session.json()['id']}/ws") as ws:
            ws.send_json({"type": "auth", "token": made["api_key"]})
            frames = []
            while (message := ws.receive())["type"] != "websocket.close":
                frames.append(json.loads(message["text"]))
            assert message["code"] == 4401  # a revoked key cannot open a socket
            assert all(frame.get("type") != "authenticated" for frame in frames), frames


def test_the_cli_creates_lists_and_revokes(tmp_path, monkeypatch, capsys):
    for name in [k for k in os.environ if k.startswith("ROLEPLAY_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    common = ["--set", f"storage.file.root={tmp_path / 'data'}", "--set", "storage.file.fsync=false"]

    def run(*args):
        code = cli.main([*common, "service-accounts", *args])
        out, err = capsys.readouterr()
        return code, out, err

    code, out, _ = run("create", "--name", "HR sync", "--role", "scripter", "--expires-days", "7")
    assert code == 0, out
    account_id = out.split()[0]
    key = out.strip().splitlines()[-1].split()[-1]
    assert account_id.startswith("sa-") and key.startswith("rp_")
    code, out, _ = run("list")
    assert code == 0 and account_id in out and "active" in out and key not in out and key[:7] in out
    app = make_app({"storage.backend": "file", "storage.file.root": str(tmp_path / "data"),
                    "storage.file.fsync": False})
    with TestClient(app) as client:
        scripts = client.get("/scripts", headers={"X-API-Key": key})
        assert scripts.status_code == (200 if importlib.metadata.entry_points(group="roleplay", name="scripter")
                                       else 404)
    assert run("revoke", account_id)[0] == 0
    code, out, _ = run("list")
    assert "revoked" in out
    assert run("revoke", "sa-unknown")[0] == 1
    assert run("create", "--name", "x", "--role", "user", "--expires-days", "0")[0] == 2
