"""The HTTP API against a stand-in session owner registered through the get_transcript hook.

Test home of ``roleplay_evaluator.evaluate``, ``roleplay_evaluator.routes``.
"""

from __future__ import annotations

import datetime as dt

import pytest
import roleplay_evaluator.plugin as evaluator_plugin
from evaluator_support import GOOD, POOR, T0, TranscriptSource, requires_chat, small_script, transcript
from starlette.testclient import TestClient

from roleplay_core.testing import auth_headers, make_app


@pytest.fixture
def source():
    return TranscriptSource()


@pytest.fixture
def app(source):
    # A generous inline wait: these tests expect the finished report (201), also on a loaded machine.
    return make_app({"evaluator.inline_wait": 10}, plugins=[evaluator_plugin, source], load_entry_points=False)


@pytest.fixture
def client(app):
    with TestClient(app) as client:
        yield client


def headers(app, user="alice", roles=("user",)):
    return auth_headers(app, user, roles)


def quotes_verifiable(body, source):
    messages = {m.seq: m.text for m in source.transcripts[body["session_id"]].messages}
    count = 0
    for criterion in body["report"]["criteria"]:
        for quote in criterion["evidence"]:
            assert quote["quote"] in messages[quote["seq"]], quote
            count += 1
    return count


def test_evaluate_returns_the_finished_report(app, client, source):
    source.add(transcript(small_script(), GOOD, session_id="s-good"))
    response = client.post("/evaluations", json={"session_id": "s-good"}, headers=headers(app))
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"/evaluations/{body['id']}"
    assert body["status"] == "done" and body["session_id"] == "s-good" and body["user_id"] == "alice"
    report = body["report"]
    assert report["overall_score"] == body["overall_score"] >= 70 and report["passed"]
    assert report["scenario_id"] == "refund-small" and report["script_version"] == "3"
    assert report["evaluator"] == "rules" and len(report["rubric_digest"]) == 16
    assert {c["criterion_id"] for c in report["criteria"]} == {"empathy", "no-blame", "explore", "resolution", "tone"}
    assert set(report["statistics"]) >= {"learner_turns", "learner_words", "talk_share", "open_questions",
                                         "closed_questions", "duration_seconds"}
    assert 0 <= report["confidence"] <= 1 and isinstance(report["needs_human_review"], bool)
    assert quotes_verifiable(body, source) >= 5
    again = client.get(f"/evaluations/{body['id']}", headers=headers(app))
    assert again.status_code == 200 and again.json() == body


def test_reevaluating_keeps_the_old_report(app, client, source):
    source.add(transcript(small_script(), POOR, session_id="s1"))
    first = client.post("/evaluations", json={"session_id": "s1"}, headers=headers(app)).json()
    # The learner kept talking: the session grew. A new evaluation sees more; the old one is unchanged.
    source.add(transcript(small_script(), POOR + GOOD, session_id="s1"))
    second = client.post("/evaluations", json={"session_id": "s1"}, headers=headers(app)).json()
    assert first["id"] != second["id"]
    assert second["report"]["upto_seq"] > first["report"]["upto_seq"]
    assert client.get(f"/evaluations/{first['id']}", headers=headers(app)).json() == first
    listed = client.get("/evaluations?session_id=s1", headers=headers(app)).json()["items"]
    assert [item["id"] for item in listed] == [second["id"], first["id"]]  # newest first
    assert "report" not in listed[0]


