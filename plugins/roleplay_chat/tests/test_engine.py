"""The scripted provider: matching to beats, preconditions, mood, variants, determinism, end conditions."""

import datetime as dt
import json
import pathlib

import pytest
import yaml
from roleplay_chat.engine import ScriptedProvider, play_turn

from roleplay_core import Reply, ReplyDelta, ReplyRequest, TranscriptMessage, script_from_dict
from roleplay_core.testing import make_kernel

BAKERY = script_from_dict(yaml.safe_load((pathlib.Path(__file__).parent / "scripts" / "bakery-en.yaml").read_text()))
BRUNO = BAKERY.character("bruno")


def converse(messages, seed=0, script=BAKERY, character=None):
    character = character or script.character()
    state, turns = None, []
    for text in messages:
        turn = play_turn(script, character, text, state, seed=seed)
        # The state must survive storage as JSON: use it exactly as it comes back.
        state = json.loads(json.dumps(turn.state))
        turns.append(turn)
    return turns


def test_matches_beats_through_synonyms_and_loose_wording():
    turns = converse(["HELLO!!", "I'd like a baguette please"])
    assert turns[0].info["beats"] == ["greet"] and turns[0].text in BAKERY.scripted.beats[0].replies
    assert turns[1].info["beats"] == ["ask_bread"]
    assert turns[1].text in ("One left. Sourdough.", "Only the sourdough is left.")


def test_requires_gates_a_beat_until_its_prerequisite_fired():
    early = converse(["How much do I pay?"])[0]
    assert early.info["beats"] == [] and early.info["fallback"] is True
    turns = converse(["bread please", "can I pay by card?"])
    assert turns[1].info["beats"] == ["pay"]


def test_a_beat_fires_once_unless_repeatable():
    turns = converse(["hello", "hello", "hurry up", "come on", "too slow"])
    assert [t.info["beats"] for t in turns] == [["greet"], [], ["rude"], ["rude"], ["rude"]]


def test_the_state_does_not_grow_with_the_conversation():
    turns = converse(["hurry up", "hello", "who is she, your apprentice?"] + ["hurry up", "la la"] * 200)
    assert turns[-1].state["fired"] == ["rude", "greet", "ask_lia"]
    # Variants cycle, fired beats are a set, recent fallbacks a window: only turn numbers' digits grow.
    sizes = [len(json.dumps(t.state)) for t in turns]
    assert max(sizes) < 320 and max(sizes[-100:]) <= max(sizes[:100]) + 6


def test_reply_variants_do_not_repeat_until_exhausted():
    turns = converse(["hurry up"] * 4, seed=3)
    texts = [t.text.split(" Out.")[0] for t in turns]
    assert len(set(texts[:3])) == 3  # three variants, three different replies
    assert texts[3] != texts[2]  # a new cycle never starts with the last one said


def test_mood_moves_is_clamped_and_picks_fallbacks():
    calm = converse(["hello", "what is the weather like"])
    assert calm[0].info["mood"] == 0 and calm[1].text in ("Anything else?", "Mm-hm.")
    angry = converse(["hurry up", "what is the weather like"])
    assert angry[0].info["mood"] == -3 and angry[1].text in ("What? Speak clearly.", "I'm busy.")


def test_mood_end_condition_ends_with_closing_line():
    turns = converse(["hurry up", "come on"])
    assert turns[1].info["mood"] == -5
    assert turns[1].ended and turns[1].end_reason == "Bruno threw the learner out."
    assert turns[1].text.endswith("Out. We're closed.")
    assert not turns[0].ended


def _warned_bakery():
    import attrs

    conditions = tuple(attrs.evolve(c, warning_line="Careful. One more like that and you're out.")
                       if c.kind == "mood_at_most" else c for c in BAKERY.scripted.end_conditions)
    return attrs.evolve(BAKERY, scripted=attrs.evolve(BAKERY.scripted, end_conditions=conditions))


