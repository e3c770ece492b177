"""Evaluations off the request path: 202 and polling, restart pickup, leases across processes.

Test home of ``roleplay_evaluator.progress``.
"""

from __future__ import annotations

import asyncio
import time

import attrs
import pytest
import roleplay_evaluator.plugin as evaluator_plugin
from evaluator_support import GOOD, Judge, JudgePlugin, TranscriptSource, requires_chat, small_script, transcript
from roleplay_evaluator.report import PENDING, Evaluation
from roleplay_evaluator.runner import now, runner_of
from roleplay_evaluator.store import EvaluationStore, new_id
from starlette.testclient import TestClient

from roleplay_core import SettingsError
from roleplay_core.plugins import bootstrap
from roleplay_core.testing import auth_headers, make_app, make_kernel


def file_settings(root, **extra):
    return {"storage.backend": "file", "storage.file.root": str(root), "storage.file.fsync": False, **extra}


def poll(client, app, evaluation_id, seconds=10.0):
    deadline = time.monotonic() + seconds
    while True:
        body = client.get(f"/evaluations/{evaluation_id}", headers=auth_headers(app, "alice")).json()
        if body["status"] != PENDING or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


def test_slow_evaluation_answers_202_then_finishes_in_the_background():
    source = TranscriptSource()
    source.add(transcript(small_script(), GOOD, session_id="s1"))
    slow = Judge(score=80.0, delay=0.4)
    app = make_app({"evaluator.model": "slow", "evaluator.inline_wait": 0.0},
                   plugins=[evaluator_plugin, source, JudgePlugin(slow=slow)], load_entry_points=False)
    with TestClient(app) as client:
        response = client.post("/evaluations", json={"session_id": "s1"}, headers=auth_headers(app, "alice"))
        assert response.status_code == 202, response.text
        body = response.json()
        assert body["status"] == "pending" and body["report"] is None
        assert response.headers["location"] == f"/evaluations/{body['id']}"
        early = client.get(f"/evaluations/{body['id']}/export?format=markdown", headers=auth_headers(app, "alice"))
        assert early.status_code == 409 and "pending" in early.json()["detail"]
        done = poll(client, app, body["id"])
        assert done["status"] == "done" and done["report"]["evaluator"].startswith("rules+model:slow")
        assert done["finished_at"] is not None
        listed = client.get("/evaluations?status=done", headers=auth_headers(app, "alice")).json()["items"]
        assert [item["id"] for item in listed] == [body["id"]]


def test_a_pending_evaluation_is_picked_up_after_a_restart(tmp_path):
    source = TranscriptSource()  # the session owner: its data outlives both app instances
    source.add(transcript(small_script(), GOOD, session_id="s1"))
    stuck = Judge(delay=60.0)
    first = make_app(file_settings(tmp_path, **{"evaluator.model": "judge", "evaluator.inline_wait": 0.0,
                                                "evaluator.judge_timeout": 90}),
                     plugins=[evaluator_plugin, source, JudgePlugin(judge=stuck)], load_entry_points=False)
    with TestClient(first) as client:
        response = client.post("/evaluations", json={"session_id": "s1"}, headers=auth_headers(first, "alice"))
        assert response.status_code == 202
        evaluation_id = response.json()["id"]
        deadline = time.monotonic() + 5
        while not stuck.requests and time.monotonic() < deadline:
            time.sleep(0.02)
        assert stuck.requests, "the first instance never started judging"
    # The first instance stopped mid-judgement. A second one over the same storage finishes the job.
    quick = Judge(score=77.0)
    second = make_app(file_settings(tmp_path, **{"evaluator.model": "judge"}),
                      plugins=[evaluator_plugin, source, JudgePlugin(judge=quick)], load_entry_points=False)
    with TestClient(second) as client:
        body = poll(client, second, evaluation_id)
        assert body["status"] == "done", body
        tone = next(c for c in body["report"]["criteria"] if c["criterion_id"] == "tone")
        assert tone["score"] == 77 and len(quick.requests) == 1
        assert client.get("/evaluations", headers=auth_headers(second, "alice")).json()["items"][0]["id"] == \
            evaluation_id


def _pending(evaluation_id, **lease):
    return Evaluation(id=evaluation_id, user_id="alice", session_id="s1", scenario_id="refund-small",
                      status=PENDING, created_at=now(), upto_seq=len(GOOD), **lease)


async def _write(root, evaluation):
    kernel = make_kernel(file_settings(root), load_entry_points=False)
    await kernel.open()
    try:
        assert await EvaluationStore(kernel.storage).create(evaluation)
    finally:
        await kernel.stop()