def test_idempotent_per_request_id(app, client, source):
    source.add(transcript(small_script(), GOOD, session_id="s1"))
    source.add(transcript(small_script(), POOR, session_id="s2"))
    h = {**headers(app), "Idempotency-Key": "try-1"}
    first = client.post("/evaluations", json={"session_id": "s1"}, headers=h)
    replay = client.post("/evaluations", json={"session_id": "s1"}, headers=h)
    by_body = client.post("/evaluations", json={"session_id": "s1", "request_id": "try-1"}, headers=headers(app))
    assert first.status_code == replay.status_code == by_body.status_code == 201
    assert first.json()["id"] == replay.json()["id"] == by_body.json()["id"]
    assert replay.headers["idempotent-replayed"] == "true"
    assert first.json()["request_id"] == "try-1"
    assert len(client.get("/evaluations", headers=headers(app)).json()["items"]) == 1
    # The same key for another session is a client error naming the field.
    other = client.post("/evaluations", json={"session_id": "s2"}, headers=h)
    assert other.status_code == 422 and other.json()["errors"][0]["field"] == "request_id"
    # Header and body disagreeing is an error too.
    clash = client.post("/evaluations", json={"session_id": "s1", "request_id": "b"},
                        headers={**headers(app), "Idempotency-Key": "a"})
    assert clash.status_code == 422 and clash.headers["content-type"] == "application/problem+json"
    # Keys are per user: bob's "try-1" is his own.
    source.add(transcript(small_script(), GOOD, session_id="s3", user_id="bob"))
    bob = client.post("/evaluations", json={"session_id": "s3"},
                      headers={**headers(app, "bob"), "Idempotency-Key": "try-1"})
    assert bob.status_code == 201 and bob.json()["id"] != first.json()["id"]


def test_own_data_only_admins_all(app, client, source):
    source.add(transcript(small_script(), GOOD, session_id="alice-s", user_id="alice"))
    source.add(transcript(small_script(), POOR, session_id="bob-s", user_id="bob"))
    # Another user's session cannot be evaluated: it is "not found", as if it did not exist.
    stolen = client.post("/evaluations", json={"session_id": "bob-s"}, headers=headers(app, "alice"))
    assert stolen.status_code == 404 and stolen.headers["content-type"] == "application/problem+json"
    mine = client.post("/evaluations", json={"session_id": "alice-s"}, headers=headers(app, "alice")).json()
    for path in (f"/evaluations/{mine['id']}", f"/evaluations/{mine['id']}/export?format=json"):
        assert client.get(path, headers=headers(app, "bob")).status_code == 404
        assert client.get(path, headers=headers(app, "root", ("admin",))).status_code == 200
    assert client.get("/evaluations", headers=headers(app, "bob")).json()["items"] == []
    assert client.get("/evaluations?user_id=alice", headers=headers(app, "bob")).status_code == 403
    assert client.get("/evaluations/progress?user_id=alice", headers=headers(app, "bob")).status_code == 403
    admin_view = client.get("/evaluations?user_id=alice", headers=headers(app, "root", ("admin",))).json()
    assert [item["id"] for item in admin_view["items"]] == [mine["id"]]
    # An admin may evaluate a learner's session; the evaluation belongs to the learner.
    by_admin = client.post("/evaluations", json={"session_id": "bob-s"}, headers=headers(app, "root", ("admin",)))
    assert by_admin.status_code == 201 and by_admin.json()["user_id"] == "bob"
    assert client.get(f"/evaluations/{by_admin.json()['id']}", headers=headers(app, "bob")).status_code == 200
    # Nobody signed in.
    assert client.get("/evaluations").status_code == 401
    assert client.post("/evaluations", json={"session_id": "alice-s"}).status_code == 401


@pytest.mark.parametrize(("body", "field"), [
    ({}, "session_id"),
    ({"session_id": ""}, "session_id"),
    ({"session_id": 5}, "session_id"),
    ({"session_id": "s", "request_id": "x" * 201}, "request_id"),
    ({"session_id": "s", "extra": 1}, "$"),
])
def test_bad_bodies_are_422_naming_the_field(app, client, body, field):
    response = client.post("/evaluations", json=body, headers=headers(app))
    assert response.status_code == 422 and response.headers["content-type"] == "application/problem+json"
    fields = [error["field"] for error in response.json()["errors"]]
    assert field in fields or (field == "$" and fields), fields