def test_a_warning_line_gives_one_chance_before_the_character_leaves():
    script = _warned_bakery()
    # The first time the mood falls that low, a warning instead of the exit, and the mood rises a step...
    turns = converse(["hurry up", "come on"], script=script)
    assert not turns[1].ended and turns[1].info["warning"] is True
    assert turns[1].text.endswith("Careful. One more like that and you're out.")
    assert turns[1].info["mood"] == -4 and turns[1].state["warned"] == [1]
    # ...and the learner who does it again is shown out, warned only once (here mumbling on at that
    # mood costs a step too).
    import attrs

    sour = attrs.evolve(script.scripted.fallbacks[0], mood_effect=-1)
    script = attrs.evolve(script, scripted=attrs.evolve(script.scripted, fallbacks=(sour, *script.scripted.fallbacks[1:])))
    again = converse(["hurry up", "come on", "la la la"], script=script)
    assert again[2].ended and again[2].end_reason == "Bruno threw the learner out."
    assert again[2].text.endswith("Out. We're closed.") and "Careful" not in again[2].text
    # A learner who recovers stays: the warning was the chance.
    recovered = converse(["hurry up", "come on", "hello", "bread"], script=script)
    assert not any(t.ended for t in recovered) and recovered[-1].info["beats"] == ["ask_bread"]


def test_a_warning_line_is_written_only_when_set():
    from roleplay_core import script_to_dict

    # Servers of the previous version reject unknown fields while they share storage in a rolling upgrade.
    assert all("warning_line" not in c for c in script_to_dict(BAKERY)["scripted"]["end_conditions"])
    warned = script_to_dict(_warned_bakery())["scripted"]["end_conditions"]
    assert [("warning_line" in c) for c in warned] == [c["kind"] == "mood_at_most" for c in warned]
    assert script_from_dict(script_to_dict(_warned_bakery())) == _warned_bakery()


def test_the_character_does_not_play_along_with_a_narrated_plan():
    # Saying what one would do is not saying it to him (the rules do not count it either).
    assert converse(["At this point I'd ask him for some bread."])[0].info["beats"] == []  # a concept
    assert converse(["At this point I'd ask him about the apprentice."])[0].info["beats"] == []  # a plain word
    assert converse(["(I'd then ask about his apprentice)"])[0].info["beats"] == []
    assert converse(["Some bread, please."])[0].info["beats"] == ["ask_bread"]
    assert converse(["Is she your apprentice?"])[0].info["beats"] == ["ask_lia"]


def test_beat_end_condition():
    turns = converse(["bread", "here is cash"])
    assert turns[-1].ended and turns[-1].end_reason == "The learner bought the bread."
    assert turns[-1].text == "Four euros. Thanks. Good night."


def test_turns_end_condition():
    turns = converse(["la la la"] * 12)
    assert [t.ended for t in turns] == [False] * 11 + [True]
    assert turns[-1].end_reason == "The bakery closed."


def test_another_character_can_answer_a_beat():
    turn = converse(["who is she, your apprentice?"])[0]
    assert turn.character_id == "lia" and turn.info["character_id"] == "lia"


def test_same_seed_same_conversation_and_seeds_vary_it():
    lines = ["hello", "hurry up", "come on", "la la", "bread", "la la", "la la"]
    first = [t.text for t in converse(lines, seed=11)]
    assert first == [t.text for t in converse(lines, seed=11)]
    assert len({tuple(t.text for t in converse(lines, seed=s)) for s in range(12)}) > 1


MOODY = script_from_dict({
    "id": "moody",
    "title": "Moody",
    "characters": [{"id": "m", "name": "M"}],
    "scripted": {
        "initial_mood": 0,
        "beats": [
            {"id": "calm_offer", "triggers": ["offer"], "min_mood": 1, "replies": ["Deal."]},
            {"id": "angry_offer", "triggers": ["offer"], "max_mood": 0, "replies": ["No way."]},
            {"id": "praise", "triggers": ["well done"], "mood_effect": 5, "repeatable": True, "replies": ["Thanks!"]},
            {"id": "secret", "triggers": ["secret"], "excludes": ["praise"], "replies": ["Psst."]},
        ],
        "end_conditions": [{"kind": "mood_at_least", "value": 5, "reason": "delighted"}],
    },
})


