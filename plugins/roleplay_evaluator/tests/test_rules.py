"""The rule-based evaluator on a small rubric with every check kind (unit level: no HTTP).

Test home of ``roleplay_evaluator.rules``.
"""

from __future__ import annotations

import asyncio

import attrs
import pytest
from evaluator_support import GOOD, POOR, small_script, transcript
from roleplay_evaluator import questions
from roleplay_evaluator.evaluate import evaluate, overall
from roleplay_evaluator.report import NOT_SCORED

from roleplay_core import script_from_dict, script_to_dict


def run(t, **kwargs):
    return asyncio.run(evaluate(None, t, **kwargs))


def by_id(report):
    return {c.criterion_id: c for c in report.criteria}


def assert_quotes_verbatim(report, t):
    texts = {m.seq: m.text for m in t.messages}
    for criterion in report.criteria:
        for quote in criterion.evidence:
            assert quote.quote and quote.quote in texts[quote.seq], (criterion.criterion_id, quote)


def test_good_scores_high_and_poor_low_on_every_check_kind():
    script = small_script()
    good, poor = transcript(script, GOOD), transcript(script, POOR)
    g, p = run(good), run(poor)
    assert g.overall_score >= script.rubric.passing_score and g.passed
    assert p.overall_score < script.rubric.passing_score and not p.passed
    gc, pc = by_id(g), by_id(p)
    for criterion in ("empathy", "no-blame", "explore", "resolution"):
        assert gc[criterion].score == 100, gc[criterion]
        assert pc[criterion].score < gc[criterion].score
    assert pc["no-blame"].score == 0  # said two things to avoid, each costs half
    # "your fault" names the built-in blame concept, so other ways of blaming count too.
    assert {"It's probably your fault.", "Calm down."} <= {q.quote for q in pc["no-blame"].evidence}
    assert pc["explore"].score == 0
    assert [q.quote for q in gc["explore"].evidence] == ["What happened when you used it?",
                                                         "How did you feel when it happened?"]
    assert_quotes_verbatim(g, good)
    assert_quotes_verbatim(p, poor)


def test_overall_is_the_weighted_mean_of_the_criteria():
    script = small_script()
    for turns in (GOOD, POOR, GOOD[:4]):
        report = run(transcript(script, turns))
        scored = [c for c in report.criteria if c.score is not None]  # the model check is not scored
        assert len(scored) == len(report.criteria) - 1
        weights = sum(c.weight for c in scored)
        expected = sum(c.score * c.weight for c in scored) / weights
        assert report.overall_score == int(expected + 0.5)
    assert overall([]) == 0


def test_suggestions_only_where_the_learner_fell_short():
    script = small_script()
    good, poor = by_id(run(transcript(script, GOOD))), by_id(run(transcript(script, POOR)))
    assert all(c.suggestion is None for c in good.values() if c.score is not None and c.score >= 70)
    assert poor["empathy"].suggestion == script.rubric.criteria[0].suggestion  # the author's own words win
    assert poor["resolution"].suggestion == "Try saying: \u201cfull refund\u201d."  # from the missing beat
    assert "What happened" in poor["explore"].suggestion


def test_feedback_lists_are_capped_and_come_from_the_criteria():
    report = run(transcript(small_script(), POOR))
    assert 1 <= len(report.improvements) <= 3 and len(report.strengths) <= 3 and 1 <= len(report.next_steps) <= 3
    titles = {c.title for c in report.criteria}
    assert all(item.split(" (")[0] in titles for item in report.improvements)
    good = run(transcript(small_script(), GOOD))
    assert len(good.strengths) == 3 and all(s.split(":")[0] in titles for s in good.strengths)


def test_synonyms_accents_and_inflections_match():
    script = small_script()
    t = transcript(script, [("l", "My apologies — I understand. We'll REIMBURSE you: a full refund.")])
    c = by_id(run(t))
    assert c["empathy"].score == 100
    assert [q.quote for q in c["empathy"].evidence] == ["My apologies — I understand."]
    assert c["resolution"].score == 100


def test_recorded_beats_and_the_learners_words_both_count():
    script = small_script()
    turns = [("l", "Could you tell me what happened?"), ("c", "Fine, thanks."), ("l", "Bye.")]
    # The engine says offer-refund fired after the first line, though no trigger was said.
    reported = run(transcript(script, turns, beats=[None, ["offer-refund"], None]))
    c = by_id(reported)["resolution"]
    assert c.score == 100 and c.confidence == 1.0
    assert [q.seq for q in c.evidence] == [1]
    # The engine answered another beat, but the learner's words offered the refund: it counts.
    other = run(transcript(script, [("l", "Good morning! I will refund you."), ("c", "Hi.")], beats=[None, ["greet"]]))
    credited = by_id(other)["resolution"]
    assert credited.score == 100 and credited.confidence < 1.0
    assert [q.quote for q in credited.evidence] == ["I will refund you."]  # the sentence that did it
    # Not reported at all: the trigger counts, with less confidence.
    guessed = by_id(run(transcript(script, [("l", "I will refund you."), ("c", "Hm.")])))["resolution"]
    assert guessed.score == 100 and guessed.confidence < 1.0
    # Said under a negation, it does not.
    refused = by_id(run(transcript(script, [("l", "I can't refund you, sorry."), ("c", "Hm.")])))["resolution"]
    assert refused.score == 0


