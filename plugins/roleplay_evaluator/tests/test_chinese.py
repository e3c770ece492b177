"""Chinese: open and closed questions, unspaced text, and a whole zh-Hant practice scored end to end.

The end-to-end half plays the shipped Traditional Chinese refund scenario through chat's real
HTTP API (its offline character engine), typed as a Taiwanese learner types: no spaces,
full-width punctuation, 甚麼 for 什麼. Then it evaluates the session over HTTP.
"""

from __future__ import annotations

import asyncio

import pytest
from evaluator_support import requires_chat, transcript
from roleplay_evaluator import questions
from roleplay_evaluator.evaluate import evaluate
from starlette.testclient import TestClient

from roleplay_core import script_from_dict
from roleplay_core.testing import auth_headers, make_app, make_kernel
from roleplay_core.text import Pattern, sentences, word_count


@pytest.mark.parametrize(("sentence", "kind"), [
    # Open: what, how, why, which ones, and requests for a story however they are asked.
    ("請問咖啡機發生了什麼事？", "open"),
    ("林小姐，請問發生甚麼事了？", "open"),
    ("您的咖啡機怎麼了？", "open"),
    ("為何會壞掉?", "open"),
    ("您希望我們怎麼處理比較好？", "open"),
    ("哪些地方不對勁？", "open"),
    ("這幾天用起來怎麼樣？", "open"),  # 這幾天 is "these days", not "how many"
    ("您覺得呢？", "open"),
    ("可以跟我說說發生了什麼事嗎？", "open"),  # 嗎, but it asks for the story
    ("能不能請您描述一下那個聲音？", "open"),
    ("請告訴我當時的情況。", "open"),  # a prompt, no question mark needed
    ("好的，那請您先跟我說說情況。", "open"),
    ("你说说发生了什么事？", "open"),  # Simplified
    # Closed: yes/no (嗎, A-not-A, 是否) and single facts (when, where, how many, your name).
    ("請問發票有帶來嗎？", "closed"),
    ("您有帶發票嗎", "closed"),  # learners often leave out the question mark
    ("還有什麼需要幫忙的嗎？", "closed"),  # 什麼 + 嗎 is "anything", a yes/no question
    ("您是不是有照說明書操作？", "closed"),
    ("有沒有收據？", "closed"),
    ("是否有保固？", "closed"),
    ("您是哪天買的？", "closed"),
    ("您在哪裡買的？", "closed"),
    ("什麼時候開始的？", "closed"),
    ("一共多少錢？", "closed"),
    ("用了幾次？", "closed"),
    ("請問怎麼稱呼您？", "closed"),
    ("您貴姓？", "closed"),
    ("那換貨呢？", "closed"),
    ("你有没有带发票？", "closed"),
    # Not questions.
    ("對不起。", None),
    ("我會告訴我們主管。", None),  # 告訴我們 is "tell us", and it is not a request here
    ("您剛才的描述很清楚。", None),
    ("我不知道怎麼了", None),
])
def test_chinese_open_and_closed_questions(sentence, kind):
    assert questions.classify(sentence, "zh-Hant") == kind
    assert questions.rules_for("zh-Hant").supported and questions.rules_for("zh-Hans").supported


def test_chinese_sentences_end_at_full_width_marks_and_keep_their_spans():
    text = "林小姐，很抱歉。請問發生了什麼事？發票有帶嗎？好的！"
    assert [text[a:b] for a, b in sentences(text)] == ["林小姐，很抱歉。", "請問發生了什麼事？", "發票有帶嗎？", "好的！"]
    found = questions.questions(text, "zh-Hant")
    assert [(text[q.start:q.end], q.kind) for q in found] == [("請問發生了什麼事？", "open"), ("發票有帶嗎？", "closed")]
    # Full-width question marks count in languages without rules too (lower confidence there).
    assert questions.classify("何がありましたか？", "ja") == "closed"