def test_min_and_max_mood_choose_between_beats_and_excludes_block():
    assert converse(["an offer", "secret"], script=MOODY)[0].text == "No way."
    assert converse(["secret"], script=MOODY)[0].text == "Psst."
    turns = converse(["well done", "offer", "secret"], script=MOODY)
    assert turns[0].info["mood"] == 5 and turns[0].ended and turns[0].end_reason == "delighted"
    assert turns[1].text == "Deal."
    assert turns[2].info["beats"] == []  # excluded once praise fired
    assert turns[2].text == "Sorry, I'm not sure what you mean."  # no fallbacks in this script


@pytest.mark.anyio
async def test_provider_streams_deltas_then_reply_through_the_kernel():
    kernel = make_kernel()
    provider = kernel.model("scripted")
    assert isinstance(provider, ScriptedProvider) and provider.capabilities == {"reply"}
    now = dt.datetime.now(dt.UTC)
    history = (TranscriptMessage(seq=1, role="character", text="What do you want?", created_at=now),
               TranscriptMessage(seq=2, role="learner", text="Who is your apprentice?", created_at=now))
    items = [item async for item in provider.reply(ReplyRequest(script=BAKERY, character=BRUNO, history=history,
                                                                seed=5))]
    deltas, final = items[:-1], items[-1]
    assert all(isinstance(d, ReplyDelta) for d in deltas) and len(deltas) >= 2
    assert isinstance(final, Reply) and "".join(d.text for d in deltas) == final.text
    assert final.text == "I'm Lia, I help in the mornings." and final.info["character_id"] == "lia"
    again = [item async for item in provider.reply(ReplyRequest(
        script=BAKERY, character=BRUNO, history=history, state=final.state, seed=5))][-1]
    assert again.info["beats"] == []  # the state came back: ask_lia already fired


def test_reply_chunks_rebuild_the_text_and_split_unspaced_chinese():
    from roleplay_chat.engine import chunks

    for text in ["Hello there, how can I help?", "  leading space", "您好，我是林黛娜。我的咖啡機壞了！", "mixed 中文 text"]:
        pieces = chunks(text)
        assert "".join(pieces) == text
    assert len(chunks("您好，我是林黛娜。我的咖啡機壞了！")) > 1


# -- A character that listens ---------------------------------------------------------------
# Built here (not a shipped pack): two speakers, a greeting, nudges, a beat that needs another,
# and five fallbacks per mood band.

SHOP = script_from_dict({
    "id": "test-shop",
    "title": "Test: the broken coffee machine",
    "characters": [{"id": "dana", "name": "Dana", "opening_line": "My machine broke. Again.", "speaks_first": True},
                   {"id": "sam", "name": "Sam"}],
    "scripted": {
        "initial_mood": -2,
        "synonyms": {"apology": ["sorry", "apologise", "my apologies"]},
        "beats": [
            {"id": "greet", "greeting": True, "triggers": ["hello", "what can i do for you"],
             "replies": ["Hi. My coffee machine broke."]},
            {"id": "apology", "triggers": ["apology"], "mood_effect": 1,
             "replies": ["Well... thank you for saying that."]},
            {"id": "ask_details", "triggers": ["what happened", "what is wrong with the machine"],
             "replies": ["It just stopped heating."], "nudge": "Don't you even want to know what happened to it?"},
            {"id": "first_visit", "triggers": ["first visit", "what did the staff tell you"],
             "replies": ["Last time they told me to descale it."], "nudge": "I was already here last week, you know."},
            {"id": "refund", "triggers": ["refund", "money back"], "requires": ["ask_details"], "mood_effect": 2,
             "replies": ["Yes. A refund, please."], "nudge": "So what are you going to do about it?"},
            {"id": "manager", "triggers": ["manager"], "character_id": "sam",
             "replies": ["I'm Sam, the manager. What's going on?"]},
        ],
        "fallbacks": [
            {"max_mood": -3, "replies": ["Are you even listening?", "Unbelievable.", "Just fix it.",
                                          "I don't have all day.", "Stop wasting my time."]},
            {"min_mood": -2, "replies": ["Sorry?", "I don't follow.", "Can we stick to my machine?",
                                          "What does that have to do with anything?", "Hm."]},
        ],
        "end_conditions": [{"kind": "beat_reached", "beat": "refund", "reason": "Dana got her refund."}],
    },
})
REPLY = {beat.id: beat.replies[0] for beat in SHOP.scripted.beats}
NUDGE = {beat.id: beat.nudge for beat in SHOP.scripted.beats}
OFF = ["la la", "blah blah", "qwerty", "the weather is nice", "asdf", "zxcv", "lorem ipsum", "hmm hmm"]