def test_reports_name_what_the_learner_did_never_beat_ids_or_engine_wording():
    script = small_script()
    report = run(transcript(script, POOR))
    text = " ".join(c.justification + " " + c.judged_how for c in report.criteria)
    assert "offer-refund" not in text and "engine" not in text and "offers the refund" not in text
    assert all(c.judged_how for c in report.criteria)


def test_model_check_without_a_model_is_not_scored_and_left_out():
    script = small_script()
    report = run(transcript(script, GOOD))
    tone = by_id(report)["tone"]
    assert tone.method == NOT_SCORED and tone.score is None and tone.confidence == 0
    assert report.notes[0].startswith("No language model was used")
    assert any("Left out of the overall score" in note and tone.title in note for note in report.notes)
    without = run(transcript(small_script(with_model=False), GOOD))
    assert report.overall_score == without.overall_score  # the unscored criterion weighs nothing


def test_an_offline_check_named_by_the_author_scores_a_model_criterion_without_a_model():
    data = script_to_dict(small_script())
    tone = next(c for c in data["rubric"]["criteria"] if c["id"] == "tone")
    tone["offline_check"] = {"kind": "phrases_used", "concepts": ["sorry"]}
    script = script_from_dict(data)
    good, poor = by_id(run(transcript(script, GOOD))), by_id(run(transcript(script, POOR)))
    assert good["tone"].score == 100 and poor["tone"].score == 0
    assert good["tone"].kind == "model" and good["tone"].method == "rules"
    assert good["tone"].judged_how.startswith("No language model was set, so the rules the scenario's author chose")


def test_a_follow_up_in_the_same_breath_is_no_follow_up():
    data = script_to_dict(small_script())
    data["scripted"]["beats"].append({"id": "ask-how", "triggers": ["how did you"], "requires": ["offer-refund"],
                                      "replies": ["Like this."]})
    data["rubric"]["criteria"] = [{"id": "probe", "title": "Follows up", "check": {
        "kind": "beat_reached", "beats": ["ask-how"]}}]
    script = script_from_dict(data)
    same_breath = [("l", "I will refund you, and how did you pay?"), ("c", "Card.")]
    assert by_id(run(transcript(script, same_breath)))["probe"].score == 0
    later = [("l", "I will refund you."), ("c", "Good."), ("l", "How did you pay for it?"), ("c", "Card.")]
    assert by_id(run(transcript(script, later)))["probe"].score == 100
    # Order across the conversation is not asked, nor a requirement that never came (after the
    # opening message: test_the_opening_message_does_not_reach_a_beat_whose_requirements_never_came).
    other_order = [("l", "How did you pay for it?"), ("c", "Card."), ("l", "I will refund you."), ("c", "Good.")]
    assert by_id(run(transcript(script, other_order)))["probe"].score == 100
    never = [("l", "Hello."), ("c", "Hi."), ("l", "How did you pay for it?"), ("c", "Card.")]
    assert by_id(run(transcript(script, never)))["probe"].score == 100


def test_a_bare_keyword_or_a_heading_is_not_the_act():
    script = small_script()
    # An article or a possessive adds nothing: "A full refund." echoes the keyword as much as "Full refund.".
    for said in ("Full refund.", "Full refund: done.", "A full refund.", "Your full refund."):
        assert by_id(run(transcript(script, [("l", said), ("c", "Hm.")])))["resolution"].score == 0, said
    for said in ("Full refund?", "Sure, a full refund then.", "Okay: I will refund you today."):
        assert by_id(run(transcript(script, [("l", said), ("c", "Hm.")])))["resolution"].score == 100, said


@pytest.mark.parametrize(("said", "whole"), [
    ("Thanks for your patience.", True),  # a phrasing that makes a whole sentence is said, not read out
    ("Gracias por su paciencia.", True),
    ("謝謝您這麼有耐心。", True),
    ("Past medical history.", False),  # a heading read out
    ("Ideas, concerns and expectations.", False),
    ("發票。", False),
])
def test_a_whole_phrase_is_a_sentence_but_a_heading_is_not(said, whole):
    from roleplay_evaluator.rules import _bare

    phrase = said.rstrip(".。")
    assert _bare(said, (0, len(phrase))) is not whole


def test_words_that_do_what_they_say_are_said_however_short():
    script = script_from_dict({
        "id": "closing-small", "language": "zh-Hant", "title": "Closing",
        "characters": [{"id": "lin", "name": "Lin"}],
        "scripted": {"synonyms": {"farewell": ["謝謝你等", "再見", "慢走"]},
                     "beats": [{"id": "closing", "triggers": ["farewell"], "replies": ["再見。"]}]},
        "rubric": {"passing_score": 70, "criteria": [
            {"id": "close", "title": "Closed", "check": {"kind": "beat_reached", "beats": ["closing"]}}]},
    })
    for said in ("謝謝你等。", "再見。"):
        # Recorded by the engine, or read from the words alone: a goodbye said is a goodbye.
        report = run(transcript(script, [("l", said), ("c", "再見。")], beats=[None, ("closing",)]))
        assert report.criteria[0].score == 100, said
        assert run(transcript(script, [("l", said), ("c", "好。")])).criteria[0].score == 100, said


def test_a_heading_that_leads_into_what_it_names_is_said():
    from roleplay_evaluator.rules import _bare

    assert _bare("Impact: negative.", (0, 6)) is True  # a label and its value, read out
    assert _bare("Agreed action: be nicer.", (0, 13)) is True
    led_in = "Quick rundown: it's about 30 mins, I'll ask you for real examples, then you ask me."
    assert _bare(led_in, (6, 13)) is False


