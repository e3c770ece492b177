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
    # Variants cycle and fired beats are a set: only the turn counter's digits grow.
    assert max(len(json.dumps(t.state)) for t in turns) < 200


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