def shop(messages, seed=0, state=None):
    turns = []
    for text in messages:
        turn = play_turn(SHOP, SHOP.character(), text, state, seed=seed)
        state = json.loads(json.dumps(turn.state))
        turns.append(turn)
    return turns


@pytest.mark.parametrize("message", [
    "I'm so sorry about this. What happened to your machine?",
    "Oh no, I'm sorry - what happened exactly?",
    "sorry what happened",  # one run-on sentence, as speech to text writes it
])
def test_an_apology_and_a_question_get_both_beats(message):
    turn = shop([message])[0]
    assert turn.info["beats"] == ["apology", "ask_details"] and turn.info["fallback"] is False
    assert turn.text == f"{REPLY['apology']} {REPLY['ask_details']}"
    assert turn.state["mood"] == -1 and set(turn.state["fired"]) == {"apology", "ask_details"}
    assert [m["beat"] for m in turn.info["matches"]] == ["apology", "ask_details"]


def test_both_replies_follow_the_order_the_learner_said_them():
    turn = shop(["What happened? Sorry about that."])[0]
    assert turn.info["beats"] == ["ask_details", "apology"]
    assert turn.text == f"{REPLY['ask_details']} {REPLY['apology']}"


def test_a_beat_can_join_one_that_it_requires_in_the_same_message():
    turn = shop(["I want my money back. What happened, anyway?"])[0]
    assert turn.info["beats"] == ["refund", "ask_details"]  # said order; ask_details fired first
    assert turn.state["mood"] == 0 and turn.ended and turn.end_reason == "Dana got her refund."


def test_a_third_intent_waits_for_the_next_turn_that_would_be_a_fallback():
    first, second, third = shop(["Hello. I'm sorry. What happened?", "hmm", "hmm"])
    assert len(first.info["beats"]) == 2 and len(first.info["pending"]) == 1
    assert sorted(first.info["beats"] + first.info["pending"]) == ["apology", "ask_details", "greet"]
    assert second.info["beats"] == first.info["pending"] and second.info["carried"] is True
    assert second.text == REPLY[first.info["pending"][0]]
    assert third.info["beats"] == [] and third.info["fallback"] is True and third.state["pending"] == []
    # A new beat said on the next turn wins over the pending one, which is then dropped.
    later = shop(["Hello. I'm sorry. What happened?", "Did the staff mention it on your first visit?", "hmm"])
    assert later[1].info["beats"] == ["first_visit"] and later[2].info["beats"] == []


def test_another_speakers_beat_waits_for_its_own_turn():
    first, second = shop(["Sorry. Can I get the manager?", "ok then"])
    assert first.info["beats"] == ["apology"] and first.character_id == "dana" and first.info["pending"] == ["manager"]
    assert second.info["beats"] == ["manager"] and second.character_id == "sam"


def test_at_most_two_beats_per_turn_and_each_once():
    turn = shop(["Hello. Sorry. Sorry again! What happened? And on your first visit? Get me the manager."])[0]
    assert len(turn.info["beats"]) == 2 and len(set(turn.info["beats"])) == 2
    assert len(turn.state["pending"]) <= 3


def test_a_greeting_answers_only_the_first_message():
    assert shop(["Hello!"])[0].info["beats"] == ["greet"]
    assert shop(["What can I do for you?"])[0].info["beats"] == ["greet"]  # the whole phrase, first message
    later = shop(["I'm sorry about the wait.", "Hello!", "hello, what can I do for you?"])
    assert [t.info["beats"] for t in later] == [["apology"], [], []]
    assert all(REPLY["greet"] not in t.text for t in later)
    # Nor carried over as pending into the second turn.
    carried = shop(["Hello. Sorry. What happened?", "hmm"])
    assert "greet" not in carried[1].info["beats"]


def test_a_trigger_of_function_words_needs_the_whole_phrase():
    question = "Could you tell me what the staff said on your first visit, so I don't repeat the same thing?"
    turn = shop([question])[0]
    assert "greet" not in turn.info["beats"] and REPLY["greet"] not in turn.text
    assert turn.info["beats"] == ["first_visit"]
    for message in ("What?", "what is this", "So what do you want?"):
        assert "greet" not in shop([message])[0].info["beats"], message


