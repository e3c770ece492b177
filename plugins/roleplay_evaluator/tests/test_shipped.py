"""Reports for good and poor practice of every shipped script.

The scripts come from the installed script packs (through the kernel's
``register_script_packs`` hook, as learners get them). Expected scores are
derived from each rubric: a good learner clears the pass mark with every
rule-checked criterion met; a poor one fails, scoring zero where the rubric
asks for phrases, beats or open questions and losing marks for each phrase it
warns against. The second half plays each conversation through chat's real
HTTP API with its offline character engine, then evaluates it over HTTP.
"""

from __future__ import annotations

import asyncio
import re

import pytest
import roleplay_evaluator.plugin as evaluator_plugin
from evaluator_conversations import avoided, good_lines, poor_lines, turns
from evaluator_support import TranscriptSource, requires_chat, transcript
from starlette.testclient import TestClient

from roleplay_core.testing import auth_headers, make_app, make_kernel


def shipped_scripts():
    async def load():
        kernel = make_kernel()
        await kernel.open()
        try:
            return [p.script for p in await kernel.catalog.list() if p.source == "pack"]
        finally:
            await kernel.stop()

    return asyncio.run(load())


pytestmark = requires_chat
SCRIPTS = shipped_scripts()
IDS = [s.id for s in SCRIPTS]
RULE_KINDS = ("beat_reached", "phrases_used", "phrases_avoided", "open_questions")


def test_scripts_are_shipped():
    # Several realistic scenarios, at least one not in English.
    assert len(SCRIPTS) >= 4, IDS
    assert any(not s.language.startswith("en") for s in SCRIPTS)
    assert all(s.rubric.criteria for s in SCRIPTS)


def by_id(report):
    return {c["criterion_id"]: c for c in report["criteria"]}


def check_quotes(report, messages):
    texts = {m["seq"]: m["text"] for m in messages}
    quoted = 0
    for criterion in report["criteria"]:
        for quote in criterion["evidence"]:
            assert quote["quote"] and quote["quote"] in texts[quote["seq"]], (criterion["criterion_id"], quote)
            quoted += 1
    return quoted


def expect_good(script, report):
    bar = script.rubric.passing_score
    assert report["overall_score"] >= bar and report["passed"], report
    criteria = by_id(report)
    for criterion in script.rubric.criteria:
        result = criteria[criterion.id]
        if criterion.check.kind in RULE_KINDS:
            assert result["score"] == 100, (criterion.id, result)
            assert result["suggestion"] is None
            if criterion.check.kind != "phrases_avoided":
                assert result["evidence"], criterion.id  # a met criterion shows the lines that met it


def expect_poor(script, report, good):
    bar = script.rubric.passing_score
    assert report["overall_score"] < bar and not report["passed"]
    assert report["overall_score"] < good["overall_score"]
    criteria, best = by_id(report), by_id(good)
    for criterion in script.rubric.criteria:
        result = criteria[criterion.id]
        if criterion.check.kind == "model":  # no model: the author's offline rules, or not scored
            if criterion.offline_check is None:
                assert result["score"] is None and result["method"] == "not-scored"
            else:
                assert result["method"] == "rules" and result["score"] <= best[criterion.id]["score"]
            continue
        assert result["score"] <= best[criterion.id]["score"], criterion.id
        if criterion.check.kind in ("beat_reached", "phrases_used", "open_questions"):
            assert result["score"] == 0, (criterion.id, result)
        if criterion.check.kind == "phrases_avoided" and avoided(script):
            assert result["score"] < 100 and result["evidence"], (criterion.id, result)
        if result["score"] < bar:
            # Fell short: a "say this instead", the author's own when the rubric has one.
            assert result["suggestion"], criterion.id
            if criterion.suggestion:
                assert result["suggestion"] == criterion.suggestion
    assert report["improvements"] and len(report["improvements"]) <= 3
    assert report["next_steps"] and len(report["next_steps"]) <= 3