def test_a_lead_in_before_a_question_is_not_read_out():
    # "¿" opens a sentence, so "Cuénteme," stands alone before the question it leads into.
    from roleplay_evaluator.rules import _bare

    assert _bare("Cuénteme, ¿qué hace la cafetera?", (0, 8)) is False
    assert _bare("Cuénteme.", (0, 8)) is True


def test_a_negated_phrase_to_avoid_is_no_slip():
    script = script_from_dict({**script_to_dict(small_script()), "rubric": {"criteria": [
        {"id": "avoid", "title": "Avoid", "check": {"kind": "phrases_avoided", "phrases": ["calm down"]}},
    ]}})
    assert by_id(run(transcript(script, [("l", "Calm down, please.")])))["avoid"].score == 50
    assert by_id(run(transcript(script, [("l", "I won't tell you to calm down.")])))["avoid"].score == 100


@pytest.mark.parametrize(("sentence", "language", "kind"), [
    ("So, what happened?", "en", "open"),
    ("Tell me more about the pain.", "en", "open"),
    ("Could you describe the noise?", "en", "open"),
    ("Okay Dana, how did that feel?", "en", "open"),
    ("Did you keep the receipt?", "en", "closed"),
    ("Is it plugged in?", "en", "closed"),
    ("How long has it hurt?", "en", "closed"),
    ("¿Qué pasó con la cafetera?", "es", "open"),
    ("Cuénteme más, por favor.", "es", "open"),
    ("¿Me puede contar cómo empezó?", "es", "open"),
    ("¿Tiene el recibo?", "es", "closed"),
    ("I am sorry.", "en", None),
    ("Lo siento mucho.", "es", None),
])
def test_open_and_closed_questions(sentence, language, kind):
    assert questions.classify(sentence, language) == kind


def test_spanish_script_scores_in_spanish():
    script = attrs.evolve(small_script("es"), rubric=attrs.evolve(small_script().rubric, criteria=(
        small_script().rubric.criteria[2],)))
    t = transcript(script, [("l", "Buenos días. ¿Qué pasó exactamente? ¿Cómo se siente ahora?"), ("c", "Mal."),
                            ("l", "¿Tiene el recibo?")])
    report = run(t)
    c = report.criteria[0]
    assert c.score == 100 and report.statistics.open_questions == 2 and report.statistics.closed_questions == 1
    assert [q.quote for q in c.evidence] == ["¿Qué pasó exactamente?", "¿Cómo se siente ahora?"]
    assert_quotes_verbatim(report, t)


def _with_contempt(line: str, at: int = 4):
    turns = list(GOOD)
    turns[at] = ("l", turns[at][1] + " " + line)
    return turns


@pytest.mark.parametrize("line", [
    "Honestly, that sounds pretty minor.",
    "If this goes on, I will call security.",
    "Stop whining, it's not rocket science.",
])
def test_mocking_belittling_or_threatening_fails_whatever_else_went_well(line):
    script = small_script()
    clean, rude = run(transcript(script, GOOD)), run(transcript(script, _with_contempt(line)))
    bar = script.rubric.passing_score
    assert clean.passed and clean.overall_score >= bar
    # Every criterion scores as before; the conduct rule caps the overall below the pass mark.
    assert [c.score for c in rude.criteria] == [c.score for c in clean.criteria]
    assert not rude.passed and rude.overall_score == int(bar * 0.4) < bar
    note = rude.notes[0]
    assert "capped at 28" in note and f"\u201c{line}\u201d" in note  # the learner's sentence, quoted
    assert rude.next_steps[0].startswith("Stay respectful")


def _required(*ids: str, weight: float | None = None):
    """The small script, rules only, with ``ids`` required (and resolution weighing ``weight``)."""
    data = script_to_dict(small_script(with_model=False))
    for criterion in data["rubric"]["criteria"]:
        criterion["required"] = criterion["id"] in ids
        if weight is not None and criterion["id"] == "resolution":
            criterion["weight"] = weight
    return script_from_dict(data)


def test_a_required_criterion_hardly_shown_fails_the_practice_whatever_the_mean():
    # Warm, curious, blameless, and no refund: the mean passes (80), the core task did not happen.
    no_refund = [turn for turn in GOOD if "full refund" not in turn[1]]
    plain = run(transcript(_required(weight=1.0), no_refund))
    assert plain.passed and plain.overall_score == 80 and by_id(plain)["resolution"].score == 0
    report = run(transcript(_required("resolution", weight=1.0), no_refund))
    assert [c.score for c in report.criteria] == [c.score for c in plain.criteria]  # each criterion as before
    assert not report.passed and report.overall_score == 69  # one under the pass mark of 70
    assert report.notes[0].startswith("The score is capped at 69, below the pass mark") \
        and "\u201cReaches a resolution\u201d" in report.notes[0]
    # Shown, the requirement changes nothing.
    done = run(transcript(_required("resolution", weight=1.0), GOOD))
    assert done.passed and done.overall_score == run(transcript(_required(weight=1.0), GOOD)).overall_score == 100
    assert not any("cannot be passed" in note for note in done.notes)
    # Already under the pass mark, the score stays and the note says why it could not pass anyway.
    under = run(transcript(_required("resolution"), no_refund))
    assert not under.passed and under.overall_score == 67
    assert under.notes[0] == "This scenario cannot be passed without \u201cReaches a resolution\u201d, and little " \
                             "or none of it was shown."


