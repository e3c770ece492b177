"""Model judging through fake providers registered with the kernel's model-provider hook.

The same behaviour through the real google-genai client and a local Gemini server is tested in
roleplay_gemini's tests/test_judging.py.
"""

from __future__ import annotations

import pytest
import roleplay_evaluator.plugin as evaluator_plugin
from evaluator_support import GOOD, Judge, JudgePlugin, TranscriptSource, small_script, transcript
from roleplay_evaluator.evaluate import confidence, overall
from roleplay_evaluator.report import CriterionResult, Statistics
from starlette.testclient import TestClient

from roleplay_core import Script, build_judge_prompt, estimate_tokens, script_from_dict, script_to_dict
from roleplay_core.testing import auth_headers, make_app

JUDGES = {
    "normal": Judge(score=90.0),
    "harsh": Judge(score=50.0),
    "inventor": Judge(score=95.0, invent=True),
    "sleeper": Judge(score=99.0, delay=5.0),
    "broken": Judge(fail=True),
    "garbled": Judge(malformed=True),
}
RULE_CRITERIA = ("empathy", "no-blame", "explore", "resolution")


def mechanical_script(*ids: str, with_model: bool = True) -> Script:
    """The small script with ``ids`` marked mechanical (always the rules' result)."""
    data = script_to_dict(small_script(with_model=with_model))
    for criterion in data["rubric"]["criteria"]:
        criterion["mechanical"] = criterion["id"] in ids
    return script_from_dict(data)


