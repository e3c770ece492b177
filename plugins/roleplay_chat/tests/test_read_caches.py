"""What a process keeps of what it read stays right when other processes write the same sessions.

A session record is kept decoded per version and a session's messages per session (events are
never rewritten); both are checked here against a second app on the same storage, a deletion and
a writer that died past the record's count.
"""

from chat_support import User, assert_gapless, file_app
from roleplay_chat import sessions
from starlette.testclient import TestClient


def count_reads(kernel) -> list[str]:
    """The keys ``kernel``'s storage reads from now on."""
    keys: list[str] = []
    storage = kernel.storage
    real = storage._get

    async def counting(key):
        keys.append(key)
        return await real(key)

    storage._get = counting
    return keys


def test_a_repeated_session_read_asks_storage_only_for_what_is_new(tmp_path):
    app = file_app(tmp_path)
    with TestClient(app) as client:
        user = User(client, "alice")
        sid = user.start("test-quiet")["id"]
        for line in ("hello", "how are you", "fine"):
            user.say(sid, line)
        first = user.session(sid)
        reads = count_reads(app.state.kernel)
        again = user.session(sid)
        assert again["messages"] == first["messages"] and again["last_seq"] == first["last_seq"]
        # The record, and one event past its count (a writer that died may have left one there).
        assert reads == [sessions.session_key(sid), f"chat/sessions/{sid}/log/e/{first['last_seq'] + 1:012d}"]
        user.say(sid, "one more")
        reads.clear()
        again = user.session(sid)
        last = first["last_seq"]
        assert reads == [sessions.session_key(sid), *(f"chat/sessions/{sid}/log/e/{seq:012d}"
                                                      for seq in (last + 1, last + 2, last + 3))]
        assert [m["seq"] for m in again["messages"]] == list(range(1, first["last_seq"] + 3))
        assert_gapless(again["messages"])


def test_messages_and_records_read_by_one_process_follow_what_another_wrote(tmp_path):
    first, second = file_app(tmp_path), file_app(tmp_path)
    with TestClient(first) as one, TestClient(second) as two:
        alice_one, alice_two = User(one, "alice"), User(two, "alice")
        sid = alice_one.start("test-quiet")["id"]
        alice_one.say(sid, "hello")
        before = alice_one.session(sid)  # read and kept by the first process
        alice_two.say(sid, "still there?")
        alice_two.say(sid, "hello again")
        after = alice_one.session(sid)
        assert after["last_seq"] == before["last_seq"] + 4 == alice_two.session(sid)["last_seq"]
        assert [m["text"] for m in after["messages"]][-4::2] == ["still there?", "hello again"]
        assert after["counts"]["learner"] == 3
        # A record the first process decoded for an older version is not served for the new one.
        record, _ = one.portal.call(lambda: sessions.load_record(first.state.kernel, sid))
        assert record.last_seq == after["last_seq"]

        # A writer that died after storing a message, before updating the record: the message
        # is past the record's count, and still shown by the process that kept the rest.
        kernel = first.state.kernel
        one.portal.call(lambda: sessions.event_log(kernel, sid).append(
            "message", {"role": "learner", "text": "cut off", "voice": False, "character_id": None},
            seq=after["last_seq"] + 1))
        shown = alice_one.session(sid)["messages"]
        assert shown[-1]["text"] == "cut off" and shown[-1]["seq"] == after["last_seq"] + 1

        # Deleted by the other process: gone here too, nothing served from memory.
        assert alice_two.delete(f"/chat/sessions/{sid}").status_code == 204
        assert alice_one.get(f"/chat/sessions/{sid}").status_code == 404
        assert alice_one.get(f"/chat/sessions/{sid}/export").status_code == 404


def test_the_record_kept_after_a_write_is_the_record_in_storage(tmp_path):
    app = file_app(tmp_path)
    with TestClient(app) as client:
        kernel = app.state.kernel
        user = User(client, "alice")
        sid = user.start()["id"]
        for line in ("hello", "some bread please"):
            user.say(sid, line)
        kept, version = client.portal.call(lambda: sessions.load_record(kernel, sid))
        stored = client.portal.call(kernel.storage.get, sessions.session_key(sid))
        assert stored.version == version
        assert sessions.decode(stored.data) == kept  # what the writer kept is what a reader decodes


def test_a_stored_record_is_the_record_as_json_however_its_messages_were_kept(tmp_path, monkeypatch):
    # Each message's JSON is made once per process and reused in every record that carries it.
    import datetime as dt
    import json

    import attrs

    from roleplay_core import TranscriptMessage, converter

    at = dt.datetime(2026, 12, 1, 3, 0, tzinfo=dt.UTC)
    said = TranscriptMessage(seq=1, role="learner", text='She said "no" — 不好說', created_at=at)
    answered = TranscriptMessage(seq=2, role="character", text="Fine.", created_at=at, character_id="dana",
                                 voice=True, duration_ms=1200, beats=("acknowledge",))
    record = sessions.SessionRecord(id="s1", user_id="u1", scenario_id="refund", character_id="dana",
                                    language="en", seed=7, created_at=at, last_seq=2, learner_turns=1,
                                    character_turns=1, provider_state={"mood": -1, "fired": ["a"]},
                                    recent=(said, answered), last_message_at=at)
    monkeypatch.setattr(sessions, "_MESSAGE_TEXTS_KEPT", 3)  # forces the kept texts to be dropped below
    for version in (attrs.evolve(record, recent=()), record,
                    attrs.evolve(record, recent=(answered,), turn=sessions.Lease(id="h", until=5.0)),
                    attrs.evolve(record, recent=(said, answered, attrs.evolve(said, seq=3, text="again")))):
        stored = sessions.encode(version)
        assert json.loads(stored) == json.loads(json.dumps(converter.unstructure(version)))
        assert sessions.decode(stored) == version


def test_a_session_whose_snapshot_a_newer_server_wrote_still_takes_messages(tmp_path):
    # A rolling upgrade: a newer server on the same storage started the session and its snapshot
    # carries a field this version does not know. The session goes on here, without that field.
    import json

    first = file_app(tmp_path)
    with TestClient(first) as client:
        user = User(client, "alice")
        sid = user.start("test-quiet")["id"]
        user.say(sid, "hello")
        storage = first.state.kernel.storage
        stored = client.portal.call(storage.get, sessions.script_key(sid))
        body = json.loads(stored.data)
        body["script"]["rubric"]["passes_with_a_later_rule"] = True
        body["script"]["scripted"]["beats"][0]["gesture"] = "nods"
        client.portal.call(storage.put, sessions.script_key(sid), json.dumps(body).encode())
    second = file_app(tmp_path)  # nothing kept from the first: it reads the snapshot afresh
    with TestClient(second) as client:
        user = User(client, "alice")
        reply = user.say(sid, "how are you")
        assert reply["session"]["status"] == "active" and reply["reply"]["text"]
        assert user.session(sid)["last_seq"] == reply["session"]["last_seq"]
