"""Full sessions over HTTP and over WebSocket for each shipped script (the starter pack).

A planner plays each script offline with the engine (same seed as the server) to
choose learner lines that walk through the beats; the conversation over the wire
must then match the offline one exactly, message for message.
"""

from __future__ import annotations

import importlib.resources
import json
from typing import Any

import pytest
from chat_support import User, assert_gapless, build_app
from roleplay_chat.engine import Turn, eligible, initial_state, play_turn
from starlette.testclient import TestClient

from roleplay_core import Script
from roleplay_core.catalog import load_pack_paths

SEED = 7
STARTER = importlib.resources.files("roleplay_chat") / "packs" / "starter"
SHIPPED = load_pack_paths([STARTER])
OFF_SCRIPT = "qwzx vbnm"


def plan(script: Script, max_turns: int = 30) -> tuple[list[str], list[Turn]]:
    """Greedy: say a trigger of the best eligible beat (new beats first, kind ones first, never unkind ones)."""
    character = script.character()
    state: dict[str, Any] = initial_state(script)
    lines: list[str] = []
    turns: list[Turn] = []
    order = {beat.id: n for n, beat in enumerate(script.scripted.beats)}
    for _ in range(max_turns):
        fired = set(state["fired"])
        candidates = sorted((b for b in script.scripted.beats if eligible(b, state) and b.mood_effect >= 0),
                            key=lambda b: (b.id in fired, -b.mood_effect, order[b.id]))
        chosen: tuple[str, Turn] | None = None
        for beat in candidates:
            for trigger in beat.triggers:
                turn = play_turn(script, character, trigger, state, seed=SEED)
                if turn.info["beats"] == [beat.id]:
                    chosen = (trigger, turn)
                    break
            if chosen:
                break
        if chosen is None:
            chosen = (OFF_SCRIPT, play_turn(script, character, OFF_SCRIPT, state, seed=SEED))
        lines.append(chosen[0])
        turns.append(chosen[1])
        state = json.loads(json.dumps(chosen[1].state))
        if chosen[1].ended:
            break
    return lines, turns


ENGLISH_KINDS = {"refund-angry-customer", "patient-history-chest-pain", "behavioural-job-interview",
                 "difficult-feedback-employee"}


def test_the_starter_pack_ships_four_kinds_and_translations():
    english = {sid for sid, script in SHIPPED.items() if script.language == "en"}
    assert ENGLISH_KINDS <= english, sorted(SHIPPED)
    # At least one script in a second language, in the same translation group as an English one.
    translations = [script for script in SHIPPED.values()
                    if script.language != "en" and script.translation_group in ENGLISH_KINDS
                    and SHIPPED[script.translation_group].translation_group == script.translation_group]
    assert translations, {sid: (s.language, s.translation_group) for sid, s in SHIPPED.items()}


@pytest.fixture(scope="module")
def shipped_client():
    app = build_app()
    with TestClient(app) as client:
        yield client


def _opening(script: Script) -> list[str]:
    character = script.character()
    return [character.opening_line] if character.speaks_first and character.opening_line.strip() else []


def _finish_and_check(user: User, session_id: str, script: Script, lines: list[str], turns: list[Turn]) -> None:
    if not turns[-1].ended:
        ended = user.post(f"/chat/sessions/{session_id}/end")
        assert ended.status_code == 200 and ended.json()["end_reason"] == "ended by the learner"
    session = user.session(session_id)
    assert session["status"] == "ended"
    if turns[-1].ended:
        assert session["end_reason"] == turns[-1].end_reason
    messages = session["messages"]
    assert_gapless(messages)
    expected = [("character", t) for t in _opening(script)]
    for line, turn in zip(lines, turns, strict=True):
        expected += [("learner", line), ("character", turn.text)]
    assert [(m["role"], m["text"]) for m in messages] == expected
    assert session["counts"] == {"messages": len(expected), "learner": len(lines),
                                 "character": len(expected) - len(lines), "voice": 0}
    assert user.post(f"/chat/sessions/{session_id}/messages", json={"text": "hello?"}).status_code == 409
    jsonl = user.get(f"/chat/sessions/{session_id}/export", params={"format": "jsonl"}).text.splitlines()
    assert [json.loads(row)["text"] for row in jsonl[1:]] == [text for _, text in expected]
    kernel = user.client.app.state.kernel
    transcript = user.client.portal.call(
        lambda: kernel.transcript(session_id))
    assert transcript.script == script and transcript.status == "ended"
    replies = [m for m in transcript.messages if m.role == "character"][len(_opening(script)):]
    assert [list(m.beats) for m in replies] == [t.info["beats"] for t in turns]