def test_bad_requests(app, client, source):
    h = headers(app)
    assert client.post("/evaluations", content=b"session_id=1", headers=h).status_code == 415
    assert client.post("/evaluations", content=b"{", headers={**h, "content-type": "application/json"}
                       ).status_code == 400
    assert client.post("/evaluations", json={"session_id": "nope"}, headers=h).status_code == 404
    source.add(transcript(small_script(), [("c", "Hello, can I help?")], session_id="quiet"))
    silent = client.post("/evaluations", json={"session_id": "quiet"}, headers=h)
    assert silent.status_code == 409 and "nothing to evaluate" in silent.json()["detail"]
    assert client.get("/evaluations/ffff", headers=h).status_code == 404
    assert client.get("/evaluations/../etc", headers=h).status_code == 404
    for query, field in (("limit=0", "limit"), ("limit=x", "limit"), ("status=maybe", "status")):
        response = client.get(f"/evaluations?{query}", headers=h)
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == field
    source.add(transcript(small_script(), GOOD, session_id="s1"))
    done = client.post("/evaluations", json={"session_id": "s1"}, headers=h).json()
    bad = client.get(f"/evaluations/{done['id']}/export?format=pdf", headers=h)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "format"


def test_export_markdown_and_json(app, client, source):
    source.add(transcript(small_script(), POOR, session_id="s1"))
    done = client.post("/evaluations", json={"session_id": "s1"}, headers=headers(app)).json()
    md = client.get(f"/evaluations/{done['id']}/export?format=markdown", headers=headers(app))
    assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
    assert "attachment" in md.headers["content-disposition"]
    text = md.text
    assert text.startswith("# Evaluation: Refund (small)")
    assert f"**{done['report']['overall_score']}/100**" in text
    for criterion in done["report"]["criteria"]:
        assert criterion["title"] in text
        for quote in criterion["evidence"]:
            assert f"#{quote['seq']}: \u201c{' '.join(quote['quote'].split())}\u201d" in text
        if criterion["suggestion"]:
            assert f"**Say this instead:** {criterion['suggestion']}" in text
    js = client.get(f"/evaluations/{done['id']}/export?format=json", headers=headers(app))
    assert js.status_code == 200 and js.json() == done


def test_list_filters_and_pages(app, client, source):
    other = small_script()
    import attrs

    other = attrs.evolve(other, id="other-scenario")
    for n in range(5):
        script = other if n % 2 else small_script()
        source.add(transcript(script, GOOD, session_id=f"s{n}"))
        assert client.post("/evaluations", json={"session_id": f"s{n}"}, headers=headers(app)).status_code == 201
    everything = client.get("/evaluations", headers=headers(app)).json()["items"]
    assert len(everything) == 5
    only = client.get("/evaluations?scenario_id=other-scenario", headers=headers(app)).json()["items"]
    assert {item["session_id"] for item in only} == {"s1", "s3"}
    page1 = client.get("/evaluations?limit=2", headers=headers(app)).json()
    page2 = client.get(f"/evaluations?limit=2&cursor={page1['next_cursor']}", headers=headers(app)).json()
    page3 = client.get(f"/evaluations?limit=2&cursor={page2['next_cursor']}", headers=headers(app)).json()
    assert page3["next_cursor"] is None
    assert [i["id"] for i in page1["items"] + page2["items"] + page3["items"]] == [i["id"] for i in everything]
    assert client.get("/evaluations?status=done", headers=headers(app)).json()["items"] == everything