@pytest.mark.parametrize("script", SCRIPTS, ids=IDS)
def test_good_and_poor_transcripts_of_each_shipped_script(script):
    source = TranscriptSource()
    good_t = source.add(transcript(script, turns(good_lines(script)), session_id="good"))
    poor_t = source.add(transcript(script, turns(poor_lines(script)), session_id="poor"))
    app = make_app({"evaluator.inline_wait": 10}, plugins=[evaluator_plugin, source], load_entry_points=False)
    with TestClient(app) as client:
        good = client.post("/evaluations", json={"session_id": "good"}, headers=auth_headers(app, "alice"))
        poor = client.post("/evaluations", json={"session_id": "poor"}, headers=auth_headers(app, "alice"))
    assert good.status_code == poor.status_code == 201
    good, poor = good.json()["report"], poor.json()["report"]
    expect_good(script, good)
    expect_poor(script, poor, good)
    for report, t in ((good, good_t), (poor, poor_t)):
        check_quotes(report, [{"seq": m.seq, "text": m.text} for m in t.messages])
        assert report["script_version"] == "3" and report["language"] == script.language


# -- end to end through chat's HTTP API ------------------------------------------------


@pytest.fixture(scope="module")
def chat_app():
    app = make_app({"evaluator.inline_wait": 10})  # every installed plugin: chat owns sessions, no fakes
    with TestClient(app) as client:
        yield app, client


def play(client, headers, script, lines):
    """Practise ``script`` over chat's HTTP API, saying ``lines`` until the scene ends; return the session id."""
    response = client.post("/chat/sessions", json={"scenario_id": script.id}, headers=headers)
    assert response.status_code == 201, response.text
    session_id = response.json()["id"]
    for line in lines:
        sent = client.post(f"/chat/sessions/{session_id}/messages", json={"text": line}, headers=headers)
        if sent.status_code == 409:  # the character ended the scene
            break
        assert sent.status_code == 201, sent.text
        if sent.json()["session"]["status"] == "ended":
            break
    return session_id


@pytest.mark.parametrize("script", SCRIPTS, ids=IDS)
def test_chat_sessions_of_each_shipped_script_end_to_end(chat_app, script):
    app, client = chat_app
    headers = auth_headers(app, f"learner-{script.id}")
    reports = {}
    for name, lines in (("good", good_lines(script)), ("poor", poor_lines(script))):
        session_id = play(client, headers, script, lines)
        client.post(f"/chat/sessions/{session_id}/end", headers=headers)
        response = client.post("/evaluations", json={"session_id": session_id}, headers=headers)
        assert response.status_code == 201, response.text
        body = response.json()
        session = client.get(f"/chat/sessions/{session_id}", headers=headers).json()
        assert check_quotes(body["report"], session["messages"]) >= (3 if name == "good" else 1)
        assert body["report"]["upto_seq"] == session["messages"][-1]["seq"]
        beats = [c for c in body["report"]["criteria"] if c["kind"] == "beat_reached"]
        # Reports speak to the learner: what they did, never beat ids or engine wording.
        beat_ids = {b.id for b in script.scripted.beats}
        for c in beats:
            words = set(re.findall(r"[a-z_]+", c["justification"] + " " + c["judged_how"]))
            assert not (words & {b for b in beat_ids if "_" in b}) and "engine" not in words, c
        reports[name] = body["report"]
    good, poor = reports["good"], reports["poor"]
    assert good["overall_score"] >= script.rubric.passing_score, by_id(good)
    assert poor["overall_score"] < script.rubric.passing_score
    assert good["overall_score"] - poor["overall_score"] >= 40
    # Another learner cannot read these evaluations, or evaluate the session.
    other = auth_headers(app, "someone-else")
    mine = client.get("/evaluations", headers=headers).json()["items"]
    assert len(mine) == 2
    assert client.get(f"/evaluations/{mine[0]['id']}", headers=other).status_code == 404
    assert client.post("/evaluations", json={"session_id": mine[0]["session_id"]}, headers=other).status_code == 404


# -- what the shipped scripts take back ------------------------------------------------


