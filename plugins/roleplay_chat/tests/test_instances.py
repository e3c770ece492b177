"""Stateless servers: two app instances on one file-storage root serve one session; crashes heal."""

import json
import time

from chat_support import User, assert_gapless, file_app
from roleplay_chat import sessions
from starlette.testclient import TestClient

LINES = ["hello", "hurry up", "who is she, your apprentice?", "la la la", "some bread please", "pay by card"]


def test_two_instances_serve_one_session_alternately(tmp_path):
    reference = file_app(tmp_path / "single")
    with TestClient(reference) as client:
        user = User(client, "alice")
        sid = user.start()["id"]
        expected = [user.say(sid, line)["reply"]["text"] for line in LINES]
    first, second = file_app(tmp_path / "shared"), file_app(tmp_path / "shared")
    with TestClient(first) as one, TestClient(second) as two:
        users = [User(one, "alice"), User(two, "alice")]
        sid = users[0].start()["id"]
        replies = [users[n % 2].say(sid, line)["reply"]["text"] for n, line in enumerate(LINES)]
        # The engine's state (mood, fired beats, used variants) went through storage, not memory.
        assert replies == expected
        for user in users:
            session = user.session(sid)
            assert session["status"] == "ended" and session["end_reason"] == "The learner bought the bread."
            assert_gapless(session["messages"])
        assert len(users[1].session(sid)["messages"]) == 1 + 2 * len(LINES)


def test_a_writer_that_died_mid_turn_is_healed(tmp_path):
    app = file_app(tmp_path)
    with TestClient(app) as client:
        kernel = app.state.kernel
        user = User(client, "alice")
        sid = user.start("test-quiet")["id"]
        user.say(sid, "hello")
        # Simulate a process that took the lease, stored the learner's message and died.
        record, version, lease = client.portal.call(lambda: sessions.take_lease(kernel, sid))
        client.portal.call(lambda: sessions.event_log(kernel, sid).append(
            "message", {"role": "learner", "text": "lost words", "voice": False}, seq=record.last_seq + 1))
        busy = user.post(f"/chat/sessions/{sid}/messages", json={"text": "anyone?"})
        assert busy.status_code == 409 and busy.json()["code"] == "session_busy"
        # Its lease runs out...
        key = sessions.session_key(sid)
        raw = json.loads(client.portal.call(kernel.storage.get, key).data)
        raw["turn"]["until"] = time.time() - 1
        client.portal.call(lambda: kernel.storage.put(key, json.dumps(raw).encode()))
        # ...and the next writer folds the orphan message in: it is kept, and waits for its reply.
        pending = user.post(f"/chat/sessions/{sid}/messages", json={"text": "anyone?"})
        assert pending.status_code == 409 and pending.json()["code"] == "reply_pending"
        assert pending.json()["pending_seq"] == 3
        retried = user.post(f"/chat/sessions/{sid}/retry")
        assert retried.status_code == 201, retried.text
        assert retried.json()["message"]["text"] == "lost words" and retried.json()["reply"]["seq"] == 4
        body = user.say(sid, "hello")
        assert (body["message"]["seq"], body["reply"]["seq"]) == (5, 6)
        session = user.session(sid)
        assert_gapless(session["messages"])
        assert session["counts"] == {"messages": 6, "learner": 3, "character": 3, "voice": 0}


def test_a_reply_stored_by_a_dead_writer_keeps_the_characters_state(tmp_path):
    from roleplay_chat.engine import play_turn

    app = file_app(tmp_path)
    with TestClient(app) as client:
        kernel = app.state.kernel
        user = User(client, "alice")
        sid = user.start()["id"]
        user.say(sid, "hello")
        # A writer stores a whole turn (message and reply, with the engine's state) and dies before
        # updating the session record.
        record, _, _ = client.portal.call(lambda: sessions.take_lease(kernel, sid))
        script = client.portal.call(lambda: sessions.load_script(kernel, sid))
        turn = play_turn(script, script.character(), "some bread please", record.provider_state, seed=record.seed)
        assert turn.info["beats"] == ["ask_bread"]

        async def crash() -> None:
            held, _ = await sessions.append_message(kernel, record, role="learner", text="some bread please")
            await sessions.append_message(kernel, held, role="character", text=turn.text, character_id="bruno",
                                          beats=turn.info["beats"], provider_state=turn.state)

        client.portal.call(crash)
        key = sessions.session_key(sid)
        raw = json.loads(client.portal.call(kernel.storage.get, key).data)
        assert raw["last_seq"] == 3  # the record never heard of seqs 4 and 5
        raw["turn"]["until"] = time.time() - 1
        client.portal.call(lambda: kernel.storage.put(key, json.dumps(raw).encode()))
        # "pay" requires "ask_bread": it fires only if the folded reply's state came back.
        body = user.say(sid, "I pay by card")
        assert (body["message"]["seq"], body["reply"]["seq"]) == (6, 7)
        assert body["reply"]["text"] == "Four euros. Thanks. Good night."
        assert body["session"]["status"] == "ended"
        assert_gapless(user.session(sid)["messages"])


def test_shutdown_waits_for_a_reply_under_way(tmp_path):
    from chat_support import FlakyPlugin, build_app

    plugin = FlakyPlugin()
    plugin.provider.mode = "delayed"
    settings = {"chat.model": "flaky", "storage.backend": "file", "storage.file.root": str(tmp_path)}
    with TestClient(build_app(settings, plugins=[plugin])) as client:
        user = User(client, "alice")
        sid = user.start("test-quiet")["id"]
        with client.websocket_connect(f"/chat/sessions/{sid}/ws") as ws:
            ws.send_json({"type": "auth", "token": user.token})
            ws.receive_json(), ws.receive_json()
            ws.send_json({"type": "message", "text": "quick"})
            assert ws.receive_json()["message"]["seq"] == 1
        # The app stops now, while the provider is still producing the reply.
    with TestClient(file_app(tmp_path)) as client:
        messages = User(client, "alice").session(sid)["messages"]
        assert [(m["seq"], m["role"]) for m in messages] == [(1, "learner"), (2, "character")]
