"""Own data only: another user's session is 404; admins can read all but not speak; sign-in required."""

import pytest
from chat_support import User
from starlette.websockets import WebSocketDisconnect


def test_another_users_session_is_404_everywhere(alice, bob):
    session = alice.start()
    sid = session["id"]
    assert bob.get(f"/chat/sessions/{sid}").status_code == 404
    assert bob.post(f"/chat/sessions/{sid}/messages", json={"text": "hello"}).status_code == 404
    assert bob.post(f"/chat/sessions/{sid}/retry").status_code == 404
    assert bob.post(f"/chat/sessions/{sid}/end").status_code == 404
    assert bob.get(f"/chat/sessions/{sid}/export").status_code == 404
    assert bob.delete(f"/chat/sessions/{sid}").status_code == 404
    assert bob.get("/chat/sessions", params={"user_id": "alice"}).status_code == 403
    assert sid not in [s["id"] for s in bob.get("/chat/sessions").json()["items"]]
    # Nothing changed for Alice.
    mine = alice.session(sid)
    assert mine["status"] == "active" and mine["last_seq"] == 1


def test_another_users_session_is_404_over_websocket(client, alice, bob):
    session = alice.start()
    with client.websocket_connect(f"/chat/sessions/{session['id']}/ws") as socket:
        socket.send_json({"type": "auth", "token": bob.token})
        assert socket.receive_json()["type"] == "authenticated"
        error = socket.receive_json()
        assert error["type"] == "error" and error["status"] == 404
        with pytest.raises(WebSocketDisconnect) as closed:
            socket.receive_json()
        assert closed.value.code == 4404


def test_admin_reads_all_but_does_not_speak(alice, admin):
    session = alice.start()
    alice.say(session["id"], "hello")
    sid = session["id"]
    assert admin.get(f"/chat/sessions/{sid}").json()["user_id"] == "alice"
    assert admin.get(f"/chat/sessions/{sid}/export", params={"format": "jsonl"}).status_code == 200
    assert [s["id"] for s in admin.get("/chat/sessions", params={"user_id": "alice"}).json()["items"]] == [sid]
    refused = admin.post(f"/chat/sessions/{sid}/messages", json={"text": "hello"})
    assert refused.status_code == 403
    assert admin.post(f"/chat/sessions/{sid}/end").status_code == 403
    assert alice.session(sid)["status"] == "active"
    assert admin.delete(f"/chat/sessions/{sid}").status_code == 204  # moderation
    assert alice.get(f"/chat/sessions/{sid}").status_code == 404


def test_sign_in_required(client, alice):
    session = alice.start()
    for method, path in (("GET", "/chat/scenarios"), ("GET", "/chat/scenarios/test-bakery"),
                         ("POST", "/chat/sessions"), ("GET", "/chat/sessions"),
                         ("GET", f"/chat/sessions/{session['id']}"),
                         ("POST", f"/chat/sessions/{session['id']}/messages"),
                         ("GET", f"/chat/sessions/{session['id']}/export")):
        response = client.request(method, path)
        assert response.status_code == 401, (method, path)
        assert response.headers["content-type"].startswith("application/problem+json")
    with client.websocket_connect(f"/chat/sessions/{session['id']}/ws") as socket:
        socket.send_json({"type": "auth", "token": "not-a-token"})
        assert socket.receive_json()["type"] == "error"
        with pytest.raises(WebSocketDisconnect) as closed:
            socket.receive_json()
        assert closed.value.code == 4401


@pytest.mark.parametrize("user_id", ["..", ".hidden", "a/b", "émile@example.com", "x\\y"])
def test_odd_user_ids_get_their_own_sessions(client, user_id):
    user = User(client, user_id)
    sid = user.start("test-quiet")["id"]
    assert user.say(sid, "hello")["reply"]["text"] == "Hello."
    assert [s["id"] for s in user.get("/chat/sessions").json()["items"]] == [sid]
    assert User(client, "someone").get(f"/chat/sessions/{sid}").status_code == 404