@pytest.mark.parametrize("script_id", sorted(SHIPPED))
def test_full_session_over_http(shipped_client, script_id):
    script = SHIPPED[script_id]
    lines, turns = plan(script)
    user = User(shipped_client, f"http-{script_id}")
    created = user.start(script_id)
    assert [m["text"] for m in created["messages"]] == _opening(script)
    for line, turn in zip(lines, turns, strict=True):
        body = user.say(created["id"], line)
        assert body["message"]["text"] == line and body["message"]["role"] == "learner"
        assert body["reply"]["text"] == turn.text and body["reply"]["character_id"] == turn.character_id
        assert body["reply"]["seq"] == body["message"]["seq"] + 1
        assert body["session"]["status"] == ("ended" if turn.ended else "active")
    _finish_and_check(user, created["id"], script, lines, turns)


@pytest.mark.parametrize("script_id", sorted(SHIPPED))
def test_full_session_over_websocket(shipped_client, script_id):
    script = SHIPPED[script_id]
    lines, turns = plan(script)
    user = User(shipped_client, f"ws-{script_id}")
    created = user.start(script_id)
    with shipped_client.websocket_connect(f"/chat/sessions/{created['id']}/ws") as socket:
        socket.send_json({"type": "auth", "token": user.token})
        assert socket.receive_json()["type"] == "authenticated"
        ready = socket.receive_json()
        assert ready["type"] == "ready" and ready["session"]["last_seq"] == len(_opening(script))
        for line, turn in zip(lines, turns, strict=True):
            socket.send_json({"type": "message", "text": line})
            learner = socket.receive_json()
            assert learner["type"] == "message" and learner["message"]["text"] == line
            deltas = []
            while (frame := socket.receive_json())["type"] == "delta":
                deltas.append(frame["text"])
            assert frame["type"] == "message" and frame["final"] is True
            assert frame["message"]["seq"] == learner["message"]["seq"] + 1
            assert frame["message"]["text"] == turn.text == "".join(deltas)
            if turn.ended:
                ended = socket.receive_json()
                assert ended["type"] == "ended" and ended["session"]["end_reason"] == turn.end_reason
    _finish_and_check(user, created["id"], script, lines, turns)


@pytest.mark.parametrize("script_id", sorted(SHIPPED))
def test_planner_reaches_an_ending_in_every_shipped_script(script_id):
    # Every shipped script must be finishable by a cooperative learner within the planner's turns.
    last = plan(SHIPPED[script_id])[1][-1]
    assert last.ended and last.end_reason, (script_id, last.info)


# -- Chinese, typed the way a learner types it ---------------------------------------------
# The planner above says trigger phrases verbatim. These are whole sentences, unspaced, with
# full-width punctuation and the variant characters Taiwan uses (妳 for 你, 甚麼 for 什麼); the
# session is started from the English scenario id with a language, as a learner picking
# 中文 in a scenario list would.

ZH = "refund-angry-customer-zh-hant"
ZH_GOOD = [
    ("妳好，很抱歉讓您久等了，跑兩趟一定很煩。", "acknowledge"),
    ("請問咖啡機發生了甚麼事？", "ask_details"),
    ("您說這已經是第二次來了？", "first_visit"),
    ("可以給我看一下發票嗎？", "ask_receipt"),
    ("請問怎麼稱呼您？", "ask_name"),
    ("林小姐，因為還在三十天內，我可以幫您全額退款。", "offer_refund"),
    ("錢會在七到十四個工作天內刷退到您的信用卡。", "refund_timeline"),
    ("另外我再送您一張折價券，下次購物可以用。", "goodwill"),
    ("請問還有什麼需要幫忙的嗎？", "closing"),
]
ZH_DETOUR = [  # a replacement offered too early, a repair, then the refund: Dana's mood decides
    ("歡迎光臨，請問需要什麼協助？", "greet"),
    ("那我幫您換一台新的，好嗎？", "offer_replacement_angry"),
    ("真的很不好意思，讓您白跑一趟。", "acknowledge"),
    ("可以跟我說說咖啡機是怎麼壞的嗎？", "ask_details"),
    ("我們可以幫您送修，有一年保固。", "offer_repair"),
    ("您是哪天買的？", "ask_receipt"),
    ("我直接幫您辦理退費。", "offer_refund"),
    ("大概五個工作天就會退回信用卡。", "refund_timeline"),
    ("謝謝您的耐心，祝您有美好的一天。", "closing"),
]
# Blamed on top of "calm down", she warns once; the policy line after the warning sends her out.
ZH_RUDE = [("請您冷靜一點。", "calm_down"), ("您是不是沒有照說明書操作？", "blamed"), ("這是公司規定，我也沒辦法。", "calm_down")]


def _offline(script: Script, lines: list[str]) -> list[Turn]:
    turns, state = [], None
    for line in lines:
        turn = play_turn(script, script.character(), line, state, seed=SEED)
        turns.append(turn)
        state = json.loads(json.dumps(turn.state))
    return turns


