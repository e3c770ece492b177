"""A character that listens, end to end over HTTP: two intents in one message, and a nudge.

The scene is written here, as a script pack in a temporary folder that a test plugin
registers, so the test does not depend on the shipped packs' wording.
"""

from __future__ import annotations

import json

import pytest
from chat_support import User, assert_gapless, build_app
from starlette.testclient import TestClient

from roleplay_core import hookimpl

SCENE = {
    "id": "test-listening",
    "title": "Test: a customer who listens",
    "characters": [{"id": "dana", "name": "Dana", "speaks_first": True,
                    "opening_line": "My coffee machine broke. Again."}],
    "scripted": {
        "initial_mood": -2,
        "synonyms": {"apology": ["sorry", "apologise", "my apologies"]},
        "beats": [
            {"id": "greet", "greeting": True, "triggers": ["hello", "what can i do for you"],
             "replies": ["Hi. It's about my machine."]},
            {"id": "apology", "triggers": ["apology"], "mood_effect": 1, "replies": ["Thank you for saying that."]},
            {"id": "ask_details", "triggers": ["what happened", "what is wrong with the machine"],
             "replies": ["It stopped heating after a week."],
             "nudge": "Don't you even want to know what happened to it?"},
            {"id": "refund", "triggers": ["refund", "money back"], "requires": ["ask_details"], "mood_effect": 2,
             "replies": ["A refund would be fair."], "nudge": "So what are you going to do about it?"},
        ],
        "fallbacks": [{"replies": ["Sorry?", "I don't follow.", "Can we stick to my machine?",
                                   "What does that have to do with anything?", "Hm."]}],
        "end_conditions": [{"kind": "beat_reached", "beat": "refund", "reason": "Dana got her refund."}],
    },
}


class ScenePack:
    def __init__(self, path):
        self.path = path

    @hookimpl
    def register_script_packs(self):
        return [self.path]


@pytest.fixture
def listener(tmp_path):
    path = tmp_path / "listening.json"
    path.write_text(json.dumps(SCENE), encoding="utf-8")
    with TestClient(build_app(plugins=[ScenePack(path)])) as client:
        yield User(client, "listener")


def test_two_intents_get_both_beats_and_two_off_script_messages_get_a_nudge(listener):
    session = listener.start("test-listening")
    sid = session["id"]
    both = listener.say(sid, "I'm so sorry about all this. What happened to your machine?")
    assert both["reply"]["text"] == "Thank you for saying that. It stopped heating after a week."
    first = listener.say(sid, "Nice weather today.")["reply"]["text"]
    second = listener.say(sid, "Do you like football?")["reply"]["text"]
    nudge = listener.say(sid, "My cat is called Pixel.")["reply"]["text"]
    # Two fallbacks, different ones; then instead of a third, a hint toward the refund (ask_details fired).
    assert first != second and {first, second} <= set(SCENE["scripted"]["fallbacks"][0]["replies"])
    assert nudge == "So what are you going to do about it?"
    done = listener.say(sid, "I can give you your money back.")
    assert done["reply"]["text"] == "A refund would be fair." and done["session"]["status"] == "ended"

    messages = listener.session(sid)["messages"]
    assert_gapless(messages)
    assert [m["role"] for m in messages] == ["character"] + ["learner", "character"] * 5
    kernel = listener.client.app.state.kernel
    transcript = listener.client.portal.call(lambda: kernel.transcript(sid))
    replies = [m for m in transcript.messages if m.role == "character"][1:]  # after the opening line
    # Both beats of the two-intent message are recorded with its reply; the nudge fires none.
    assert [m.beats for m in replies] == [("apology", "ask_details"), (), (), (), ("refund",)]
    assert transcript.status == "ended" and transcript.end_reason == "Dana got her refund."


def test_the_greeting_answers_only_the_first_message_over_http(listener):
    sid = listener.start("test-listening")["id"]
    assert listener.say(sid, "Hello!")["reply"]["text"] == "Hi. It's about my machine."
    again = listener.say(sid, "Hello, what can I do for you?")["reply"]["text"]
    assert again != "Hi. It's about my machine." and again in SCENE["scripted"]["fallbacks"][0]["replies"]
    late = listener.start("test-listening")["id"]
    asked = listener.say(late, "Could you tell me what the staff said on your first visit, so I don't repeat it?")
    assert asked["reply"]["text"] != "Hi. It's about my machine."
