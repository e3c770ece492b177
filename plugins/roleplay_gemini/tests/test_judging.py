"""evaluator.model = "gemini": POST /evaluations judges every criterion in one Gemini call (real SDK, local server).

The transcript comes from a small session-owner plugin in this module, answering the kernel's
``get_transcript`` hook, so each test controls exactly what was said.

Test home of ``roleplay_core.judging``, ``roleplay_gemini.prompts``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re

import pytest
from starlette.testclient import TestClient

from roleplay_core import Transcript, TranscriptMessage, hookimpl, script_from_dict
from roleplay_core.testing import auth_headers, make_app

from .conftest import needs_evaluator

pytestmark = needs_evaluator

T0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
JUDGE_MODEL = "gemini-test-judge"

SCRIPT = script_from_dict({
    "id": "kettle-refund",
    "title": "A broken kettle at the returns desk",
    "learner_role": "Returns desk agent",
    "setting": "A busy shop on a Saturday morning",
    "objectives": ["Calm the customer", "Agree a refund"],
    "characters": [{"id": "sam", "name": "Sam", "persona": "An impatient customer whose kettle broke."}],
    "scripted": {
        "synonyms": {"sorry": ["apologise", "my apologies"]},
        "beats": [{"id": "offer-refund", "triggers": ["full refund"], "replies": ["Fine."],
                   "label": "offered a full refund"}],
    },
    "rubric": {"passing_score": 70, "criteria": [
        {"id": "empathy", "title": "Shows empathy", "weight": 2,
         "description": "Acknowledges how the customer feels.",
         "check": {"kind": "phrases_used", "phrases": ["I understand"], "concepts": ["sorry"], "min_count": 2}},
        {"id": "no-blame", "title": "Does not blame the customer", "mechanical": True,
         "check": {"kind": "phrases_avoided", "phrases": ["your fault"]}},
        {"id": "explore", "title": "Asks open questions", "check": {"kind": "open_questions", "min_count": 2}},
        {"id": "resolution", "title": "Reaches a resolution", "weight": 2,
         "check": {"kind": "beat_reached", "beats": ["offer-refund"]}},
        {"id": "tone", "title": "Warm, professional tone",
         "check": {"kind": "model", "good_looks_like": "Names the feeling and proposes a concrete next step."}},
    ]},
})
JUDGED = ["empathy", "explore", "resolution", "tone"]  # every criterion but the mechanical one

TURNS = [
    ("learner", "Good morning, I'm Alex from the returns desk.", False),
    ("character", "My kettle broke after a week!", False),
    ("learner", "I understand, that sounds frustrating. I'm so sorry. What happened when you used it?", True),
    ("character", "It just stopped.", False),
    ("learner", "How did you feel when it happened?", False),
    ("character", "Annoyed, honestly.", False),
    ("learner", "I can give you a full refund today.", False),
    ("character", "Fine.", False),
]


def conversation(turns) -> Transcript:
    messages = tuple(
        TranscriptMessage(seq=n + 1, role=role, text=text, voice=voice, created_at=T0 + dt.timedelta(minutes=n),
                          character_id=None if role == "learner" else "sam")
        for n, (role, text, voice) in enumerate(turns))
    return Transcript(session_id="s1", user_id="alice", scenario_id=SCRIPT.id, script=SCRIPT, script_version="1",
                      character_id="sam", language="en", status="ended", started_at=T0,
                      ended_at=T0 + dt.timedelta(minutes=len(turns)), messages=messages)


class Sessions:
    """A session owner holding one transcript."""

    name = "test_sessions"

    def __init__(self, transcript: Transcript) -> None:
        self.transcript = transcript

    @hookimpl
    def get_transcript(self, kernel, session_id):
        async def answer():
            await asyncio.sleep(0)
            return self.transcript if session_id == self.transcript.session_id else None

        return answer()


def evaluate(gemini, turns=TURNS, **settings):
    overrides = {**gemini.settings(), "evaluator.model": "gemini", "evaluator.inline_wait": 20.0,
                 "gemini.judge_model": JUDGE_MODEL, **settings}
    app = make_app(overrides, plugins=[Sessions(conversation(turns))])
    with TestClient(app) as client:
        response = client.post("/evaluations", json={"session_id": "s1"}, headers=auth_headers(app, "alice"))
    assert response.status_code == 201, response.text
    report = response.json()["report"]
    texts = {n + 1: text for n, (_, text, _) in enumerate(turns)}
    for criterion in report["criteria"]:
        for quote in criterion["evidence"]:
            assert quote["quote"] in texts[quote["seq"]]  # nothing invented reaches a report
    return report, {c["criterion_id"]: c for c in report["criteria"]}


@pytest.fixture(scope="module")
def rules_only(local_gemini):
    local_gemini.fake.reset()
    report, criteria = evaluate(local_gemini, **{"evaluator.model": ""})
    assert local_gemini.fake.judge_requests() == []
    return report, criteria


def sent(fake) -> tuple[str, str, list[str]]:
    """The one judge call's system instruction, user text and the criterion ids its schema allows."""
    calls = fake.judge_requests()
    assert len(calls) == 1, f"{len(calls)} judge calls"  # one structured call per evaluation
    body = calls[0]["body"]
    assert calls[0]["model"] == JUDGE_MODEL
    schema = body["generationConfig"]["responseJsonSchema"]
    return (body["systemInstruction"]["parts"][0]["text"], body["contents"][0]["parts"][0]["text"],
            schema["properties"]["criteria"]["items"]["properties"]["criterion_id"]["enum"])