def test_required_is_written_only_when_set():
    # Servers of the previous version reject unknown fields while they share storage in a rolling upgrade.
    plain = script_to_dict(small_script(with_model=False))
    assert all("required" not in c for c in plain["rubric"]["criteria"])
    marked = script_to_dict(_required("resolution"))
    assert [c.get("required") for c in marked["rubric"]["criteria"]] == [None, None, None, True]
    assert script_from_dict(marked) == _required("resolution")


def test_quoting_someone_else_or_refusing_contempt_is_not_contempt():
    script = small_script()
    for line in ("One of the replies you got said 'stop whining', and that should never have happened.",
                 "There's no such thing as a stupid question.",
                 "Your review said “don't waste my time”.",
                 # Spoken, or through speech-to-text, a quotation has no quotation marks.
                 "on the pull request you wrote um stop whining and read the docs and she was upset",
                 "one comment said this is not rocket science"):
        report = run(transcript(script, _with_contempt(line)))
        assert report.passed and not any("capped" in n for n in report.notes), line


@pytest.mark.parametrize("line", [
    # The learner's own words, even after a verb of saying: their own, or too far from it.
    "I said stop whining and I meant it.",
    "I'm just saying, stop whining.",
    "You wrote to the customer yesterday and I have to say it honestly is not rocket science, stop whining.",
])
def test_words_handed_on_without_quotation_marks_are_still_ones_own_after_i_said(line):
    report = run(transcript(small_script(), _with_contempt(line)))
    assert not report.passed and any("capped" in n for n in report.notes), line


@pytest.mark.parametrize("line", [
    "Sorry, this is probably a silly question, but what happened when you switched it on?",
    "Um, maybe a stupid question, but what did it do?",
    "Dumb question, but what happened next?",
])
def test_calling_ones_own_question_silly_is_a_hedge_not_contempt(line):
    report = run(transcript(small_script(), _with_contempt(line)))
    assert report.passed and not any("capped" in n for n in report.notes), line


@pytest.mark.parametrize("line", ["That's a silly question.", "What a stupid question.",
                                  "Honestly, that is a dumb question and you know it."])
def test_calling_the_other_persons_question_silly_is_still_contempt(line):
    report = run(transcript(small_script(), _with_contempt(line)))
    assert not report.passed and any("capped" in n for n in report.notes), line


def test_a_spanish_hedger_calling_their_question_silly_is_not_contempt():
    script = attrs.evolve(small_script("es"), rubric=attrs.evolve(small_script().rubric, criteria=(
        small_script().rubric.criteria[2],)))
    opening = [("l", "¿Qué pasó exactamente? ¿Cómo se siente ahora?"), ("c", "Mal.")]
    own = [*opening, ("l", "Perdone, igual es una pregunta tonta, pero ¿cuándo empezó a fallar?")]
    assert run(transcript(script, own)).passed
    theirs = [*opening, ("l", "Eso es una pregunta tonta.")]
    assert not run(transcript(script, theirs)).passed


def test_words_of_a_criterion_said_with_what_the_rubric_warns_against_do_not_count():
    turns = [("l", "Good morning."), ("c", "My blender broke."),
             ("l", "I understand, but calm down. I'm sorry, it's your fault really."), ("c", "What?")]
    c = by_id(run(transcript(small_script(), turns)))
    assert c["empathy"].score == 0 and c["no-blame"].score == 0
    assert "Said only in the same sentence as something the rubric warns against" in c["empathy"].justification
    assert "\u201cI understand\u201d" in c["empathy"].justification
    # Said in a sentence of their own, beside the slip, they still count.
    apart = [*turns[:2], ("l", "I understand. Calm down. I'm sorry. It's your fault really."), ("c", "What?")]
    c = by_id(run(transcript(small_script(), apart)))
    assert c["empathy"].score == 100 and c["no-blame"].score == 0
    assert [q.quote for q in c["empathy"].evidence] == ["I understand.", "I'm sorry."]


def test_one_sentence_on_repeat_counts_half():
    script = small_script()
    empathy = next(c for c in script.rubric.criteria if c.id == "empathy")
    varied = run(transcript(script, GOOD))
    # The same formula opens every line, and nothing else in them shows empathy.
    robotic = [(who, ("I understand your frustration. " + text) if who == "l" else text) for who, text in POOR]
    report = run(transcript(script, robotic))
    c = by_id(report)["empathy"]
    # One of the two things empathy looks for (50), said the same way in all three lines: half of it.
    assert by_id(varied)["empathy"].score == 100 and c.score == 25
    assert "word for word in 3 messages" in c.justification
    # Twice is not a formula on repeat.
    twice = run(transcript(script, robotic[:4]))
    assert by_id(twice)["empathy"].score == 50 and empathy.check.kind == "phrases_used"


def _probe_script():
    return script_from_dict({
        "id": "interview-small", "language": "en", "title": "Interview (small)",
        "characters": [{"id": "priya", "name": "Priya"}],
        "scripted": {"beats": [
            {"id": "probe", "past": True, "triggers": ["handle it"],
             "replies": ["I set up a trial."], "label": "asked how she handled it"},
        ]},
        "rubric": {"passing_score": 70, "criteria": [
            {"id": "probing", "title": "Probed", "check": {"kind": "beat_reached", "beats": ["probe"]}},
        ]},
    })


