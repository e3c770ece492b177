"""Trigger matching: the shared tokens and concepts of roleplay_core.text, BM25 ranking, the threshold.

Test home of ``roleplay_chat.text``.
"""

from roleplay_chat import matching
from roleplay_chat.matching import THRESHOLD, TriggerIndex, analyse_query, analyse_trigger

from roleplay_core import text
from roleplay_core.text import Lexicon


def lexicon(concepts=None, language="en"):
    return Lexicon(concepts or {}, language, builtin=False)


def test_words_come_from_the_one_shared_module():
    # One tokeniser and stemmer for chat, the evaluator and lint: chat keeps none of its own.
    assert matching.tokens is text.tokens and matching.content is text.content
    for own in ("stem", "fold", "STOPWORDS", "CJK", "Synonyms", "sentences_of", "_CONTRACTIONS"):
        assert not hasattr(matching, own) or getattr(matching, own) is getattr(text, own, None), own
    index = TriggerIndex([("sorry", "my apologies"), ("ask", "asked about refunds")], lexicon())
    assert index.best("Apology from me").key == "sorry"  # "apologies" and "apology": one stem
    assert index.best("she is asking about a refund").key == "ask"


def test_a_trigger_naming_a_concept_stands_for_all_its_phrasings():
    words = lexicon({"refund": ["money back", "reimburs*", "put ... back on ... card"]})
    assert analyse_trigger("refund", words) == ["~refund"]
    assert analyse_trigger("a refund today", words) == ["~refund", "today"]
    index = TriggerIndex([("refund", "refund"), ("greet", "hello")], words)
    for said in ("You'll get your money back", "We will reimburse you", "I can put the $349 back on your card"):
        assert index.best(said).key == "refund", said


def test_a_concept_said_under_a_negation_does_not_match():
    words = lexicon({"refund": ["money back"]})
    assert "~refund" not in analyse_query("I can't give you your money back", words)
    index = TriggerIndex([("refund", "refund")], words)
    assert index.best("I can't give you your money back") is None
    assert index.best("No, I will give you your money back.").key == "refund"


def test_bm25_prefers_the_trigger_that_fits_best():
    index = TriggerIndex([("greet", "hello"), ("refund", "refund"), ("details", "what happened to the machine"),
                          ("other", "what time is it")], lexicon({"refund": ["money back"]}))
    ranked = index.rank("Hello! I can give you your money back")
    assert {m.key for m in ranked[:2]} == {"greet", "refund"} and all(m.score == 1.0 for m in ranked[:2])
    best = index.best("so what happened with the coffee machine?")
    assert best is not None and best.key == "details" and best.trigger == "what happened to the machine"
    assert index.best("what time is it now").key == "other"


def test_threshold_and_allowed_keys():
    index = TriggerIndex([("details", "tell me what happened with the machine"), ("greet", "hello")], lexicon())
    weak = index.rank("machine")
    assert weak and weak[0].score < THRESHOLD
    assert index.best("machine") is None
    assert index.best("the weather is nice") is None
    assert index.best("hello", allowed=["details"]) is None
    assert index.best("hello", allowed=["greet"]).key == "greet"


def test_a_trigger_of_function_words_only_matches_as_the_whole_phrase():
    # "what can i do for you" keeps only "what" after stopwords: on its own it would match any question.
    index = TriggerIndex([("greet", "what can i do for you"), ("visit", "first visit"), ("how", "how are you")],
                         lexicon())
    assert index.best("Could you tell me what the staff said on your first visit?").key == "visit"
    assert index.best("what is that") is None and index.best("What?") is None
    assert index.best("Hi, what can I do for you today?").key == "greet"
    assert index.best("Hi, how are you?").key == "how" and index.best("how much is it") is None


def test_triggers_with_gaps_and_prefixes_match_whole():
    index = TriggerIndex([("refund", "put ... back on ... card"), ("money", "reimburs*")], lexicon())
    assert index.best("I can put the full amount back on your card").key == "refund"
    assert index.best("put it down. Back on the card later") is None  # a gap never crosses a sentence
    assert index.best("We will reimburse you").key == "money"
    assert index.best("We won't reimburse you") is None  # negated


