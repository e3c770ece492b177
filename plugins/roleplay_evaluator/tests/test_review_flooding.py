"""Issue 13, finding 7: one unchanged session gets one evaluation, and evaluations per user per day
are limited."""

from __future__ import annotations

import datetime as dt

import roleplay_evaluator.plugin as evaluator_plugin
from evaluator_support import GOOD, POOR, TranscriptSource, small_script, transcript
from starlette.testclient import TestClient

from roleplay_core.testing import auth_headers, make_app


def _app(source, **settings):
    # A generous inline wait: these tests expect finished reports (201), also on a loaded machine.
    return make_app({"evaluator.inline_wait": 10, **settings}, plugins=[evaluator_plugin, source],
                    load_entry_points=False)


def test_an_unchanged_session_returns_its_evaluation_unless_a_new_one_is_asked_for():
    source = TranscriptSource()
    source.add(transcript(small_script(), POOR, session_id="s1"))
    app = _app(source)
    alice = auth_headers(app, "alice")
    with TestClient(app) as client:
        first = client.post("/evaluations", json={"session_id": "s1"}, headers=alice)
        assert first.status_code == 201
        for _ in range(30):  # the review sent 300 and got 300 evaluations
            again = client.post("/evaluations", json={"session_id": "s1"}, headers=alice)
            assert again.status_code == 200, again.text
            assert again.json()["id"] == first.json()["id"] and again.json()["reused"] is True
            assert again.json()["report"] == first.json()["report"]
        assert len(client.get("/evaluations", headers=alice).json()["items"]) == 1
        # a new idempotency key does not get around it either
        keyed = client.post("/evaluations", json={"session_id": "s1", "request_id": "k1"}, headers=alice)
        assert keyed.json()["id"] == first.json()["id"]
        # the client may ask for a new evaluation of the same session
        fresh = client.post("/evaluations", json={"session_id": "s1", "new": True}, headers=alice)
        assert fresh.status_code == 201 and fresh.json()["id"] != first.json()["id"]
        # ...which is then the one an unchanged session returns
        assert client.post("/evaluations", json={"session_id": "s1"}, headers=alice).json()["id"] == fresh.json()["id"]
        # a new learner message is a new session state: a new evaluation
        source.add(transcript(small_script(), POOR + GOOD, session_id="s1"))
        grown = client.post("/evaluations", json={"session_id": "s1"}, headers=alice)
        assert grown.status_code == 201 and grown.json()["id"] not in (first.json()["id"], fresh.json()["id"])
        assert len(client.get("/evaluations", headers=alice).json()["items"]) == 3
        # "new" must be a boolean
        bad = client.post("/evaluations", json={"session_id": "s1", "new": "yes"}, headers=alice)
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "new"


def test_evaluations_per_user_per_day_are_limited():
    source = TranscriptSource()
    for n in range(4):
        source.add(transcript(small_script(), GOOD, session_id=f"a{n}", user_id="alice"))
    source.add(transcript(small_script(), GOOD, session_id="b0", user_id="bob"))
    app = _app(source, **{"evaluator.daily_limit": 3})
    alice, bob = auth_headers(app, "alice"), auth_headers(app, "bob")
    with TestClient(app) as client:
        for n in range(3):
            assert client.post("/evaluations", json={"session_id": f"a{n}"}, headers=alice).status_code == 201
        refused = client.post("/evaluations", json={"session_id": "a3"}, headers=alice)
        assert refused.status_code == 429, refused.text
        assert refused.json()["code"] == "daily_limit"
        now = dt.datetime.now(dt.UTC)
        midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), dt.UTC)
        assert 0 < int(refused.headers["retry-after"]) <= (midnight - now).total_seconds() + 2
        assert client.post("/evaluations", json={"session_id": "a3", "new": True}, headers=alice).status_code == 429
        # what exists can still be read back, unchanged sessions still answer, other users are not affected
        assert client.post("/evaluations", json={"session_id": "a0"}, headers=alice).status_code == 200
        assert client.post("/evaluations", json={"session_id": "b0"}, headers=bob).status_code == 201
        # the refused request left nothing behind: no evaluation of a3
        assert client.get("/evaluations?session_id=a3", headers=alice).json()["items"] == []