@pytest.mark.parametrize("line, score", [
    ("You mentioned a disagreement. How did you handle it?", 100),
    ("You mentioned a disagreement. How would you handle it?", 0),
    ("Imagine a colleague disagrees with you. How do you handle it?", 0),
    ("Cool, sounds like you handle it well.", 0),  # praise of her story is no probe
    ("It sounds like it got tense. How did you handle it?", 100),
])
def test_a_beat_about_the_past_is_not_earned_by_a_hypothetical(line, score):
    # No engine beats recorded (a model played the character): the rules read the learner's words.
    report = run(transcript(_probe_script(), [("l", line), ("c", "Well...")]))
    assert report.criteria[0].score == score


def _story_script():
    return script_from_dict({
        "id": "interview-open", "language": "en", "title": "Interview (open)",
        "characters": [{"id": "priya", "name": "Priya"}],
        "scripted": {"beats": [
            {"id": "conflict", "open": True, "triggers": ["conflict", "disagreement"],
             "replies": ["A colleague and I disagreed about a system."], "label": "asked about a conflict"},
        ]},
        "rubric": {"passing_score": 70, "criteria": [
            {"id": "competencies", "title": "Asked behavioural questions",
             "check": {"kind": "beat_reached", "beats": ["conflict"]}},
        ]},
    })


@pytest.mark.parametrize("line, score", [
    ("Tell me about a conflict you had at work.", 100),
    ("Can you give me an example of a disagreement with a colleague?", 100),
    ("Can you think of a time when you had a conflict with someone?", 100),
    ("Have you ever had a conflict at work?", 0),
    ("Are you good with conflict?", 0),
    # A yes/no, then the story asked for in the same message.
    ("Have you ever had a conflict at work? Like, give me an example.", 100),
    ("Have you ever had a conflict at work? What happened?", 100),
])
def test_an_open_beat_is_not_earned_by_a_yes_no_question(line, score):
    report = run(transcript(_story_script(), [("l", line), ("c", "Well...")]))
    assert report.criteria[0].score == score, line


def test_an_open_beat_the_engine_answered_after_a_yes_no_is_earned_only_when_asked_openly():
    # The scripted character told the story after "Have you ever had a conflict?" (the beat is
    # recorded on its reply); the rules still want it asked for openly, then or later.
    closed = [("l", "Have you ever had a conflict at work?"), ("c", "A colleague and I disagreed about a system."),
              ("l", "Okay, thanks."), ("c", "Sure.")]
    report = run(transcript(_story_script(), closed, beats=[None, ("conflict",), None, ()]))
    assert report.criteria[0].score == 0
    later = [*closed[:2], ("l", "Walk me through that disagreement."), ("c", "Sure.")]
    report = run(transcript(_story_script(), later, beats=[None, ("conflict",), None, ()]))
    assert report.criteria[0].score == 100
    assert report.criteria[0].evidence[0].quote == "Walk me through that disagreement."


def test_a_slip_taken_back_at_once_is_not_left_standing():
    turns = [("l", "Good morning."), ("c", "My blender broke."),
             ("l", "Calm down. Sorry, I shouldn't have said that. I understand, I'm sorry."), ("c", "Fine.")]
    assert by_id(run(transcript(small_script(), turns)))["no-blame"].score == 100
    # Taken back at the start of the next message, too.
    next_turn = [("l", "Good morning."), ("c", "My blender broke."), ("l", "Calm down."), ("c", "Excuse me?"),
                 ("l", "Scratch that, that came out wrong. I'm sorry."), ("c", "Fine.")]
    assert by_id(run(transcript(small_script(), next_turn)))["no-blame"].score == 100
    # A retraction before the slip, or two messages later, takes nothing back.
    before = [("l", "Scratch that. Calm down."), ("c", "Excuse me?")]
    assert by_id(run(transcript(small_script(), before)))["no-blame"].score == 50
    late = [("l", "Calm down."), ("c", "Excuse me?"), ("l", "Anyway."), ("c", "What?"),
            ("l", "I take that back."), ("c", "Fine.")]
    assert by_id(run(transcript(small_script(), late)))["no-blame"].score == 50


def test_what_happens_next_is_no_probe_into_what_happened_next():
    # "happens" and "happened" share a stem: telling the candidate the process after today is not
    # asking how her story went on (the engine's side: chat's test_engine.py).
    script = script_from_dict({
        "id": "interview-next", "language": "en", "title": "Interview (next)",
        "characters": [{"id": "priya", "name": "Priya"}],
        "scripted": {"beats": [{"id": "probe", "past": True, "triggers": ["what happened next"],
                                "replies": ["I rebooked the venue."]}]},
        "rubric": {"passing_score": 70, "criteria": [
            {"id": "probing", "title": "Probed", "check": {"kind": "beat_reached", "beats": ["probe"]}}]},
    })
    told = "Thanks. Just so you know what happens next, we'll email everyone by Friday."
    assert run(transcript(script, [("l", told), ("c", "Great.")])).criteria[0].score == 0
    assert run(transcript(script, [("l", "And what happened next?"), ("c", "Well...")])).criteria[0].score == 100