def answer(scores: dict[str, float], evidence: list[dict]) -> str:
    return json.dumps({"criteria": [
        {"criterion_id": key, "score": score, "justification": f"about {key}", "evidence": evidence,
         "suggestion": "Instead of 'How did you feel', try 'That must have been annoying: what happened next?'"}
        for key, score in scores.items()]})


def test_every_criterion_is_judged_in_one_gemini_call(gemini, rules_only):
    gemini.fake.judge_scores = {key: 90 for key in JUDGED}
    report, criteria = evaluate(gemini)
    instruction, text, ids = sent(gemini.fake)
    assert ids == JUDGED  # the mechanical criterion is never sent
    assert "no-blame" not in text and "Does not blame" not in text
    # The scenario, each criterion with its check in plain words and weight, the rules' findings and the
    # numbered transcript with speakers (the spoken turn marked).
    for words in ("The learner plays: Returns desk agent", "Setting: A busy shop on a Saturday morning",
                  "- Agree a refund", "- id: empathy", "description: Acknowledges how the customer feels.",
                  "weight: 2", "what good looks like: Names the feeling",
                  "check: The learner asks at least 2 open question(s)",
                  'offered a full refund (for example by saying "full refund")',
                  "- empathy: the rules scored 100/100.", '[7] "I can give you a full refund today."',
                  "[1] learner: Good morning, I'm Alex from the returns desk.",
                  "[2] character Sam: My kettle broke after a week!",
                  "[3] learner (spoken): I understand, that sounds frustrating."):
        assert words in text, words
    assert "character for character" in instruction and "'en'" in instruction
    _, plain = rules_only
    for key in JUDGED:
        judged = criteria[key]
        assert judged["method"] == "model" and judged["score"] == 90 and judged["justification"] == f"judged {key}"
        assert judged["evidence"] == [{"seq": 1, "quote": TURNS[0][1][:40]}]
        assert judged["judged_how"] == f"Judged by the language model (gemini:{JUDGE_MODEL})."
        assert judged["needs_review"] is False
    assert criteria["empathy"]["rules_score"] == plain["empathy"]["score"] == 100
    assert criteria["no-blame"] == plain["no-blame"]  # mechanical: the rules' own result
    assert report["evaluator"] == f"rules+model:gemini (gemini:{JUDGE_MODEL})"
    assert report["needs_human_review"] is False


def test_an_invented_quote_is_dropped(gemini):
    real = {"seq": 5, "quote": "How did you feel"}
    invented = {"seq": 5, "quote": "I will give you two kettles"}
    gemini.fake.judge_override = [answer({key: 85 for key in JUDGED}, [real, invented])]
    report, criteria = evaluate(gemini)
    for key in JUDGED:
        assert criteria[key]["evidence"] == [real]
        assert "1 quoted line(s) were not found in the transcript" in criteria[key]["justification"]
        assert criteria[key]["confidence"] == 0.7
    assert any("4 quote(s) from the language model were not found verbatim" in n for n in report["notes"])