def evaluate_with(model: str, *, timeout: float = 0.3, script: Script | None = None, turns=GOOD,
                  settings: dict | None = None):
    source = TranscriptSource()
    t = source.add(transcript(script or small_script(), turns, session_id="s1"))
    for judge in JUDGES.values():
        judge.requests.clear()
    app = make_app({"evaluator.model": model, "evaluator.judge_timeout": timeout, "evaluator.inline_wait": 10,
                    **(settings or {})},
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


def test_every_criterion_is_judged_in_one_call(rules_only):
    report, criteria = evaluate_with("normal")
    judge = JUDGES["normal"]
    assert len(judge.requests) == 1
    request = judge.requests[0]
    assert [c.id for c in request.criteria] == [*RULE_CRITERIA, "tone"]  # every criterion, in one call
    assert request.language == "en" and len(request.transcript) == len(GOOD)
    # The rules' findings go along as candidate evidence: scores and quotes of what the rules measured.
    _, plain = rules_only
    findings = {f.criterion_id: f for f in request.rule_findings}
    assert set(findings) == set(RULE_CRITERIA)  # the keyword estimate of the model check is not shown
    assert findings["empathy"].score == plain["empathy"]["score"]
    assert [(e.seq, e.quote) for e in findings["empathy"].evidence] == [
        (q["seq"], q["quote"]) for q in plain["empathy"]["evidence"]]
    for key in (*RULE_CRITERIA, "tone"):
        judged = criteria[key]
        assert judged["method"] == "model" and judged["score"] == 90 and judged["justification"] == "Warm and clear."
        assert judged["evidence"] == [{"seq": 1, "quote": GOOD[0][1][:12]}]
        assert judged["suggestion"] is None  # 90 is above the bar
        assert judged["judged_how"] == "Judged by the language model (fake-1)."
        assert judged["needs_review"] is False
    # Where the rules measured the criterion, their figure stands beside the judge's.
    assert [criteria[k]["rules_score"] for k in RULE_CRITERIA] == [plain[k]["score"] for k in RULE_CRITERIA]
    assert criteria["tone"]["rules_score"] is None
    assert report["evaluator"] == "rules+model:normal (fake-1)"
    # The overall score is ours: the weighted mean, never the model's.
    weights = sum(c["weight"] for c in criteria.values())
    assert report["overall_score"] == int(sum(c["score"] * c["weight"] for c in criteria.values()) / weights + 0.5)
    assert "not-asked" not in criteria


def test_disagreement_flags_the_criterion_for_review_with_both_figures(rules_only):
    report, criteria = evaluate_with("harsh")
    _, plain = rules_only
    assert report["needs_human_review"] is True
    for key in RULE_CRITERIA:
        apart = abs(50 - plain[key]["score"])
        assert criteria[key]["score"] == 50 and criteria[key]["rules_score"] == plain[key]["score"]
        assert criteria[key]["needs_review"] is (apart > 35)
        if apart > 35:
            title = criteria[key]["title"]
            assert any(f"\u2018{title}\u2019" in n and "scored 50" in n and f"checks {plain[key]['score']:g}" in n
                       for n in report["notes"]), report["notes"]
    assert any(criteria[k]["needs_review"] for k in RULE_CRITERIA)
    assert criteria["tone"]["needs_review"] is False  # no rule measures it: nothing to disagree with
    # A wider threshold: the same scores are no longer a disagreement.
    report, criteria = evaluate_with("harsh", settings={"evaluator.disagreement_points": 60})
    assert not any(c["needs_review"] for c in criteria.values())
    assert report["needs_human_review"] is False


def test_mechanical_criteria_are_never_sent_and_keep_the_rules_result(rules_only):
    _, criteria = evaluate_with("harsh", script=mechanical_script("no-blame", "resolution"))
    request = JUDGES["harsh"].requests[0]
    assert [c.id for c in request.criteria] == ["empathy", "explore", "tone"]
    assert {f.criterion_id for f in request.rule_findings} == {"empathy", "explore"}
    assert "no-blame" not in build_judge_prompt(request).text
    _, plain = rules_only
    for key in ("no-blame", "resolution"):
        assert criteria[key] == plain[key]  # the rules' result, untouched
    assert criteria["empathy"]["method"] == "model" and criteria["empathy"]["score"] == 50


def test_only_mechanical_criteria_means_no_judge_call():
    report, criteria = evaluate_with("normal", script=mechanical_script(*RULE_CRITERIA, with_model=False))
    assert JUDGES["normal"].requests == [] and report["evaluator"] == "rules"
    assert [c["method"] for c in criteria.values()] == ["rules"] * 4


def long_conversation(pairs: int) -> list[tuple[str, str]]:
    turns = list(GOOD[:6])
    for n in range(pairs):
        turns += [("l", f"Middle question number {n}: what else went wrong with the blender that day?"),
                  ("c", f"Middle answer number {n}: the lid cracked and the motor hummed.")]
    return turns + list(GOOD[6:])


def test_long_transcripts_are_windowed_keeping_the_opening():
    turns = long_conversation(150)
    report, criteria = evaluate_with("normal", turns=turns, settings={"evaluator.judge_transcript_tokens": 800})
    request = JUDGES["normal"].requests[0]
    assert len(request.transcript) == len(turns)  # the request has it all; the prompt shows a window
    prompt = build_judge_prompt(request)
    assert prompt.left_out and prompt.shown[:6] == (1, 2, 3, 4, 5, 6)  # the opening stays
    assert prompt.shown[-1] == len(turns)  # and so does the end
    assert set(prompt.shown).isdisjoint(prompt.left_out) and len(prompt.shown) + len(prompt.left_out) == len(turns)
    assert f"[1] learner: {GOOD[0][1]}" in prompt.text and f"[{len(turns)}] character Dana: Fine, thanks." in prompt.text
    first, last = prompt.left_out[0], prompt.left_out[-1]
    assert f"[... messages {first} to {last} ({len(prompt.left_out)} messages) are left out" in prompt.text
    transcript_part = prompt.text.split("Transcript (")[1]
    assert f"\n[{first}] " not in transcript_part and "Middle answer number 0:" not in transcript_part
    # The rules' matched lines from the left-out middle still reach the judge, as candidate evidence.
    assert f'[{first}] "Middle question number 0:' in prompt.text
    assert estimate_tokens(transcript_part) < 800 + 100
    assert any(f"{len(prompt.left_out)} message(s) in between were left out" in n for n in report["notes"])
    # Without a budget, the whole transcript is shown.
    evaluate_with("normal", turns=turns, settings={"evaluator.judge_transcript_tokens": 0})
    whole = build_judge_prompt(JUDGES["normal"].requests[0])
    assert whole.left_out == () and "Middle question number 0:" in whole.text and whole.tokens > prompt.tokens


def test_the_prompt_carries_scenario_criteria_checks_findings_and_numbered_transcript():
    evaluate_with("normal")
    request = JUDGES["normal"].requests[0]
    prompt = build_judge_prompt(request)
    text = prompt.text
    assert "Scenario: Refund (small)" in text
    assert "- id: empathy" in text and "title: Shows empathy" in text and "weight: 2" in text
    assert 'says 2 of these, in these or other words with the same meaning: "I understand"; the idea "sorry"' in text
    assert "never says any of these" in text and "open question(s)" in text
    assert 'offers the refund (for example by saying "full refund", "refund you")' in text
    assert "what good looks like: Acknowledges the frustration" in text
    assert "- empathy: the rules scored 100/100." in text
    assert f"[3] learner: {GOOD[2][1]}" in text and f"[2] character Dana: {GOOD[1][1]}" in text
    assert "'en'" in prompt.instruction
    assert prompt.schema["properties"]["criteria"]["items"]["properties"]["criterion_id"]["enum"] == [
        *RULE_CRITERIA, "tone"]
    assert prompt.tokens == (estimate_tokens(prompt.instruction) + estimate_tokens(text)
                             + estimate_tokens(__import__("json").dumps(prompt.schema)))


def test_estimate_tokens_counts_wide_characters_one_each():
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd" * 10) == 10
    assert estimate_tokens("我想退款") == 4
    assert estimate_tokens("ok 我想退款") == 4 + 1


def test_unscored_criteria_count_for_nothing():
    def result(key, score, weight=1.0, sure=1.0):
        return CriterionResult(criterion_id=key, title=key, kind="model", score=score, weight=weight,
                               justification="", confidence=sure)

    stats = Statistics(learner_turns=5, character_turns=5, learner_words=50, character_words=50, talk_share=0.5,
                       questions=0, open_questions=0, closed_questions=0, duration_seconds=None)
    results = [result("a", 80.0), result("b", None, weight=5.0, sure=0.1), result("c", 60.0)]
    assert overall(results) == 70
    assert confidence(results, stats) == 1.0
    assert overall([result("b", None)]) == 0


def test_invented_quotes_are_dropped_and_lower_confidence():
    report, criteria = evaluate_with("inventor")
    _, honest = evaluate_with("normal")
    for key in (*RULE_CRITERIA, "tone"):
        judged = criteria[key]
        assert judged["evidence"] == []  # "I promise you a free car" and "words nobody said" were never said
        assert "were not found in the transcript" in judged["justification"]
        assert judged["confidence"] < honest[key]["confidence"]
        assert judged["score"] == 95  # the score stands; the reader is told to trust it less
    assert any("10 quote(s) from the language model were not found verbatim" in note for note in report["notes"])


def test_timeout_falls_back_to_the_rules_and_says_so(rules_only):
    report, criteria = evaluate_with("sleeper", timeout=0.2)
    plain_report, plain = rules_only
    for key, judged in criteria.items():
        # A model check the rules cannot score stays unscored; the rest keep the rules' figures.
        assert judged["method"] == ("not-scored" if plain[key]["score"] is None else "rules-fallback")
        assert judged["score"] == plain[key]["score"] and judged["evidence"] == plain[key]["evidence"]
        assert judged["needs_review"] is False and judged["rules_score"] is None
    assert any("did not answer within 0.2 seconds" in note for note in report["notes"])
    assert report["evaluator"] == "rules"
    assert report["overall_score"] == plain_report["overall_score"]


@pytest.mark.parametrize(("model", "words"), [
    ("broken", "quota exceeded"),
    ("garbled", "malformed answer"),
    ("missing", "is not available"),
])
def test_failing_providers_fall_back(model, words, rules_only):
    report, criteria = evaluate_with(model)
    _, plain = rules_only
    assert {c["method"] for k, c in criteria.items() if plain[k]["score"] is not None} == {"rules-fallback"}
    assert {c["method"] for k, c in criteria.items() if plain[k]["score"] is None} <= {"not-scored"}
    assert {k: c["score"] for k, c in criteria.items()} == {k: c["score"] for k, c in plain.items()}
    assert any(words in note for note in report["notes"]), report["notes"]
    assert report["evaluator"] == "rules"


def test_a_rubric_without_model_checks_is_judged_too():
    report, criteria = evaluate_with("normal", script=small_script(with_model=False))
    assert [c.id for c in JUDGES["normal"].requests[0].criteria] == list(RULE_CRITERIA)
    assert report["evaluator"] == "rules+model:normal (fake-1)"
    assert {c["method"] for c in criteria.values()} == {"model"}


@pytest.mark.parametrize("answer", [None, "a score of 90", [], 42, {"criteria": "all good"},
                                    {"criteria": [{"criterion_id": "tone", "score": "90"}]},
                                    {"criteria": [{"criterion_id": "tone", "score": 90, "mood": "great"}]}])
def test_malformed_answers_are_refused_with_a_problem(answer):
    from roleplay_evaluator.judge import validate

    from roleplay_core import Problem

    with pytest.raises(Problem) as caught:
        validate(answer)
    assert caught.value.status == 422


@pytest.mark.parametrize(("key", "value"), [
    ("evaluator.disagreement_points", 120), ("evaluator.disagreement_points", -1),
    ("evaluator.disagreement_points", "lots"), ("evaluator.judge_transcript_tokens", -5),
    ("evaluator.judge_transcript_tokens", None),
])
def test_judge_settings_are_validated(key, value):
    from roleplay_core import SettingsError
    from roleplay_core.testing import make_kernel

    assert evaluator_plugin.DEFAULTS["evaluator"]["disagreement_points"] == 35
    with pytest.raises(SettingsError, match=key.replace(".", r"\.")):
        make_kernel({key: value, "security.jwt_secret": "x" * 64}, env="production", load_entry_points=False,
                    plugins=[evaluator_plugin])