def test_a_probe_said_after_another_story_follows_that_story():
    script = script_from_dict({
        "id": "interview-stories", "language": "en", "title": "Interview (two stories)",
        "characters": [{"id": "priya", "name": "Priya"}],
        "scripted": {"beats": [
            {"id": "conflict", "triggers": ["disagreement"], "replies": ["Yes."]},
            {"id": "pressure", "triggers": ["under pressure"], "replies": ["Yes."]},
            {"id": "conflict_action", "past": True, "triggers": ["handle it"], "requires": ["conflict"],
             "replies": ["I set up a trial."], "label": "asked how she handled the disagreement"},
        ]},
        "rubric": {"passing_score": 70, "criteria": [
            {"id": "probing", "title": "Probed", "check": {"kind": "beat_reached", "beats": ["conflict_action"]}},
            {"id": "stories", "title": "Stories", "check": {"kind": "beat_reached", "beats": ["conflict", "pressure"]}},
        ]},
    })
    asked = [("l", "Tell me about a disagreement you had."), ("c", "Well, once.")]
    moved_on = run(transcript(script, [*asked, ("l", "Now a time under pressure. How did you handle it?"), ("c", "Ok.")]))
    assert by_id(moved_on)["probing"].score == 0  # it asks about the pressure story
    probed = run(transcript(script, [*asked, ("l", "And how did you handle it?"), ("c", "I set up a trial.")]))
    assert by_id(probed)["probing"].score == 100


def test_a_thing_to_avoid_said_as_the_subject_of_a_limit_is_still_a_slip():
    script = small_script()
    no_blame = next(c for c in script.rubric.criteria if c.id == "no-blame")
    script = attrs.evolve(script, rubric=attrs.evolve(script.rubric, criteria=(attrs.evolve(
        no_blame, check=attrs.evolve(no_blame.check, phrases=(), concepts=("blame",))),)))
    report = run(transcript(script, [("l", "Misuse isn't covered by the warranty."), ("c", "Excuse me?")]))
    assert report.criteria[0].score == 50  # "misuse isn't covered" still says misuse
    clean = run(transcript(script, [("l", "It was not misuse, it's a fault."), ("c", "Right.")]))
    assert clean.criteria[0].score == 100  # "not misuse" is no slip


def test_contempt_is_read_in_the_scripts_language():
    script = attrs.evolve(small_script("es"), rubric=attrs.evolve(small_script().rubric, criteria=(
        small_script().rubric.criteria[2],)))
    turns = [("l", "¿Qué pasó exactamente? ¿Cómo se siente ahora?"), ("c", "Mal."),
             ("l", "Deje de quejarse, hasta un niño sabe usarla.")]
    report = run(transcript(script, turns))
    assert report.criteria[0].score == 100 and not report.passed
    assert report.overall_score == 28 and "«Deje de quejarse" in report.notes[0]
    # Someone else's words handed on, spoken, without quotation marks, are not the learner's.
    handed_on = [*turns[:2], ("l", "eh el compañero le dijo deje de quejarse y eso no tuvo que pasar")]
    assert run(transcript(script, handed_on)).passed


def test_unsupported_language_is_flagged():
    script = attrs.evolve(small_script(), language="ja")
    t = transcript(script, GOOD)
    report = run(attrs.evolve(t, language="ja"))
    assert by_id(report)["explore"].confidence < 0.5
    assert any("\u2018ja\u2019" in note for note in report.notes)


def test_statistics():
    script = small_script()
    stats = run(transcript(script, GOOD)).statistics
    assert stats.learner_turns == 4 and stats.character_turns == 4
    assert stats.learner_words > stats.character_words > 0
    assert stats.talk_share == round(stats.learner_words / (stats.learner_words + stats.character_words), 3)
    assert (stats.open_questions, stats.closed_questions) == (2, 0)
    assert stats.duration_seconds == (len(GOOD) + 1) * 60


def test_only_messages_up_to_the_requested_number_count():
    script = small_script()
    report = run(transcript(script, GOOD), upto_seq=4)
    assert report.upto_seq == 4 and report.statistics.learner_turns == 2
    assert by_id(report)["resolution"].score == 0  # the refund was offered at message 7


def test_deterministic():
    script = small_script()
    a, b = run(transcript(script, GOOD)), run(transcript(script, GOOD))
    assert attrs.evolve(a, created_at=b.created_at) == b


def test_short_or_empty_rubric_lowers_confidence():
    script = small_script()
    short = run(transcript(script, GOOD[:2]))
    full = run(transcript(script, GOOD))
    assert short.confidence < full.confidence
    empty = run(transcript(attrs.evolve(script, rubric=attrs.evolve(script.rubric, criteria=())), GOOD))
    assert empty.overall_score == 0 and empty.confidence == 0 and empty.needs_human_review
    assert not empty.passed


def test_low_confidence_recommends_review():
    script = small_script()
    report = run(transcript(script, GOOD[:2]), review_below=0.99)
    assert report.needs_human_review
    assert not run(transcript(script, GOOD), review_below=0.1).needs_human_review