@pytest.mark.parametrize("seed", range(6))
def test_no_identical_fallback_within_four_turns(seed):
    turns = shop(OFF * 5, seed=seed)
    said = [(n, t.text) for n, t in enumerate(turns) if t.info["fallback"] and "nudge" not in t.info]
    assert len(said) > 20
    for i, (n, text) in enumerate(said):
        assert all(text != other for m, other in said[i + 1:] if m - n <= 4), (n, text)


def test_fallbacks_vary_even_in_a_band_with_too_few_replies():
    # The bakery's calm band has two replies: the angry band's two are borrowed before one repeats.
    texts = [t.text for t in converse(["la la", "blah", "hmm", "qwerty", "asdf", "zxcv", "uiop", "ghjk"])]
    assert all(len(set(texts[i: i + 4])) == len(texts[i: i + 4]) for i in range(len(texts)))
    assert {"What? Speak clearly.", "I'm busy."} <= set(texts[:4])


def test_a_nudge_after_two_fallbacks_in_a_row_and_never_the_same_twice_in_a_row():
    turns = shop((OFF * 2)[:9])
    kinds = ["nudge" if "nudge" in t.info else "fallback" for t in turns]
    assert kinds == ["fallback", "fallback", "nudge"] * 3
    nudges = [t.info["nudge"] for t in turns if "nudge" in t.info]
    # The first eligible beat not yet fired that has a nudge, but not the one just given.
    assert nudges == ["ask_details", "first_visit", "ask_details"]
    assert turns[2].text == NUDGE["ask_details"] and turns[5].text == NUDGE["first_visit"]
    assert all(t.info["beats"] == [] for t in turns) and all(t.state["fired"] == [] for t in turns)


def test_a_nudge_points_at_what_the_learner_can_do_next():
    turns = shop(["What happened?", *OFF[:3], "Did you get a refund?"])
    # ask_details fired; refund (which needs it) is next; first_visit comes first in script order.
    assert turns[3].info["nudge"] == "first_visit"
    assert turns[4].info["beats"] == ["refund"] and turns[4].ended
    # A beat that fired resets the count: two more fallbacks before the next nudge.
    turns = shop([*OFF[:3], "Sorry about that.", *OFF[:3]])
    assert ["nudge" in t.info for t in turns] == [False, False, True, False, False, False, True]


def test_the_state_stays_bounded_over_a_thousand_messages():
    lines = ["Sorry. Can I get the manager?", "qwerty", "hmm", "la la", "What happened? Sorry.", "asdf",
             "hello, first visit?", "zxcv"]
    turns = shop(lines * 125)
    assert len(turns) == 1000 and turns[-1].state["turns"] == 1000
    sizes = [len(json.dumps(t.state)) for t in turns]
    # Only turn numbers' digits grow (the counter and the four remembered fallbacks).
    assert max(sizes[990:]) - max(sizes[8:16]) <= 12, (sizes[8:16], sizes[990:])
    for turn in turns:
        assert set(turn.state) == {"v", "mood", "turns", "fired", "used", "misses", "recent", "pending", "nudge",
                                   "warned"}
        assert len(turn.state["recent"]) <= 4 and len(turn.state["pending"]) <= 3
        assert len(turn.state["warned"]) <= len(SHOP.scripted.end_conditions)


def test_message_one_thousand_answers_as_message_ten_does():
    # The engine reads nothing but the state: a state after 1,000 turns plays as one after 10.
    short = shop(OFF[:2])[-1].state
    long = dict(short, turns=short["turns"] + 990, recent=[[t + 990, crc] for t, crc in short["recent"]])
    assert shop(["qwerty"], state=short)[0].info["nudge"] == shop(["qwerty"], state=long)[0].info["nudge"]