def test_a_crashed_process_lease_is_taken_over_once_it_expires(tmp_path):
    source = TranscriptSource()
    source.add(transcript(small_script(), GOOD, session_id="s1"))
    evaluation_id = new_id()
    # A process claimed it and died without releasing the lease, which runs out in 1.5 s.
    asyncio.run(_write(tmp_path, _pending(evaluation_id, lease_owner="dead-process", attempts=1,
                                          lease_until=time.time() + 1.5)))
    app = make_app(file_settings(tmp_path, **{"evaluator.resume_interval": 0.2}),
                   plugins=[evaluator_plugin, source], load_entry_points=False)
    with TestClient(app) as client:
        early = client.get(f"/evaluations/{evaluation_id}", headers=auth_headers(app, "alice")).json()
        assert early["status"] == "pending"  # not stolen from a process that may still be alive
        body = poll(client, app, evaluation_id, seconds=10)
        assert body["status"] == "done" and body["report"]["overall_score"] >= 70


def test_too_many_interrupted_attempts_fail_with_a_reason(tmp_path):
    source = TranscriptSource()
    source.add(transcript(small_script(), GOOD, session_id="s1"))
    evaluation_id = new_id()
    asyncio.run(_write(tmp_path, _pending(evaluation_id, attempts=3)))
    app = make_app(file_settings(tmp_path), plugins=[evaluator_plugin, source], load_entry_points=False)
    with TestClient(app) as client:
        body = poll(client, app, evaluation_id)
        assert body["status"] == "failed" and "gave up after 3" in body["reason"]
        export = client.get(f"/evaluations/{evaluation_id}/export", headers=auth_headers(app, "alice"))
        assert export.status_code == 409 and "failed" in export.json()["detail"]


def test_a_vanished_session_fails_with_a_reason(tmp_path):
    evaluation_id = new_id()
    asyncio.run(_write(tmp_path, _pending(evaluation_id)))
    app = make_app(file_settings(tmp_path), plugins=[evaluator_plugin, TranscriptSource()],
                   load_entry_points=False)
    with TestClient(app) as client:
        body = poll(client, app, evaluation_id)
        assert body["status"] == "failed" and body["reason"] == "the practice session no longer exists"


def test_two_processes_never_both_run_one_evaluation(tmp_path):
    source = TranscriptSource()
    source.add(transcript(small_script(), GOOD, session_id="s1"))
    judge = Judge(score=60.0, delay=0.2)
    evaluation_id = new_id()
    asyncio.run(_write(tmp_path, _pending(evaluation_id)))

    async def race():
        kernels = [make_kernel(file_settings(tmp_path, **{"evaluator.model": "judge"}),
                               plugins=[evaluator_plugin, source, JudgePlugin(judge=judge)], load_entry_points=False)
                   for _ in range(2)]
        for kernel in kernels:
            await kernel.open()
        try:
            runners = [runner_of(kernel) for kernel in kernels]
            await asyncio.gather(*(runner.run(evaluation_id) for runner in runners for _ in range(3)))
            evaluation, _ = await runners[0].store.get(evaluation_id)
            report = await runners[0].store.report(evaluation_id)
            pending = await runners[1].store.pending_ids()
            return evaluation, report, pending
        finally:
            for kernel in kernels:
                await kernel.stop()

    evaluation, report, pending = asyncio.run(race())
    assert len(judge.requests) == 1  # six attempts from two processes, one run
    assert evaluation.status == "done" and evaluation.attempts == 1 and evaluation.lease_owner is None
    assert report is not None and evaluation.overall_score == report.overall_score
    assert pending == []


def test_a_judge_slower_than_the_lease_keeps_its_claim(tmp_path):
    """A 3 s judgement on a 1 s lease: the heartbeat renews it, a second process scanning meanwhile never runs it."""
    source = TranscriptSource()
    source.add(transcript(small_script(), GOOD, session_id="s1"))
    slow, other = Judge(score=70.0, delay=3.0), Judge(score=10.0)
    evaluation_id = new_id()
    asyncio.run(_write(tmp_path, _pending(evaluation_id)))
    settings = file_settings(tmp_path, **{"evaluator.model": "judge", "evaluator.lease_seconds": 1.0,
                                          "evaluator.resume_interval": 0})

    async def both():
        kernels = [make_kernel(settings, plugins=[evaluator_plugin, source, JudgePlugin(judge=judge)],
                               load_entry_points=False) for judge in (slow, other)]
        for kernel in kernels:
            await kernel.open()
        try:
            first, second = (runner_of(kernel) for kernel in kernels)
            running = asyncio.ensure_future(first.run(evaluation_id))
            started = []
            for _ in range(25):  # the second process scans every 0.15 s for 3.75 s, well past the lease
                await asyncio.sleep(0.15)
                started += await second.resume_pending()
            await running
            return started, (await first.store.get(evaluation_id))[0]
        finally:
            for kernel in kernels:
                await kernel.stop()

    started, evaluation = asyncio.run(both())
    assert started == [] and other.requests == [] and len(slow.requests) == 1
    assert evaluation.status == "done" and evaluation.attempts == 1