@pytest.mark.parametrize(("conversation", "ending"), [
    (ZH_GOOD, "林小姐接受了退款，滿意地離開。"), (ZH_DETOUR, "林小姐接受了退款，滿意地離開。"),
    (ZH_RUDE, "林小姐氣得走掉了。")], ids=["good", "detour", "rude"])
def test_a_chinese_conversation_over_http(shipped_client, conversation, ending):
    script = SHIPPED[ZH]
    lines = [line for line, _ in conversation]
    turns = _offline(script, lines)
    # Each line reaches its beat; a line that also greets ("妳好，很抱歉…") is answered for both.
    assert [t.info["beats"][-1] for t in turns] == [beat for _, beat in conversation]
    assert all(len(t.info["beats"]) <= 2 for t in turns)
    assert turns[-1].ended and turns[-1].end_reason == ending and all(not t.ended for t in turns[:-1])
    user = User(shipped_client, f"http-zh-{len(lines)}-{ending}")
    created = user.start("refund-angry-customer", language="zh-Hant")
    assert (created["scenario_id"], created["language"]) == (ZH, "zh-Hant")
    assert [m["text"] for m in created["messages"]] == [script.character().opening_line]
    for line, turn in zip(lines, turns, strict=True):
        body = user.say(created["id"], line)
        assert body["message"]["text"] == line and body["reply"]["text"] == turn.text
    _finish_and_check(user, created["id"], script, lines, turns)


def test_a_chinese_conversation_over_websocket(shipped_client):
    script = SHIPPED[ZH]
    lines = [line for line, _ in ZH_GOOD]
    turns = _offline(script, lines)
    user = User(shipped_client, "ws-zh")
    created = user.start("refund-angry-customer", language="zh-hant")  # tags are case-insensitive
    assert created["scenario_id"] == ZH
    with shipped_client.websocket_connect(f"/chat/sessions/{created['id']}/ws") as socket:
        socket.send_json({"type": "auth", "token": user.token})
        assert socket.receive_json()["type"] == "authenticated"
        assert socket.receive_json()["type"] == "ready"
        for line, turn in zip(lines, turns, strict=True):
            socket.send_json({"type": "message", "text": line})
            assert socket.receive_json()["message"]["text"] == line
            deltas = []
            while (frame := socket.receive_json())["type"] == "delta":
                deltas.append(frame["text"])
            assert frame["type"] == "message" and frame["message"]["text"] == turn.text == "".join(deltas)
        ended = socket.receive_json()
        assert ended["type"] == "ended" and ended["session"]["end_reason"] == "林小姐接受了退款，滿意地離開。"
    _finish_and_check(user, created["id"], script, lines, turns)


def test_scenarios_and_sessions_pick_the_translation_by_language(shipped_client):
    user = User(shipped_client, "picker")
    for language in ("zh-Hant", "zh", "ZH-HANT"):
        listed = user.get("/chat/scenarios", params={"language": language}).json()["items"]
        assert [s["id"] for s in listed] == [ZH], language
        assert listed[0]["translation_group"] == "refund-angry-customer" and listed[0]["language"] == "zh-Hant"
    # Any member of the group leads to any other.
    assert user.start(ZH, language="en")["scenario_id"] == "refund-angry-customer"
    assert user.start("refund-angry-customer-es", language="zh-Hant")["scenario_id"] == ZH
    assert user.start(ZH)["language"] == "zh-Hant"
    missing = user.post("/chat/sessions", json={"scenario_id": "refund-angry-customer", "language": "ja"})
    assert missing.status_code == 422 and missing.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in missing.json()["errors"]] == ["language"]
    assert "zh-Hant" in missing.json()["errors"][0]["message"]


def test_saying_it_is_not_her_fault_is_not_blaming_her():
    # Matching knows no negation, so the Chinese blame phrases are ones nobody says in denial.
    script = SHIPPED[ZH]
    turn = play_turn(script, script.character(), "林小姐，這不是您的錯，也不是您弄壞的，真的很抱歉。", seed=SEED)
    assert turn.info["beats"] == ["acknowledge"] and turn.state["mood"] == -1


