"""Open and closed questions, per language: prompts without a question mark, and one-fact openers."""

from __future__ import annotations

import pytest
from roleplay_evaluator.questions import CLOSED, OPEN, questions


@pytest.mark.parametrize(("language", "text", "kind"), [
    ("en", "Which nights does it wake you up?", CLOSED),
    ("en", "Walk me through what happened.", OPEN),
    ("en", "Describe the pain for me.", OPEN),
    ("en", "Tell me about your last job", OPEN),
    ("en", "Take me through the morning it started", OPEN),
    ("en", "Did you bring the receipt?", CLOSED),
    ("en", "Could you tell me what the staff said on your first visit?", OPEN),
    ("es", "¿Qué noches le despierta el dolor?", CLOSED),
    ("es", "¿Cuál prefiere, el reembolso o el cambio?", CLOSED),
    ("es", "Cuénteme qué pasó.", OPEN),
    ("es", "Descríbame el dolor.", OPEN),
    ("es", "¿Me puede contar qué pasó?", OPEN),
    ("es", "¿Qué le preocupa?", OPEN),
    ("es", "¿Tiene el recibo?", CLOSED),
    ("zh-Hant", "哪幾個晚上會痛醒？", CLOSED),
    ("zh-Hant", "請跟我說說發生了什麼事", OPEN),
    ("zh-Hant", "請您講一下當時的情況", OPEN),
    ("zh-Hant", "可以描述一下那個聲音嗎？", OPEN),
    ("zh-Hant", "發票有帶來嗎？", CLOSED),
    ("es", "¿Y la vez pasada qué le ofrecieron aquí?", OPEN),  # the accented word decides, wherever it is
    ("es", "¿Me cuenta cómo ha sido el problema?", OPEN),
    ("es", "¿Y eso a los cuántos días empezó?", CLOSED),
    ("es", "¿A qué hora empezó?", CLOSED),
    ("zh-Hant", "想麻煩您把機器的狀況從頭跟我說一遍", OPEN),
    ("zh-Hant", "那個可以跟我說一下就是咖啡機現在是什麼狀況", OPEN),
    # Cantonese as Hong Kong writes it, and Simplified characters typed into a Traditional scenario.
    ("en", "So whit's been happenin' wi' this pain?", OPEN),  # Scots spellings of the question words
    ("en", "Hoo are ye feelin' the noo?", OPEN),
    ("zh-Hant", "部機出咗咩問題？", OPEN),
    ("zh-Hant", "點解會咁㗎？", OPEN),
    ("zh-Hant", "可唔可以講吓發生咗咩事？", OPEN),
    ("zh-Hant", "係咪開唔到機？", CLOSED),
    ("zh-Hant", "你有冇帶單？", CLOSED),
    ("zh-Hant", "係邊度買㗎？", CLOSED),
    ("zh-Hant", "请问机器出了什么状况？", OPEN),
])
def test_kind(language, text, kind):
    assert [q.kind for q in questions(text, language)] == [kind]


def test_a_statement_is_no_question():
    assert questions("I will refund you today.", "en") == []
    assert questions("如同我剛剛說的，要先送原廠檢測。", "zh-Hant") == []  # 如同 is "as", not 同我 "(tell) me"
    assert questions("Le devuelvo el dinero hoy.", "es") == []


def test_run_on_speech_without_question_marks():
    text = "ok thanks so um what was your role in that specifically like what did you do yourself"
    found = questions(text, "en")
    assert [q.kind for q in found] == [OPEN]
    assert text[found[0].start:found[0].end].startswith("what was your role")
    speech = "great so um first of all can you tell me about a project where it was hard and does that make sense"
    assert [q.kind for q in questions(speech, "en")] == [OPEN, CLOSED]
    assert [q.kind for q in questions("bueno y cómo se sintió usted con eso", "es")] == [OPEN]
    # A statement that only contains a question word is no question.
    assert questions("I know how you feel and I will sort it out", "en") == []