@pytest.mark.parametrize("script_id, criterion, asked, waved_away", [
    # Asking for his side and then brushing it off is not listening (decision 66).
    ("difficult-feedback-employee", "listened", "Before we go on, how have things been for you lately?",
     "Everyone's busy, Marcus. That's not an excuse for those comments."),
    # Asking what worries him and then telling him it is nothing is not exploring it.
    ("patient-history-chest-pain", "concerns", "Is there anything in particular you're worried it might be?",
     "Honestly, I wouldn't worry. It's probably just indigestion."),
])
def test_a_shipped_script_takes_back_a_question_answered_by_a_brush_off(script_id, criterion, asked, waved_away):
    from roleplay_evaluator.evaluate import evaluate

    script = next(s for s in SCRIPTS if s.id == script_id)
    opening = [("l", "Hello, thanks for coming in."), ("c", "Okay."), ("l", asked), ("c", "Well, it's been a lot.")]

    def scored(lines):
        report = asyncio.run(evaluate(None, transcript(script, lines)))
        return next(c for c in report.criteria if c.criterion_id == criterion)

    assert scored(opening).score == 100
    # A kind reply afterwards changes nothing; waving it away takes it back, quoted.
    assert scored([*opening, ("l", "Thank you for telling me that."), ("c", "Sure.")]).score == 100
    taken = scored([*opening, ("l", waved_away), ("c", "Right.")])
    assert taken.score == 0 and any(q.quote in waved_away for q in taken.evidence), taken


@pytest.mark.parametrize("script", SCRIPTS, ids=IDS)
def test_a_shipped_suggestion_earns_what_it_suggests(script):
    # The "say this instead" line a report gives for a beat criterion must itself be credited. (A model
    # criterion's line speaks to the whole conversation; its offline stand-in checks only a part.)
    from roleplay_evaluator.evaluate import evaluate

    for criterion in script.rubric.criteria:
        if criterion.check.kind != "beat_reached" or not criterion.suggestion:
            continue
        lines = [("l", "Hello."), ("c", "Hello."), ("l", criterion.suggestion), ("c", "Okay.")]
        report = asyncio.run(evaluate(None, transcript(script, lines)))
        result = next(c for c in report.criteria if c.criterion_id == criterion.id)
        assert result.score and result.score > 0, (criterion.id, criterion.suggestion)


@pytest.mark.parametrize("said, agreed", [
    # Why the meeting is happening, not a follow-up agreed (round 12: a lead who agreed nothing).
    ("I reckon I just wanted to check in, see how you're holding up.", False),
    ("I just want to check in and give you some feedback.", False),
    ("Let's check in next Thursday, same time, and see how the new review split is going.", True),
    ("We'll check in again in two weeks.", True),
])
def test_the_feedback_script_hears_a_check_in_agreed_not_one_announced(said, agreed):
    from roleplay_evaluator.evaluate import evaluate

    script = next(s for s in SCRIPTS if s.id == "difficult-feedback-employee")
    lines = [("l", "Hi Marcus, thanks for making the time."), ("c", "Sure."), ("l", said), ("c", "Okay.")]
    report = asyncio.run(evaluate(None, transcript(script, lines)))
    result = next(c for c in report.criteria if c.criterion_id == "agreed_actions")
    assert (result.score == 100) is agreed, (said, result.score)


def test_the_feedback_script_does_not_hear_a_plan_to_see_how_it_goes_as_asking_his_side():
    from roleplay_evaluator.evaluate import evaluate

    script = next(s for s in SCRIPTS if s.id == "difficult-feedback-employee")
    lines = [("l", "Hi Marcus, thanks for making the time."), ("c", "Sure."),
             ("l", "Let's check in at our one-to-one two weeks from today and see how it's going."), ("c", "Okay.")]
    report = asyncio.run(evaluate(None, transcript(script, lines)))
    assert next(c for c in report.criteria if c.criterion_id == "listened").score == 0


def test_the_refund_script_hears_asking_whether_it_was_plugged_in_as_blame():
    from roleplay_core.text import lexicon_for

    script = next(s for s in SCRIPTS if s.id == "refund-angry-customer")
    assert "blame" in lexicon_for(script).concepts_in("Are you sure it's plugged in properly?")
    assert "blame" not in lexicon_for(script).concepts_in("I'll plug it in here and test it with you.")