def test_quotes_are_verbatim_whatever_the_learner_types():
    """Random lines mixing triggers, synonyms, accents, emoji, curly quotes and new lines."""
    import random

    pieces = ["I understand", "I’m SO sorry", "my apologies", "full refund", "refund you", "money back",
              "your fault", "calm down", "What happened?", "¿Qué pasó?", "Tell me more.", "Did you?",
              "frustration", "timeline", "apologise", "🙂", "—", "\n", "  ", "“quoted”", "l'homme", "co-operate",
              "next step", "Is it on?", "how did you feel?", "...", "!"]
    script = small_script()
    rng = random.Random(7)
    for _ in range(60):
        turns = []
        for n in range(rng.randint(1, 8)):
            words = [rng.choice(pieces) for _ in range(rng.randint(1, 9))]
            turns.append(("l" if n % 2 == 0 else "c", rng.choice([" ", ", ", ". "]).join(words)))
        t = transcript(script, turns)
        report = run(t)
        assert_quotes_verbatim(report, t)
        assert 0 <= report.overall_score <= 100 and 0 <= report.confidence <= 1
        assert all((c.score is None or 0 <= c.score <= 100) and len(c.evidence) <= 4 for c in report.criteria)


def test_han_phrases_are_found_inside_unspaced_text():
    from roleplay_core.text import Pattern

    text = "我很抱歉，我們會全額退款。"
    span = Pattern.parse("全額退款").search(text)
    assert span is not None and text[slice(*span)] == "全額退款"


def _undo_script(language: str = "en"):
    return script_from_dict({
        "id": "refund-undo", "language": language, "title": "Refund (undo)",
        "characters": [{"id": "dana", "name": "Dana"}],
        "scripted": {
            "synonyms": {"refund": ["reembolso", "退款"], "as_credit": ["as store credit"],
                         "to_card": ["back on your card"]},
            "beats": [{"id": "offer", "triggers": ["refund"], "replies": ["Good."], "label": "offered a refund"}],
        },
        "rubric": {"passing_score": 70, "criteria": [
            {"id": "resolution", "title": "Resolved", "check": {
                "kind": "beat_reached", "beats": ["offer"],
                "undone_by": [{"says": ["no_date"], "until": ["timeline"]},
                              {"says": ["as_credit"], "until": ["to_card"]}]}},
        ]},
    })


@pytest.mark.parametrize("lines, score", [
    # An offer made to wait on nobody knows when, two lines later, is taken back...
    (["Yes, you'll get your refund.", "It goes to the manufacturer first.", "I can't give you a date for that."], 0),
    (["I'll refund you today.", "Honestly, it could take a while."], 0),
    (["I'll refund you today.", "I'm not able to give a timeframe on that, I'm afraid."], 0),
    # ...until a time is given after it, in the same sentence or a later one.
    (["I'll refund you today.", "I can't give you an exact date, but it's usually three to five working days."], 100),
    (["I'll refund you today.", "I'm not sure when.", "Actually, it'll be on your card in three days."], 100),
    # Saying the trigger again does not make it good: it mentions a refund, it gives no date.
    (["I'll refund you.", "I can't say when. We'll process the refund once we hear back."], 0),
    # A question gives no date and takes nothing back.
    (["I'll refund you.", "How long? I can't say when."], 0),
    (["I'll refund you.", "Would it help if I can't say when, or shall I check?"], 100),
    # A limit said before the offer takes back nothing that came after it.
    (["I can't say when the manager is free.", "So I'll refund you myself, today."], 100),
    # Store credit: taken back, unless negated or the money goes back on her card after it.
    (["I'll refund you now.", "The refund comes as store credit, valid three months."], 0),
    (["I'll refund you now.", "Full refund, not as store credit."], 100),
    (["I'll refund you now.", "The refund comes as store credit.", "Sorry, no: it goes back on your card."], 100),
    (["Refund to your card, or as store credit?"], 100),
    # Offered as a choice, it takes nothing back.
    (["I'll refund you now.", "It's back on your card today, or as store credit if you prefer."], 100),
])
def test_an_offer_taken_back_later_does_not_count(lines, score):
    turns = [t for line in lines for t in (("l", line), ("c", "Hm."))]
    report = run(transcript(_undo_script(), turns))
    assert report.criteria[0].score == score
    if score == 0:  # the learner reads what took it back, in their own words
        assert "took it back" in report.criteria[0].justification
        assert any(q.seq > 1 for q in report.criteria[0].evidence)


def test_an_offer_reported_by_the_engine_is_still_taken_back_by_words():
    turns = [("l", "I'll refund you."), ("c", "Good."), ("l", "No idea how long it takes, though."), ("c", "What?")]
    report = run(transcript(_undo_script(), turns, beats=[None, ["offer"], None, []]))
    assert report.criteria[0].score == 0
    assert report.criteria[0].confidence < 1  # words decided it, not the engine


@pytest.mark.parametrize("language, lines, score", [
    ("es", ["Le hago el reembolso ahora.", "No le puedo dar una fecha, depende de ellos."], 0),
    ("es", ["Le hago el reembolso ahora.", "No sé cuánto tarda exactamente, pero suele ser en tres días hábiles."], 100),
    ("zh-Hant", ["我們會幫您退款。", "確切多久我這邊真的不好說。"], 0),
    ("zh-Hant", ["我們會幫您退款。", "大約三到五天會退到您的卡。"], 100),
])
def test_no_date_takes_an_offer_back_in_every_built_in_language(language, lines, score):
    turns = [t for line in lines for t in (("l", line), ("c", "..."))]
    report = run(transcript(_undo_script(language), turns))
    assert report.criteria[0].score == score