def test_variant_characters_match_but_quotes_stay_verbatim():
    text = "妳好，請問發生甚麼事了？"
    span = Pattern.parse("發生什麼事").search(text)
    assert span is not None and text[slice(*span)] == "發生甚麼事"
    assert text[slice(*Pattern.parse("你好").search(text))] == "妳好"


def test_each_han_character_counts_as_a_word():
    assert word_count("很抱歉讓您久等了。") == 8
    assert word_count("訂單編號 48213，刷卡") == 7


def _model_only(good_looks_like: str):
    return script_from_dict({
        "id": "zh-tone", "language": "zh-Hant", "title": "語氣",
        "characters": [{"id": "dana", "name": "林黛娜"}],
        "rubric": {"criteria": [{"id": "tone", "title": "語氣", "check": {
            "kind": "model", "good_looks_like": good_looks_like}}]},
    })


def test_a_model_check_in_chinese_without_a_model_is_not_scored_and_says_so_in_chinese():
    script = _model_only("稱呼顧客的姓氏，用簡單清楚的話說明下一步和需要多久，最後確認還有沒有其他需要。")
    line = "林小姐，我跟您說明一下下一步：退款需要七個工作天。請問還有沒有其他需要？"
    report = asyncio.run(evaluate(None, transcript(script, [("l", line), ("c", "好。")])))
    tone = report.criteria[0]
    assert tone.score is None and tone.method == "not-scored" and not tone.evidence
    assert tone.justification.startswith("這一項只有語言模型能評分")
    assert report.notes[0] == "這次沒有使用語言模型：每一項都由內建規則檢查。"
    assert any("未計入總分" in note and "語氣" in note for note in report.notes)


# -- end to end through chat's HTTP API ------------------------------------------------

GOOD = [
    "您好，真的很抱歉讓您久等了。",
    "可以跟我說說咖啡機發生了甚麼事嗎？",
    "上次來的時候，店員是怎麼跟您說的？",
    "請問發票有帶來嗎？",
    "請問怎麼稱呼您？",
    "林小姐，我了解您的心情。因為還在三十天內，我現在就幫您全額退款。",
    "退款會在七到十四個工作天內退回您的信用卡，我等一下印一張退款單給您。",
    "請問還有什麼需要幫忙的嗎？",
]
POOR = ["是嗎？", "請您冷靜一點。", "您是不是沒有照說明書操作？", "這是公司規定，我也沒辦法。"]  # warned once, then out


@pytest.fixture(scope="module")
def played():
    """Both conversations played and evaluated over HTTP: {name: (report, session)}."""
    app = make_app({"evaluator.inline_wait": 10})
    out = {}
    with TestClient(app) as client:
        headers = auth_headers(app, "mei")
        for name, lines in (("good", GOOD), ("poor", POOR)):
            created = client.post("/chat/sessions", headers=headers,
                                  json={"scenario_id": "refund-angry-customer", "language": "zh-Hant"})
            assert created.status_code == 201, created.text
            session_id = created.json()["id"]
            for line in lines:
                sent = client.post(f"/chat/sessions/{session_id}/messages", json={"text": line}, headers=headers)
                assert sent.status_code == 201, sent.text
            session = client.get(f"/chat/sessions/{session_id}", headers=headers).json()
            assert session["status"] == "ended"  # both scenes reach a scripted ending
            response = client.post("/evaluations", json={"session_id": session_id}, headers=headers)
            assert response.status_code == 201, response.text
            out[name] = (response.json()["report"], session)
    return out


def _criteria(report):
    return {c["criterion_id"]: c for c in report["criteria"]}