@pytest.mark.parametrize("script_id, said", [
    ("refund-angry-customer", "Here's your slip. Sorry again for the hassle."),
    ("refund-angry-customer", "done, the refund's processed. and again I'm sorry it took two trips"),
    ("refund-angry-customer-es", "Y disculpe otra vez las molestias."),
    ("refund-angry-customer-es", "Aquí tiene el comprobante. Siento otra vez que haya tenido que venir dos veces."),
    ("refund-angry-customer-es", "Gracias a ti por la paciencia, Dana."),
    # Leaving a name to ask for if the money is late signs off too (decision 84).
    ("refund-angry-customer-es", "Si el viernes no lo ve en la cuenta, llame a este número y pregunte por mí."),
    ("refund-angry-customer-zh-hant", "如果下禮拜還沒看到款項，直接打這支電話找我，我幫您追。"),
    ("refund-angry-customer-es", "Listo. Y disculpá de nuevo el mal momento."),
    ("refund-angry-customer-es", "Hecho. Y de nuevo, disculpe el error del principio."),
    ("refund-angry-customer-zh-hant", "再次跟您說聲抱歉，讓您多跑了一趟。"),
])
def test_an_apology_said_again_at_the_end_closes_the_refund_conversation(script_id, said):
    from roleplay_core.text import lexicon_for

    script = next(s for s in SCRIPTS if s.id == script_id)
    assert "farewell" in lexicon_for(script).concepts_in(said)


def _criterion(script_id: str, lines: list[tuple[str, str]], criterion_id: str):
    """One criterion of a shipped script, scored by the rules on a transcript of ``lines``."""
    from roleplay_evaluator.evaluate import evaluate

    script = next(s for s in SCRIPTS if s.id == script_id)
    report = asyncio.run(evaluate(None, transcript(script, lines)))
    return next(c for c in report.criteria if c.criterion_id == criterion_id)


@pytest.mark.parametrize("after, specific", [
    # Refusing to say which comments were meant leaves the behaviour a label (round 15).
    ("I'm not going to get into specific comments, you know exactly the kind of thing I mean.", False),
    ("You know what I'm talking about.", False),
    ("How do you see it?", True),
])
def test_the_feedback_script_takes_back_a_review_named_only_in_general(after, specific):
    lines = [("l", "Hi Marcus, thanks for making the time."), ("c", "Sure."),
             ("l", "Some of your code review comments have been harsh. Priya said she felt humiliated."),
             ("c", "Right."), ("l", after), ("c", "Okay.")]
    result = _criterion("difficult-feedback-employee", lines, "specific_behaviour_and_impact")
    assert (result.score == 100) is specific, (after, result.score)


def test_the_feedback_script_does_not_let_a_plan_make_withdrawn_feedback_direct():
    opening = [("l", "Thanks for coming in. I wanted to talk about your code reviews."), ("c", "Okay."),
               ("l", "On Tuesday you wrote 'this is sloppy' on Priya's pull request. She felt humiliated."),
               ("c", "Right.")]
    plan = [("l", "Let's split the reviews with Dev from next sprint, agreed? Let's check in next Thursday. Thanks."),
            ("c", "Fine.")]

    def direct(lines):
        return _criterion("difficult-feedback-employee", lines, "direct_and_kind").score

    assert direct([*opening, *plan]) == 100
    # Round 14: the feedback taken back, then a plan and a goodbye, is not direct.
    assert direct([*opening, ("l", "Honestly, maybe I'm making too much of it."), ("c", "Yeah."), *plan]) == 0


@pytest.mark.parametrize("script_id, offer, refused, offered", [
    # A refund offered, then refused in so many words, is not offered (round 16)...
    ("refund-angry-customer", "It's within 30 days, so I can refund you in full.",
     "Actually, hold on: it was on sale, and sale items can't be refunded, only repaired.", False),
    ("refund-angry-customer-es", "Está dentro de los 30 días, así que le hago el reembolso.",
     "Un momento, le falta la bandeja. Sin todos los accesorios no puedo devolverle el dinero.", False),
    ("refund-angry-customer-zh-hant", "三個禮拜前買的，還在三十天內，可以幫您全額退款。",
     "啊，等一下，這台是特價品，特價品不能退，只能送修。", False),
    # ...unless it is made good after ("...but I can swap it for a new one today").
    ("refund-angry-customer", "It's within 30 days, so I can refund you in full.",
     "Sorry, sale items can't be refunded, but I can swap it for a new one today.", True),
    # A refusal before the offer takes nothing back.
    ("refund-angry-customer", "We can't refund used machines as a rule.",
     "But yours is faulty, so I'll refund you in full today, back on your card.", True),
])
def test_a_refund_offered_then_refused_is_not_offered(script_id, offer, refused, offered):
    receipt = {"refund-angry-customer": "Could I see the receipt, please?",
               "refund-angry-customer-es": "¿Me enseña el tique, por favor?",
               "refund-angry-customer-zh-hant": "可以看一下發票嗎？"}[script_id]

    def resolution(lines):
        return _criterion(script_id, [("l", receipt), ("c", "..."), *lines], "resolution")

    if not offered:  # the offer stands on its own: what follows takes it back
        assert resolution([("l", offer), ("c", "...")]).score == 100
    result = resolution([("l", offer), ("c", "..."), ("l", refused), ("c", "...")])
    assert (result.score == 100) is offered, (refused, result.score, result.justification)