@pytest.mark.parametrize(("language", "text", "asked"), [
    # Speech-to-text runs a question straight on from the clause before it, with no filler between.
    ("en", "and you said this is your second trip what happened when you came in the first time",
     ["what happened when you came in the first time"]),
    ("en", "right I see and then how did you handle it", ["how did you handle it"]),
    ("en", "Next one, tell me about a time you had a conflict.", ["tell me about a time you had a conflict"]),
    # ...but a question word that reports a question asks nothing.
    ("en", "I know what happened and that's how we do it here", []),
    ("en", "let me explain how it works", []),
    ("es", "y la primera vez que vino qué le dijeron", ["qué le dijeron"]),
    ("es", "Vale, y desde cuándo le pasa eso, cómo fue.", ["cómo fue"]),
    ("es", "no sé qué pasó pero a ver qué podemos hacer", []),
    ("es", "yo solo le explico cómo funcionan", []),
    # An exclamation is no question, though its qué has an accent.
    ("es", "Lo siento muchísimo, de verdad, qué drama más grande.", []),
    ("zh-Hant", "那 那您上次來的時候 我們同事是怎麼跟您說的", ["我們同事是怎麼跟您說的"]),
    ("zh-Hant", "呃 那你 你有沒有照說明書 就是 有沒有定期清洗 除鈣那些", ["你有沒有照說明書 就是 有沒有定期清洗"]),
    ("zh-Hant", "我可以幫妳送原廠檢測，看他們怎麼判定。", []),
    ("zh-Hant", "要多久我也不確定，您要什麼我都幫您處理。", []),
])
def test_questions_without_question_marks(language, text, asked):
    assert [text[q.start:q.end].rstrip(" .") for q in questions(text, language)] == asked


@pytest.mark.parametrize(("language", "text", "kinds"), [
    # An open question answered for the other person in the same breath is not open...
    ("en", "Tell me about a time you worked in a team. You enjoy teamwork, right?", [CLOSED, CLOSED]),
    ("en", "How do you handle pressure? I'm guessing you thrive on it, would that be fair?", [CLOSED, CLOSED]),
    ("en", "What happened with the machine? It just stopped, yeah?", [CLOSED, CLOSED]),
    ("es", "¿Qué pasó con la cafetera? Se apagó sola, ¿verdad?", [CLOSED, CLOSED]),
    ("zh-Hant", "發生了什麼事？是突然壞掉的對吧？", [CLOSED, CLOSED]),
    # ...but a check first, then an open question, leaves the open question open,
    ("en", "You drive buses, right? Tell me about a normal working day.", [CLOSED, OPEN]),
    # and a closed question without a tag answers nothing for them.
    ("en", "What happened with the machine? Did it stop suddenly?", [OPEN, CLOSED]),
    ("en", "What would help? Is that fair?", [OPEN, CLOSED]),
    # A question that opens by presuming its answer is leading too.
    ("en", "Tell me about pressure. And you'd say you handle pressure well?", [CLOSED, CLOSED]),
    ("es", "¿Cómo lleva la presión? ¿Y diría que la maneja bien?", [CLOSED, CLOSED]),
    ("es", "¿Qué le pasó a la cafetera? ¿Supongo que no la descalcificó?", [CLOSED, CLOSED]),
    ("zh-Hant", "你怎麼處理壓力？你應該很會處理壓力吧？", [CLOSED, CLOSED]),
    ("zh-Hant", "團隊合作的經驗呢？想必您很擅長？", [CLOSED, CLOSED]),
    # "Is it not turning on again?" presumes what happened.
    ("zh-Hant", "咖啡機怎麼了？是不是又不能開機了？", [CLOSED, CLOSED]),
    # An open question that only begins like one still asks.
    ("es", "¿Qué diría que aprendió de ese error?", [OPEN]),
    ("zh-Hant", "你覺得應該怎麼改善？", [OPEN]),
])
def test_an_open_question_answered_for_them_is_closed(language, text, kinds):
    assert [x.kind for x in questions(text, language)] == kinds


@pytest.mark.parametrize("text", [
    "Can you give me an example?",
    "Can you give me an actual example of a disagreement with someone?",
    "Could you think of a time when a plan fell apart?",
    "Like, give me an example.",
])
def test_asking_for_an_example_or_a_time_asks_for_a_story(text):
    assert [x.kind for x in questions(text, "en")] == [OPEN]