def test_each_sentence_of_a_message_matches_on_its_own():
    index = TriggerIndex([("apology", "sorry"), ("details", "what happened"), ("refund", "refund")], lexicon())
    found = index.matches("I'm so sorry. What happened? Blah.")
    assert {m.key: m.sentence for m in found} == {"apology": 0, "details": 1}
    assert all(m.score == 1.0 for m in found)
    # Where each was said: the order the learner said them, whatever the score order.
    assert [m.key for m in sorted(found, key=lambda m: m.at)] == ["apology", "details"]
    same = sorted(index.matches("what happened, sorry"), key=lambda m: m.at)
    assert [m.key for m in same] == ["details", "apology"] and same[0].apart(same[1])
    assert index.matches("la la la") == [] and index.matches("refund", allowed=["details"]) == []


def test_two_triggers_on_the_same_words_are_not_apart():
    words = lexicon({"ask": ["tell me what"]})
    index = TriggerIndex([("visit", "what did the staff tell you"), ("details", "ask")], words)
    found = {m.key: m for m in index.matches("Could you tell me what the staff said?")}
    assert set(found) == {"visit", "details"} and not found["visit"].apart(found["details"])


def test_han_text_matches_without_spaces():
    index = TriggerIndex([("refund", "退款"), ("greet", "你好")], lexicon({"退款": ["退錢"]}, "zh-Hant"))
    assert index.best("我想要退錢，可以嗎？").key == "refund"
    assert index.best("你好").key == "greet"
    assert index.best("天氣很好") is None


def test_chinese_variant_characters_match_the_usual_ones():
    # Taiwan writes both 甚麼 and 什麼; 妳 is "you" said to a woman; full-width marks end sentences.
    index = TriggerIndex([("details", "發生什麼事"), ("greet", "你好")], lexicon({}, "zh-Hant"))
    assert index.best("發生甚麼事了").score == 1.0 and index.best("發生甚麼事了").key == "details"
    assert {m.key: m.sentence for m in index.matches("妳好！請問發生甚麼事？")} == {"greet": 0, "details": 1}


def test_a_plain_word_said_under_a_negation_does_not_match():
    # A trigger that names no concept is matched on its words; a word under a negation is not said.
    index = TriggerIndex([("apprentice", "apprentice"), ("greet", "hello")], lexicon())
    assert index.matches("I won't ask about your apprentice today.") == []
    assert "!apprentic" in analyse_query("I won't ask about your apprentice", lexicon())
    assert index.best("Tell me about your apprentice.").key == "apprentice"
    # The negation reaches only its own clause, and a question still asks about what it names.
    assert index.best("Not now, but tell me about the apprentice.").key == "apprentice"
    assert index.best("Didn't your apprentice help you?").key == "apprentice"
    assert index.best("¿No le ayudó su apprentice?").key == "apprentice"


def test_a_trigger_with_a_negation_matches_only_the_negation():
    index = TriggerIndex([("no_receipt", "no receipt"), ("receipt", "here is the receipt")], lexicon())
    terms = analyse_trigger("no receipt", lexicon())
    assert "!receipt" in terms and "receipt" not in terms
    assert index.best("I'm afraid I have no receipt.").key == "no_receipt"
    assert index.best("Here is the receipt.").key == "receipt"
    assert all(m.key != "no_receipt" for m in index.matches("Here is the receipt."))


def test_an_index_of_concepts_only_does_not_read_words():
    # Every shipped script triggers its beats on concepts: a message's plain words (and their
    # negations, dear in Chinese) could match nothing there, so they are not read at all.
    words = lexicon({"refund": ["money back"]})
    concepts_only = TriggerIndex([("refund", "refund")], words)
    assert concepts_only.words is False
    assert TriggerIndex([("refund", "refund"), ("greet", "hello")], words).words is True
    assert analyse_query("Hello, you'll get your money back", words, words=False) == {"~refund": [(23, 33)]}
    assert concepts_only.best("Hello, you'll get your money back").key == "refund"
    assert concepts_only.best("I can't give you your money back") is None