def test_a_version_one_state_is_accepted():
    old = {"v": 1, "mood": 0, "turns": 6, "fired": ["ask_details"], "used": {"beat:ask_details": [0]}}
    turn = shop(["I want a refund"], state=old)[0]
    assert turn.info["beats"] == ["refund"] and turn.state["mood"] == 2 and turn.state["turns"] == 7
    assert turn.state["v"] == 2 and turn.state["fired"] == ["ask_details", "refund"]
    # Its greeting is long past: turn 7 is not the first message.
    assert shop(["hello"], state=old)[0].info["beats"] == []
    # Anything that is not a known state starts the scene afresh.
    assert shop(["hello"], state={"v": 99, "mood": 5})[0].info["beats"] == ["greet"]
    assert shop(["hello"], state={"v": 2, "mood": "furious", "recent": 3})[0].info["beats"] == ["greet"]


def test_same_seed_same_conversation_with_intents_nudges_and_fallbacks():
    lines = ["Hello. I'm sorry. What happened?", *OFF[:4], "manager please", "ok", "hmm", "refund?"]
    first = [(t.text, t.character_id, t.info) for t in shop(lines, seed=4)]
    assert first == [(t.text, t.character_id, t.info) for t in shop(lines, seed=4)]
    assert len({tuple(t.text for t in shop(OFF * 2, seed=s)) for s in range(8)}) > 1


INTERVIEW = script_from_dict({
    "id": "interview-small", "language": "en", "title": "Interview (small)",
    "characters": [{"id": "priya", "name": "Priya"}],
    "scripted": {
        "beats": [
            {"id": "conflict", "triggers": ["disagreement with a colleague"], "replies": ["Yes, once."]},
            {"id": "conflict_action", "past": True, "triggers": ["how did you handle it", "how handle it",
                                                                  "what happened next"],
             "requires": ["conflict"], "replies": ["I set up a trial of both systems."]},
        ],
        "fallbacks": [{"replies": ["Sorry, could you say that another way?"]}],
    },
    "rubric": {"criteria": []},
})


@pytest.mark.parametrize("probe, reached", [
    ("How did you handle it?", True),
    ("How would you handle it?", False),
    ("Imagine it happened again. How do you handle it?", False),  # the sentence before sets the scene
    ("Would you tell me about a time you had to handle it yourself?", True),  # still about the past
    ("Nice, sounds like you handle it well.", False),  # praise of her story asks nothing
    ("Sounds like it got tense. How did you handle it?", True),
    ("And what happened next?", True),
    # "happens" and "happened" share a stem; the process after today is no story.
    ("Thanks. Just so you know what happens next, we'll email you by Friday.", False),
])
def test_a_beat_about_the_past_is_not_reached_by_a_hypothetical(probe, reached):
    turns = converse(["Tell me about a disagreement with a colleague.", probe], script=INTERVIEW)
    assert turns[0].info["beats"] == ["conflict"]
    assert (turns[1].info["beats"] == ["conflict_action"]) is reached, turns[1].info


STORIES = script_from_dict({
    "id": "interview-stories", "language": "en", "title": "Interview (two stories)",
    "characters": [{"id": "priya", "name": "Priya"}],
    "scripted": {
        "beats": [
            {"id": "conflict", "triggers": ["disagreement with a colleague"], "replies": ["Yes, once."]},
            {"id": "pressure", "triggers": ["under pressure"], "replies": ["Graduation week."]},
            {"id": "conflict_action", "past": True, "triggers": ["how did you handle it"],
             "requires": ["conflict"], "replies": ["I set up a trial of both systems."]},
        ],
        "fallbacks": [{"replies": ["Sorry, could you say that another way?"]}],
    },
    "rubric": {"criteria": [
        {"id": "stories", "title": "Stories", "check": {"kind": "beat_reached", "beats": ["conflict", "pressure"]}},
        {"id": "probing", "title": "Probed", "check": {"kind": "beat_reached", "beats": ["conflict_action"]}},
    ]},
})


def test_a_probe_follows_the_story_asked_last():
    assert STORIES.peers("conflict_action") == ("pressure",)
    # Asked after another story in the same message, "how did you handle it?" is about that story.
    turns = converse(["Tell me about a disagreement with a colleague.",
                      "Tell me about a time you were under pressure. How did you handle it?"], script=STORIES)
    assert turns[1].info["beats"] == ["pressure"], turns[1].info
    # Asked on its own, it probes the conflict.
    turns = converse(["Tell me about a disagreement with a colleague.", "How did you handle it?"], script=STORIES)
    assert turns[1].info["beats"] == ["conflict_action"], turns[1].info