@requires_chat
def test_a_good_chinese_practice_passes_with_verbatim_quotes(played):
    report, session = played["good"]
    assert session["end_reason"] == "林小姐接受了退款，滿意地離開。"
    assert report["language"] == "zh-Hant" and report["passed"] and report["overall_score"] >= 80
    c = _criteria(report)
    assert {k: c[k]["score"] for k in ("empathy", "gathered_facts", "resolution", "no_blame", "open_questions")} == {
        "empathy": 100, "gathered_facts": 100, "resolution": 100, "no_blame": 100, "open_questions": 100}
    assert [q["quote"] for q in c["open_questions"]["evidence"]] == [
        "可以跟我說說咖啡機發生了甚麼事嗎？", "上次來的時候，店員是怎麼跟您說的？"]
    assert [q["quote"] for q in c["empathy"]["evidence"]][0] == "您好，真的很抱歉讓您久等了。"
    assert [q["quote"] for q in c["resolution"]["evidence"]] == ["因為還在三十天內，我現在就幫您全額退款。"]
    # A model criterion: without a model, the rules the author named for it stand in, and say so.
    assert c["professional_tone"]["method"] == "rules" and c["professional_tone"]["judged_how"].startswith(
        "沒有設定語言模型，改用情境作者指定的規則")
    stats = report["statistics"]
    assert (stats["open_questions"], stats["closed_questions"]) == (2, 3)
    assert stats["learner_words"] == sum(len(line) for line in GOOD) - sum(
        line.count(mark) for line in GOOD for mark in "，。？：")
    assert not any("told apart roughly" in note for note in report["notes"])
    texts = {m["seq"]: m["text"] for m in session["messages"]}
    for criterion in report["criteria"]:
        for quote in criterion["evidence"]:
            assert quote["quote"] in texts[quote["seq"]], (criterion["criterion_id"], quote)


@requires_chat
def test_a_poor_chinese_practice_fails_and_names_what_went_wrong(played):
    report, session = played["poor"]
    good, _ = played["good"]
    assert session["end_reason"] == "林小姐氣得走掉了。"
    assert not report["passed"] and report["overall_score"] < 20 < good["overall_score"] - 60
    c = _criteria(report)
    assert c["no_blame"]["score"] == 0
    assert [q["quote"] for q in c["no_blame"]["evidence"]] == ["請您冷靜一點。", "您是不是沒有照說明書操作？",
                                                              "這是公司規定，我也沒辦法。"]
    assert "冷靜" in c["no_blame"]["justification"] and "沒有照說明書" in c["no_blame"]["justification"]
    assert c["open_questions"]["score"] == 0 and c["open_questions"]["justification"] == (
        "您問了 0 個開放式問題（需要 2 個）和 2 個封閉式問題。")
    # The author's Chinese "say this instead" is what the learner sees.
    assert c["empathy"]["suggestion"] == "林小姐，真的很抱歉。讓您跑了兩趟，我完全可以理解您的心情。"
    texts = {m["seq"]: m["text"] for m in session["messages"]}
    for criterion in report["criteria"]:
        for quote in criterion["evidence"]:
            assert quote["quote"] in texts[quote["seq"]], (criterion["criterion_id"], quote)


def _shipped(script_id: str):
    async def load():
        kernel = make_kernel()
        await kernel.open()
        try:
            return (await kernel.catalog.get(script_id)).script
        finally:
            await kernel.stop()

    return asyncio.run(load())


@requires_chat
def test_without_beat_records_the_chinese_triggers_are_found_in_the_learners_lines():
    # A language model played Dana, so no beats were recorded: the evaluator looks for triggers.
    script = _shipped("refund-angry-customer-zh-hant")
    turns = [turn for line in GOOD for turn in (("l", line), ("c", "嗯。"))]
    report = asyncio.run(evaluate(None, transcript(script, turns)))
    c = {r.criterion_id: r for r in report.criteria}
    assert (c["gathered_facts"].score, c["resolution"].score) == (100, 100)
    assert c["gathered_facts"].confidence < 1.0  # from the learner's words, not the engine's records
    assert [q.quote for q in c["gathered_facts"].evidence] == ["可以跟我說說咖啡機發生了甚麼事嗎？", "請問發票有帶來嗎？"]
    assert report.passed