def _withdrawn_script():
    return script_from_dict({
        "id": "feedback-undo", "language": "en", "title": "Feedback (undo)",
        "characters": [{"id": "marcus", "name": "Marcus"}],
        "scripted": {
            "synonyms": {"withdrawn": ["let's just leave it", "making too much of"]},
            "beats": [{"id": "purpose", "triggers": ["want to talk about"], "replies": ["Okay."]},
                      {"id": "feedback", "triggers": ["she felt humiliated"], "replies": ["Right."]},
                      {"id": "plan", "triggers": ["next sprint"], "replies": ["Deal."]},
                      {"id": "closing", "triggers": ["see you thursday"], "replies": ["Bye."]}],
        },
        "rubric": {"passing_score": 70, "criteria": [
            {"id": "direct", "title": "Direct", "check": {
                "kind": "beat_reached", "beats": ["purpose", "plan", "closing"], "min_count": 2,
                "undone_by": [{"says": ["withdrawn"], "after": ["feedback"]}]}},
        ]},
    })


@pytest.mark.parametrize("lines, score", [
    # Feedback given, then withdrawn: the plan and the goodbye said after it do not make it direct.
    (["I want to talk about the reviews.", "Priya said she felt humiliated.",
      "Honestly, maybe I'm making too much of it.", "From next sprint reviews are shared. See you Thursday."], 0),
    (["I want to talk about the reviews.", "Priya said she felt humiliated.",
      "Let's just leave it there. From next sprint reviews are shared. See you Thursday."], 0),
    # Said before the feedback, or negated, it withdraws nothing.
    (["I want to talk about the reviews. Let's just leave it at that for the release.",
      "Priya said she felt humiliated.", "From next sprint reviews are shared. See you Thursday."], 100),
    (["I want to talk about the reviews.", "Priya said she felt humiliated.",
      "I'm not making too much of it.", "From next sprint reviews are shared. See you Thursday."], 100),
])
def test_feedback_withdrawn_after_it_is_given_takes_back_the_whole_check(lines, score):
    turns = [t for line in lines for t in (("l", line), ("c", "Hm."))]
    report = run(transcript(_withdrawn_script(), turns))
    assert report.criteria[0].score == score
    if score == 0:
        assert "took it back" in report.criteria[0].justification


def test_undone_by_is_written_only_when_set():
    plain = script_to_dict(small_script())
    assert all("undone_by" not in c["check"] for c in plain["rubric"]["criteria"])
    undo = script_to_dict(_undo_script())
    assert undo["rubric"]["criteria"][0]["check"]["undone_by"][0] == {"says": ["no_date"], "until": ["timeline"]}
    assert script_from_dict(undo) == _undo_script()
    whole = script_to_dict(_withdrawn_script())["rubric"]["criteria"][0]["check"]["undone_by"][0]
    assert whole == {"says": ["withdrawn"], "after": ["feedback"]}
    assert script_from_dict(script_to_dict(_withdrawn_script())) == _withdrawn_script()


def test_a_trigger_inside_a_leading_question_does_not_reach_the_beat():
    # "you'd agree the tone hasn't been great, right?" asks him to concede; it agrees no plan.
    script = script_from_dict({
        "id": "feedback-small", "language": "en", "title": "Feedback (small)",
        "characters": [{"id": "marcus", "name": "Marcus"}],
        "scripted": {"beats": [{"id": "plan", "triggers": ["agree"], "replies": ["Deal."], "label": "agreed a plan"}]},
        "rubric": {"passing_score": 70, "criteria": [
            {"id": "actions", "title": "Agreed actions", "check": {"kind": "beat_reached", "beats": ["plan"]}}]},
    })
    leading = [("l", "Walk me through your side. You'd agree the tone hasn't been great lately, right?"),
               ("c", "I suppose.")]
    assert run(transcript(script, leading)).criteria[0].score == 0
    # The engine played along with it: still not the act.
    assert run(transcript(script, leading, beats=[None, ["plan"]])).criteria[0].score == 0
    agreed = [("l", "So we agree: you talk to Priya, and we check in on Friday. Is that fair?"), ("c", "Deal.")]
    assert run(transcript(script, agreed)).criteria[0].score == 100


def test_the_opening_message_does_not_reach_a_beat_whose_requirements_never_came():
    script = script_from_dict({
        "id": "feedback-small", "language": "en", "title": "Feedback (small)",
        "characters": [{"id": "marcus", "name": "Marcus"}],
        "scripted": {"beats": [
            {"id": "ask_help", "triggers": ["what would help"], "replies": ["Less on-call."]},
            {"id": "plan", "triggers": ["check in"], "requires": ["ask_help"], "replies": ["Deal."],
             "label": "agreed a follow-up"}]},
        "rubric": {"passing_score": 70, "criteria": [
            {"id": "actions", "title": "Agreed actions", "check": {"kind": "beat_reached", "beats": ["plan"]}}]},
    })
    opener = [("l", "Hi Marcus, I just wanted to check in about the reviews."), ("c", "Okay."),
              ("l", "Anyway, that's all."), ("c", "Right.")]
    assert run(transcript(script, opener)).criteria[0].score == 0
    # Later in the conversation the same words count, as before, even without the requirement.
    later = [("l", "Hi Marcus."), ("c", "Hi."), ("l", "Let's check in again next Friday."), ("c", "Fine.")]
    assert run(transcript(script, later)).criteria[0].score == 100
    # And in the opening message too, once what it requires was said before it.
    both = [("l", "What would help? Let's check in again next Friday on it."), ("c", "Fine.")]
    assert run(transcript(script, both)).criteria[0].score == 100