def test_settings_are_validated():
    def problems(**overrides):
        return bootstrap(env="development", settings_files=[], load_entry_points=False, plugins=[evaluator_plugin],
                         overrides={"evaluator.judge_timeout": 30, "storage.backend": "memory", **overrides}).problems

    assert problems(**{"evaluator.inline_wait": "soon"}) == ["evaluator.inline_wait: expected a number"]
    # Ranges are checked once every type fits (attrs validators run as the object is built).
    assert problems(**{"evaluator.lease_seconds": 0.5}) == ["evaluator.lease_seconds: must be >= 1.0: 0.5"]
    with pytest.raises(SettingsError, match="evaluator.review_below"):
        make_kernel({"evaluator.review_below": 2, "security.jwt_secret": "x" * 64}, env="production",
                    load_entry_points=False, plugins=[evaluator_plugin])


@requires_chat
def test_restart_pickup_end_to_end_with_chat_sessions(tmp_path):
    """Two full app instances (chat and evaluator, no stand-ins for sessions) over one storage root."""
    settings = file_settings(tmp_path, **{"evaluator.model": "judge", "evaluator.inline_wait": 0.0,
                                          "evaluator.judge_timeout": 90})
    stuck = Judge(delay=60.0)
    first = make_app(settings, plugins=[JudgePlugin(judge=stuck)])
    with TestClient(first) as client:
        headers = auth_headers(first, "alice")
        session = client.post("/chat/sessions", json={"scenario_id": "refund-angry-customer"}, headers=headers)
        assert session.status_code == 201, session.text
        session_id = session.json()["id"]
        for line in ("I'm so sorry, I understand how frustrating this is.", "What happened?",
                     "Do you have the receipt?", "I can give you a full refund."):
            assert client.post(f"/chat/sessions/{session_id}/messages", json={"text": line},
                               headers=headers).status_code == 201
        response = client.post("/evaluations", json={"session_id": session_id}, headers=headers)
        assert response.status_code == 202
        evaluation_id = response.json()["id"]
        deadline = time.monotonic() + 5
        while not stuck.requests and time.monotonic() < deadline:
            time.sleep(0.02)
        assert stuck.requests
    quick = Judge(score=88.0)
    second = make_app(settings, plugins=[JudgePlugin(judge=quick)])
    with TestClient(second) as client:
        body = poll(client, second, evaluation_id)
        assert body["status"] == "done", body
        report = body["report"]
        messages = client.get(f"/chat/sessions/{session_id}", headers=auth_headers(second, "alice")).json()["messages"]
        texts = {m["seq"]: m["text"] for m in messages}
        assert report["upto_seq"] == max(texts)
        for criterion in report["criteria"]:
            for quote in criterion["evidence"]:
                assert quote["quote"] in texts[quote["seq"]]
        criteria = {c["criterion_id"]: c for c in report["criteria"]}
        assert criteria["professional_tone"]["method"] == "model" and criteria["professional_tone"]["score"] == 88
        # The model judges every criterion; the rules' own figures stand beside its scores.
        for key in ("gathered_facts", "resolution"):
            assert criteria[key]["method"] == "model" and criteria[key]["score"] == 88
            assert criteria[key]["rules_score"] == 100 and criteria[key]["needs_review"] is False


def test_fsck_checks_the_evaluator_indexes_and_repairs_them(tmp_path):
    from roleplay_core.storage.fsck import run

    unindexed, finished, ghost = new_id(), new_id(), new_id()

    async def scenario():
        kernel = make_kernel(file_settings(tmp_path), plugins=[evaluator_plugin], load_entry_points=False)
        await kernel.open()
        try:
            store = EvaluationStore(kernel.storage)
            await store.create(_pending(unindexed))
            await kernel.storage.delete(f"evaluator/pending/{unindexed}")  # a crash lost the index entry
            await store.create(_pending(finished))
            evaluation, version = await store.get(finished)
            await store.swap(attrs.evolve(evaluation, status="done"), version)  # done, no report, still indexed
            await kernel.storage.put(f"evaluator/users/alice/{ghost}", b"{}")
            found = await run(kernel)
            repaired = await run(kernel, repair=True)
            after = await run(kernel)
            return found, repaired, after, await store.pending_ids()
        finally:
            await kernel.stop()

    found, repaired, after, pending = asyncio.run(scenario())
    details = {f.key: f.detail for f in found.findings}
    assert "missing from the pending index" in details[f"evaluator/pending/{unindexed}"]
    assert details[f"evaluator/pending/{finished}"] == "pending index entry of an evaluation that is done"
    assert "without its report" in details[f"evaluator/reports/{finished}"]
    assert "does not exist" in details[f"evaluator/users/alice/{ghost}"]
    assert sum(f.repaired for f in repaired.findings) == 2
    assert pending == [unindexed]
    assert sorted(f.key for f in after.unrepaired) == [f"evaluator/reports/{finished}",
                                                       f"evaluator/users/alice/{ghost}"]