def test_progress_over_several_sessions(app, client, source):
    script = small_script()
    # Four sessions on one scenario, getting better; one on another scenario.
    practice = [POOR, POOR + GOOD[:4], GOOD[:6] + GOOD[6:], GOOD]
    for n, turns in enumerate(practice):
        source.add(transcript(script, turns, session_id=f"p{n}", started_at=T0 + dt.timedelta(days=n)))
    import attrs

    source.add(transcript(attrs.evolve(script, id="other"), GOOD, session_id="x", started_at=T0))
    ids = {}
    for session in ("p2", "p0", "p3", "p1", "x"):  # evaluated out of order: progress follows the sessions
        ids[session] = client.post("/evaluations", json={"session_id": session}, headers=headers(app)).json()
    # Re-evaluating p0 adds no point: each session counts once, with its newest evaluation.
    ids["p0"] = client.post("/evaluations", json={"session_id": "p0"}, headers=headers(app)).json()
    body = client.get("/evaluations/progress", headers=headers(app)).json()
    assert body["user_id"] == "alice"
    scenarios = {s["scenario_id"]: s for s in body["scenarios"]}
    assert set(scenarios) == {"refund-small", "other"}
    refund = scenarios["refund-small"]
    assert refund["sessions"] == 4
    assert [p["session_id"] for p in refund["points"]] == ["p0", "p1", "p2", "p3"]
    scores = [p["overall_score"] for p in refund["points"]]
    assert scores == [ids[f"p{n}"]["report"]["overall_score"] for n in range(4)]
    assert scores[0] < scores[1] <= scores[3] and refund["change"] == scores[-1] - scores[0] > 0
    assert refund["best_score"] == max(scores) and refund["first_score"] == scores[0]
    assert refund["points"][0]["evaluation_id"] == ids["p0"]["id"]
    criteria = {c["criterion_id"]: c for c in refund["criteria"]}
    # "tone" needs a model, so it is never scored here and has no points to plot.
    assert set(criteria) == {"empathy", "no-blame", "explore", "resolution"}
    empathy = [p["score"] for p in criteria["empathy"]["points"]]
    expected = [next(c["score"] for c in ids[f"p{n}"]["report"]["criteria"] if c["criterion_id"] == "empathy")
                for n in range(4)]
    assert empathy == expected and criteria["empathy"]["change"] == empathy[-1] - empathy[0] > 0
    filtered = client.get("/evaluations/progress?scenario_id=other", headers=headers(app)).json()
    assert [s["scenario_id"] for s in filtered["scenarios"]] == ["other"]
    assert client.get("/evaluations/progress", headers=headers(app, "bob")).json()["scenarios"] == []
    admin = client.get("/evaluations/progress?user_id=alice", headers=headers(app, "root", ("admin",))).json()
    assert admin["scenarios"] == body["scenarios"]


def test_concurrent_requests_with_one_key_make_one_evaluation(app, client, source):
    from concurrent.futures import ThreadPoolExecutor

    source.add(transcript(small_script(), GOOD, session_id="s1"))
    h = {**headers(app), "Idempotency-Key": "double-click"}

    def post(_):
        return client.post("/evaluations", json={"session_id": "s1"}, headers=h)

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(post, range(8)))
    assert {r.status_code for r in responses} <= {201, 202}
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum(1 for r in responses if r.headers.get("idempotent-replayed")) == 7
    assert len(client.get("/evaluations", headers=headers(app)).json()["items"]) == 1


@requires_chat
def test_routes_follow_the_plugin_prefix():
    app = make_app({"plugins.evaluator.prefix": "/api", "evaluator.inline_wait": 10})  # every installed plugin, chat owning sessions
    with TestClient(app) as client:
        h = headers(app)
        session_id = client.post("/chat/sessions", json={"scenario_id": "refund-angry-customer"}, headers=h).json()["id"]
        assert client.post(f"/chat/sessions/{session_id}/messages", json={"text": "What happened?"},
                           headers=h).status_code == 201
        assert client.post("/evaluations", json={"session_id": session_id}, headers=h).status_code == 404
        response = client.post("/api/evaluations", json={"session_id": session_id}, headers=h)
        assert response.status_code == 201
        assert response.headers["location"] == f"/api/evaluations/{response.json()['id']}"
        assert client.get(response.headers["location"], headers=h).json()["status"] == "done"