def test_a_suggestion_from_the_judge_is_kept_when_the_learner_fell_short(gemini):
    gemini.fake.judge_override = [answer({"empathy": 85, "explore": 40, "resolution": 90, "tone": 80}, [])]
    _, criteria = evaluate(gemini)
    assert criteria["explore"]["suggestion"].startswith("Instead of 'How did you feel'")
    assert criteria["empathy"]["suggestion"] is None


def test_judge_and_rules_disagreeing_is_flagged_with_both_figures(gemini, rules_only):
    gemini.fake.judge_scores = {"empathy": 20, "explore": 80, "resolution": 90, "tone": 90}
    report, criteria = evaluate(gemini)
    _, plain = rules_only
    assert plain["empathy"]["score"] == 100 and plain["explore"]["score"] == 100
    assert criteria["empathy"]["needs_review"] is True and criteria["empathy"]["rules_score"] == 100
    assert criteria["empathy"]["score"] == 20
    assert criteria["explore"]["needs_review"] is False  # 20 points apart: within 35
    assert report["needs_human_review"] is True
    notes = [n for n in report["notes"] if "a person should review" in n]
    assert len(notes) == 1 and "\u2018Shows empathy\u2019" in notes[0] and "scored 20" in notes[0] and "checks 100" in notes[0]


def test_a_failing_gemini_leaves_the_rules_result_and_says_so(gemini, rules_only):
    gemini.fake.fail_next = [500] * 5
    report, criteria = evaluate(gemini, **{"gemini.retries": 1})
    assert len(gemini.fake.judge_requests()) == 1
    plain_report, plain = rules_only
    assert {key: c["method"] for key, c in criteria.items()} == {**dict.fromkeys(JUDGED, "rules-fallback"),
                                                                 "tone": "not-scored", "no-blame": "rules"}
    assert {k: c["score"] for k, c in criteria.items()} == {k: c["score"] for k, c in plain.items()}
    assert report["evaluator"] == "rules" and report["overall_score"] == plain_report["overall_score"]
    assert any("Gemini answered 500" in n and "rule-based checks instead" in n for n in report["notes"])


def test_a_slow_gemini_leaves_the_rules_result_and_says_so(gemini, rules_only):
    gemini.fake.judge_delay = 2.0
    report, criteria = evaluate(gemini, **{"evaluator.judge_timeout": 0.5})
    _, plain = rules_only
    assert {key: c["method"] for key, c in criteria.items()} == {**dict.fromkeys(JUDGED, "rules-fallback"),
                                                                 "tone": "not-scored", "no-blame": "rules"}
    assert {k: c["score"] for k, c in criteria.items()} == {k: c["score"] for k, c in plain.items()}
    assert report["evaluator"] == "rules"
    assert any("did not answer within 0.5 seconds" in n for n in report["notes"])


def test_a_long_transcript_is_windowed_keeping_the_opening(gemini):
    middle = []
    for n in range(120):
        middle += [("learner", f"Filler remark {n} about the weather and the queue today.", False),
                   ("character", f"Filler reply {n}, still waiting.", False)]
    turns = TURNS[:6] + middle + TURNS[6:]
    report, criteria = evaluate(gemini, turns=turns, **{"evaluator.judge_transcript_tokens": 700})
    _, text, _ = sent(gemini.fake)
    transcript = text.split("Transcript (")[1]
    for seq in range(1, 7):  # the opening stays
        assert re.search(rf"^\[{seq}\] ", transcript, re.M), seq
    assert f"[{len(turns)}] character Sam: Fine." in transcript  # and so does the end
    marker = re.search(r"^\[\.\.\. messages (\d+) to (\d+) \((\d+) messages\) are left out", transcript, re.M)
    assert marker and marker.group(1) == "7"
    first, last, count = (int(g) for g in marker.groups())
    assert count == last - first + 1 and "Filler remark 0 " not in transcript
    assert not re.search(rf"^\[{last}\] ", transcript, re.M)
    assert any(f"{count} message(s) in between were left out" in n for n in report["notes"])
    assert {criteria[key]["method"] for key in JUDGED} == {"model"}
