"""``roleplay storage fsck [--repair]`` on chat data: what it finds, what it repairs, what it leaves alone.

Test home of ``roleplay_chat.fsck``, ``roleplay_core.storage.fsck``, ``roleplay_evaluator.fsck``.
"""

from __future__ import annotations

import asyncio
import json
import os

from chat_support import file_app
from starlette.testclient import TestClient

from roleplay_core import EventLog
from roleplay_core.cli import main
from roleplay_core.storage import FileStorage
from roleplay_core.testing import auth_headers


def fsck(root, *extra: str) -> list[str]:
    return ["--set", "storage.backend=file", "--set", f"storage.file.root={root}", "--set",
            "chat.limits.messages_per_minute=0", "storage", "fsck", *extra]


def test_fsck_finds_repairs_and_leaves_alone(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("ROLEPLAY_"):
            monkeypatch.delenv(name)
    app = file_app(tmp_path, {"storage.file.fsync": False, "chat.limits.messages_per_minute": 0})
    with TestClient(app) as client:
        headers = auth_headers(app, "alice")
        sids = [client.post("/chat/sessions", json={"scenario_id": "test-quiet"}, headers=headers).json()["id"]
                for _ in range(3)]
        for sid in sids:
            for n in range(2):
                assert client.post(f"/chat/sessions/{sid}/messages", json={"text": f"hi {n}"},
                                   headers=headers).status_code == 201
    assert main(fsck(tmp_path)) == 0
    assert "0 problem(s)" in capsys.readouterr().out

    crashed, unindexed, gappy = sids
    storage = FileStorage(root=tmp_path, fsync=False)

    async def damage() -> None:
        await storage.open()
        # A writer died after storing a learner message, before writing the session record.
        await EventLog(storage, f"chat/sessions/{crashed}/log").append(
            "message", {"role": "learner", "text": "lost in the crash", "voice": False, "character_id": None})
        await storage.delete(f"chat/users/alice/sessions/{unindexed}")
        # Chat's logs keep no head hint (the record counts); a stale one left by hand is still checked.
        await storage.put(f"chat/sessions/{unindexed}/log/head", json.dumps({"seq": 1}).encode())
        await storage.put(f"chat/sessions/{gappy}/log/e/000000000009", json.dumps(
            {"seq": 9, "type": "message", "data": {}, "created_at": "2026-01-01T00:00:00+00:00"}).encode())
        await storage.put("chat/sessions/000000000000aaaaaaaaaaaa/script", b"{}")  # a half-deleted session

    asyncio.run(damage())
    (tmp_path / "chat" / "stray.rec").write_bytes(b"not a record at all")  # somebody's file

    assert main(fsck(tmp_path)) == 1
    captured = capsys.readouterr()
    err = captured.err
    assert f"chat/sessions/{crashed}: snapshot does not match the event log" in err
    assert "last_seq 4 (log: 5), learner_turns 2 (log: 3), pending_seq None (log: 5)" in err
    assert f"chat/users/alice/sessions/{unindexed}: missing from its owner's session index" in err
    assert f"event log chat/sessions/{unindexed}/log head hint 1 is behind the last event 4" in err
    assert f"event log chat/sessions/{gappy}/log has a gap: events 5..8 are missing" in err
    assert "keys left over from a deleted session" in err
    assert "foreign (left alone): chat/stray" in err
    assert "5 problem(s), 0 repaired" in captured.out and "1 foreign object(s)" in captured.out

    assert main(fsck(tmp_path, "--repair")) == 1  # the gap and the left-overs cannot be repaired
    captured = capsys.readouterr()
    assert "5 problem(s), 3 repaired, 2 left" in captured.out
    assert (tmp_path / "chat" / "stray.rec").exists()  # reported, never deleted

    assert main(fsck(tmp_path)) == 1
    assert "2 problem(s), 0 repaired, 2 left" in capsys.readouterr().out
    with TestClient(app) as client:
        session = client.get(f"/chat/sessions/{crashed}", headers=headers).json()
        assert session["awaiting_reply"] == 5 and session["counts"]["learner"] == 3
        assert client.post(f"/chat/sessions/{crashed}/retry", headers=headers).status_code == 201
        listed = [s["id"] for s in client.get("/chat/sessions", headers=headers).json()["items"]]
        assert unindexed in listed