#: Other ways a learner says each thing; the engine must pick the beat meant, from the start of the
#: scene (or once the refund is agreed, for the beats that need it).
ZH_PHRASINGS = {
    "acknowledge": ["對不起，讓您這麼不愉快。", "真的很抱歉造成您的困擾。", "我能理解您現在的心情。",
                    "辛苦您了，還讓您跑兩趟。", "換作是我也會很生氣。", "我明白您的感受"],
    "greet": ["你好，歡迎光臨", "午安，請問需要什麼服務？", "嗨，您好，我是客服人員小陳。"],
    "ask_name": ["請問您貴姓？", "可以告訴我您的名字嗎？", "方便留一下您的大名嗎？"],
    "ask_details": ["可以描述一下咖啡機的狀況嗎？", "請問是什麼問題呢？", "請您說說看是什麼情況",
                    "咖啡機出了什麼問題？", "您遇到了什麼狀況？"],
    "first_visit": ["您之前來過一次了嗎？", "您有打過客服專線嗎？", "這是您第二次來嗎？"],
    "ask_receipt": ["可以給我看一下收據嗎？", "您有訂單編號嗎？", "請問是什麼時候買的？", "請問有電子發票或載具嗎？"],
    "calm_down": ["您先冷靜一下", "請您不要生氣", "這不是我的問題"],
    "blamed": ["您是不是用錯了方法？", "應該是使用不當造成的", "這看起來是人為損壞"],
    "offer_repair": ["在保固期內可以免費維修", "我請技師幫您檢查", "可以送回原廠檢測"],
    "offer_replacement_angry": ["可以幫您換貨", "要不要換成新的？"],
    "refund_before_receipt": ["我們可以全額退費", "我直接退錢給您"],
    "goodwill": ["下次購物可以打九折", "再給您兩百元購物金當作補償"],
    "manager": ["需要我找店長嗎？", "我幫您找經理"],
    "refund_timeline": ["大約七到十四個工作天會退回您的信用卡", "下期信用卡帳單就會看到", "大概需要三到五天"],
    "closing": ["還有其他需要幫忙的地方嗎？", "謝謝您的耐心等候", "祝您有美好的一天", "慢走，歡迎再來"],
}
AFTER_REFUND = {"v": 1, "mood": 1, "turns": 6, "fired": ["acknowledge", "ask_details", "ask_receipt", "offer_refund"],
                "used": {}}


@pytest.mark.parametrize("beat", sorted(ZH_PHRASINGS))
def test_chinese_phrasings_reach_the_beat_meant(beat):
    script = SHIPPED[ZH]
    state = AFTER_REFUND if beat in ("refund_timeline", "closing") else None
    said = {line: play_turn(script, script.character(), line, state, seed=SEED).info["beats"]
            for line in ZH_PHRASINGS[beat]}
    assert said == {line: [beat] for line in ZH_PHRASINGS[beat]}


def test_a_general_opening_question_unlocks_the_patient_history_over_http(shipped_client):
    # A new user opened with a broad question; the history beats never unlocked and the patient
    # answered textbook questions with a fallback. Now every step gets its answer.
    user = User(shipped_client, "http-patient-general-opening")
    session = user.start("patient-history-chest-pain")["id"]
    asked = [
        ("Can you tell me about the pain?", "presenting_complaint"),
        ("Where exactly do you feel it?", "site"),
        ("When did it first come on?", "onset"),
        ("Does it spread anywhere, like your arm or jaw?", "radiation"),
        ("Have you had any other health problems?", "past_history"),
        ("What medicines do you take?", "medications"),
    ]
    beats = {b.id: b for b in SHIPPED["patient-history-chest-pain"].scripted.beats}
    for line, beat in asked:
        reply = user.say(session, line)["reply"]["text"]
        assert any(variant in reply for variant in beats[beat].replies), (line, beat, reply)


def test_a_question_about_the_first_visit_is_not_answered_with_a_greeting_over_http(shipped_client):
    user = User(shipped_client, "http-first-visit")
    session = user.start("refund-angry-customer")["id"]
    reply = user.say(session, "Could you tell me what the staff said on your first visit, so I don't repeat the "
                              "same thing?")["reply"]["text"]
    beats = {b.id: b for b in SHIPPED["refund-angry-customer"].scripted.beats}
    assert not any(variant in reply for variant in beats["greet"].replies), reply
    assert any(variant in reply for variant in beats["first_visit"].replies), reply


def test_handing_over_to_her_questions_does_not_end_the_interview():
    # "That's everything from me" hands over to her questions; it says nothing of what happens next,
    # so the scene goes on, and next steps said plainly afterwards end it.
    script = SHIPPED["behavioural-job-interview"]
    stories = {"v": 1, "mood": 1, "turns": 8, "fired": ["welcome", "agenda", "teamwork", "conflict", "mistake",
                                                       "pressure"], "used": {}}
    handed = play_turn(script, script.character(), "That's everything from me. What questions do you have for me?",
                       stories, seed=SEED)
    assert handed.info["beats"] == ["invite_questions"] and not handed.ended, handed.info
    state = json.loads(json.dumps(handed.state))
    told = play_turn(script, script.character(), "Next steps: we decide by Wednesday and I'll email you either way.",
                     state, seed=SEED)
    assert "next_steps" in told.info["beats"] and told.ended, told.info