@pytest.mark.parametrize("said", ["今天直接幫您退，錢會回到您的卡上。", "沒問題，我給您退。"])
def test_the_chinese_refund_script_hears_a_refund_said_with_tui_alone(said):
    from roleplay_core.text import lexicon_for

    script = next(s for s in SCRIPTS if s.id == "refund-angry-customer-zh-hant")
    assert "refund" in lexicon_for(script).concepts_in(said)
    # A rule recited offers nothing: 可以退 after 規定 is the rule, so it is not a phrasing of an offer.
    assert "refund" not in lexicon_for(script).concepts_in("規定是三十天內有發票可以退。")


@pytest.mark.parametrize("script_id, concept, said, heard", [
    # Round 19 (decision 82): a numbered question asked for is no result asked for...
    ("behavioural-job-interview", "result", "ok, and number 4?", False),
    ("behavioural-job-interview", "result", "Were there any numbers on how it went?", True),
    ("behavioural-job-interview", "format", "quick outline of how this will go:", True),
    # ...the learner's own father is not Walter's family history, nor his wife's parking his home life...
    ("patient-history-chest-pain", "family", "My dad gets chest pains sometimes too, it's always heartburn.", False),
    ("patient-history-chest-pain", "family", "Did your dad have any heart trouble?", True),
    ("patient-history-chest-pain", "everyday_life", "I hope your wife finds a parking space!", False),
    ("patient-history-chest-pain", "everyday_life", "Who do you live with at home?", True),
    # ...the Spanish progressive asks what is wrong...
    ("refund-angry-customer-es", "ask_what_happened", "¿Qué le está pasando con la cafetera?", True),
    # ...and reviews named in general name no review comment; whose work and which one, or a quote, do.
    ("difficult-feedback-employee", "review_comment", "I've had ANOTHER complaint about your code reviews!!!", False),
    ("difficult-feedback-employee", "review_comment", "People say you've been difficult in reviews lately.", False),
    ("difficult-feedback-employee", "review_comment", "So on priya's auth refactor PR there's stuff like 'lol no'.", True),
    ("difficult-feedback-employee", "review_comment", "There were comments like 'this is a mess, start again'.", True),
    # Round 20 (decision 83): a joke about the reviews in general, and a sigh about another broken machine.
    ("difficult-feedback-employee", "review_comment", "Just maybe fewer chillies in the reviews?", False),
    ("refund-angry-customer-es", "replacement", "Ay, qué maravilla, otra cafetera rota.", False),
    ("refund-angry-customer-es", "replacement", "Si prefiere, le doy otra cafetera igual ahora mismo.", True),
])
def test_shipped_concepts_hear_what_rounds_19_and_20_showed(script_id, concept, said, heard):
    from roleplay_core.text import lexicon_for

    script = next(s for s in SCRIPTS if s.id == script_id)
    assert (concept in lexicon_for(script).concepts_in(said)) is heard


@pytest.mark.parametrize("last, close", [
    ("There you go. Sorry again for the hassle today.", True),
    # Siding with her by running the store down is no professional close (decision 84).
    ("There you go. Sorry again, this place is a mess at the moment.", False),
])
def test_the_refund_script_does_not_count_a_close_that_runs_the_store_down(last, close):
    lines = [("l", "I'm so sorry about the wait. What happened with the machine?"), ("c", "It died."),
             ("l", "Do you have the receipt?"), ("c", "Here."),
             ("l", "I can give you a full refund today."), ("c", "Good."),
             ("l", "It'll be back on your card in 3 to 5 working days."), ("c", "Fine."),
             ("l", last), ("c", "Thanks.")]
    result = _criterion("refund-angry-customer", lines, "professional_tone")
    assert (result.score == 100) is close, (last, result.score, result.justification)
