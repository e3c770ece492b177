"""Model judging through fake providers registered with the kernel's model-provider hook."""

from __future__ import annotations

import pytest
import roleplay_evaluator.plugin as evaluator_plugin
from evaluator_support import GOOD, Judge, JudgePlugin, TranscriptSource, small_script, transcript
from starlette.testclient import TestClient

from roleplay_core.testing import auth_headers, make_app

JUDGES = {
    "normal": Judge(score=90.0),
    "inventor": Judge(score=95.0, invent=True),
    "sleeper": Judge(score=99.0, delay=5.0),
    "broken": Judge(fail=True),
    "garbled": Judge(malformed=True),
}


def evaluate_with(model: str, *, timeout: float = 0.3):
    source = TranscriptSource()
    t = source.add(transcript(small_script(), GOOD, session_id="s1"))
    for judge in JUDGES.values():
        judge.requests.clear()
    app = make_app({"evaluator.model": model, "evaluator.judge_timeout": timeout, "evaluator.inline_wait": 10},
                   plugins=[evaluator_plugin, source, JudgePlugin(**JUDGES)], load_entry_points=False)
    with TestClient(app) as client:
        response = client.post("/evaluations", json={"session_id": "s1"}, headers=auth_headers(app, "alice"))
    assert response.status_code == 201, response.text
    report = response.json()["report"]
    criteria = {c["criterion_id"]: c for c in report["criteria"]}
    texts = {m.seq: m.text for m in t.messages}
    for criterion in report["criteria"]:
        for quote in criterion["evidence"]:
            assert quote["quote"] in texts[quote["seq"]]
    return report, criteria


@pytest.fixture(scope="module")
def rules_only():
    return evaluate_with("")


def test_model_criteria_are_judged_by_the_provider(rules_only):
    report, criteria = evaluate_with("normal")
    judge = JUDGES["normal"]
    assert len(judge.requests) == 1
    request = judge.requests[0]
    assert [c.id for c in request.criteria] == ["tone"]  # only the model-checked criteria are sent
    assert request.language == "en" and len(request.transcript) == len(GOOD)
    tone = criteria["tone"]
    assert tone["method"] == "model" and tone["score"] == 90 and tone["justification"] == "Warm and clear."
    assert tone["evidence"] == [{"seq": 1, "quote": GOOD[0][1][:12]}]
    assert tone["suggestion"] is None  # 90 is above the bar
    assert report["evaluator"] == "rules+model:normal (fake-1)"
    # Rule-checked criteria are untouched, and the overall score is ours: the weighted mean, never the model's.
    _, plain = rules_only
    for key in ("empathy", "no-blame", "explore", "resolution"):
        assert criteria[key] == plain[key]
    weights = sum(c["weight"] for c in criteria.values())
    assert report["overall_score"] == int(sum(c["score"] * c["weight"] for c in criteria.values()) / weights + 0.5)
    assert "not-asked" not in criteria


def test_invented_quotes_are_dropped_and_lower_confidence():
    report, criteria = evaluate_with("inventor")
    _, honest = evaluate_with("normal")
    tone = criteria["tone"]
    assert tone["evidence"] == []  # "I promise you a free car" and "words nobody said" were never said
    assert "were not found in the transcript" in tone["justification"]
    assert tone["confidence"] < honest["tone"]["confidence"]
    assert any("were not found verbatim" in note for note in report["notes"])
    assert tone["score"] == 95  # the score stands; the reader is told to trust it less


def test_timeout_falls_back_to_the_rules_and_says_so(rules_only):
    report, criteria = evaluate_with("sleeper", timeout=0.2)
    plain_report, plain = rules_only
    tone = criteria["tone"]
    assert tone["method"] == "rules-fallback"
    assert tone["score"] == plain["tone"]["score"] and tone["evidence"] == plain["tone"]["evidence"]
    assert any("did not answer within 0.2 seconds" in note for note in report["notes"])
    assert report["evaluator"] == "rules"
    assert report["overall_score"] == plain_report["overall_score"]


@pytest.mark.parametrize(("model", "words"), [
    ("broken", "quota exceeded"),
    ("garbled", "malformed answer"),
    ("missing", "is not available"),
])
def test_failing_providers_fall_back(model, words):
    report, criteria = evaluate_with(model)
    assert criteria["tone"]["method"] == "rules-fallback"
    assert any(words in note for note in report["notes"]), report["notes"]


def test_no_model_criteria_means_no_judge_call():
    source = TranscriptSource()
    script = small_script(with_model=False)
    source.add(transcript(script, GOOD, session_id="s1"))
    JUDGES["normal"].requests.clear()
    app = make_app({"evaluator.model": "normal"}, plugins=[evaluator_plugin, source, JudgePlugin(**JUDGES)],
                   load_entry_points=False)
    with TestClient(app) as client:
        body = client.post("/evaluations", json={"session_id": "s1"}, headers=auth_headers(app, "alice")).json()
    assert JUDGES["normal"].requests == [] and body["report"]["evaluator"] == "rules"


@pytest.mark.parametrize("answer", [None, "a score of 90", [], 42, {"criteria": "all good"},
                                    {"criteria": [{"criterion_id": "tone", "score": "90"}]},
                                    {"criteria": [{"criterion_id": "tone", "score": 90, "mood": "great"}]}])
def test_malformed_answers_are_refused_with_a_problem(answer):
    from roleplay_evaluator.judge import validate

    from roleplay_core import Problem

    with pytest.raises(Problem) as caught:
        validate(answer)
    assert caught.value.status == 422
