"""Text matching: normalisation, synonyms, BM25 ranking and the threshold."""

from roleplay_chat.matching import THRESHOLD, Synonyms, TriggerIndex, analyse_query, stem, tokens


def test_tokens_fold_case_accents_punctuation_and_contractions():
    assert tokens("I WON'T pay, it's the CAFÉ’s fault!!") == ["i", "will", "not", "pay", "it", "the", "cafe", "fault"]
    assert tokens("Don't you're they'll we've I'd I'm") == [
        "do", "not", "you", "are", "they", "will", "we", "have", "i", "would", "i", "am"]
    assert tokens("¿Qué tal, señor?") == ["que", "tal", "senor"]


def test_stemmer_is_light():
    assert [stem(w) for w in ("refunds", "asking", "asked", "apologies", "glass", "bus", "is", "red")] == [
        "refund", "ask", "ask", "apology", "glass", "bus", "is", "red"]


def test_synonym_phrases_fold_and_expand_across_overlapping_groups():
    synonyms = Synonyms({"sorry": ["my apologies", "apologise"], "apology": ["sorry", "my apologies"],
                         "refund": ["money back", "reimburse"]})
    assert synonyms.fold(tokens("sorry about the money back")) == ["~sorry", "about", "the", "~refund"]
    expanded = analyse_query("My apologies, I'll reimburse you", synonyms)
    assert {"~sorry", "~apology", "~refund"} <= set(expanded)
    assert "will" not in expanded  # stopwords dropped from the query


def test_bm25_prefers_the_trigger_that_fits_best():
    synonyms = Synonyms({"refund": ["money back"]})
    index = TriggerIndex([("greet", "hello"), ("refund", "refund"), ("details", "what happened to the machine"),
                          ("other", "what time is it")], synonyms)
    ranked = index.rank("Hello! I can give you your money back")
    assert {m.key for m in ranked[:2]} == {"greet", "refund"} and all(m.score == 1.0 for m in ranked[:2])
    best = index.best("so what happened with the coffee machine?")
    assert best is not None and best.key == "details" and best.trigger == "what happened to the machine"
    assert index.best("what time is it now") .key == "other"


def test_threshold_and_allowed_keys():
    index = TriggerIndex([("details", "tell me what happened with the machine"), ("greet", "hello")], Synonyms({}))
    weak = index.rank("machine")
    assert weak and weak[0].score < THRESHOLD
    assert index.best("machine") is None
    assert index.best("the weather is nice") is None
    assert index.best("hello", allowed=["details"]) is None
    assert index.best("hello", allowed=["greet"]).key == "greet"


def test_a_trigger_of_only_stopwords_still_matches():
    index = TriggerIndex([("how", "how are you"), ("bye", "goodbye")], Synonyms({}))
    assert index.best("Hi, how are you?").key == "how"


def test_han_text_matches_without_spaces():
    assert tokens("你好，我想退款") == ["你好", "我想", "想退", "退款"]
    index = TriggerIndex([("refund", "退款"), ("greet", "你好")], Synonyms({"退款": ["退錢"]}))
    assert index.best("我想要退錢，可以嗎？").key == "refund"
    assert index.best("你好").key == "greet"
    assert index.best("天氣很好") is None


def test_chinese_variant_characters_match_the_usual_ones():
    # Taiwan writes both 甚麼 and 什麼; 妳 is "you" said to a woman; full-width marks are punctuation.
    assert tokens("妳好！請問發生甚麼事？") == tokens("你好!請問發生什麼事?") == [
        "你好", "請問", "問發", "發生", "生什", "什麼", "麼事"]
    assert tokens("臺北") == tokens("台北") and tokens("甚至") == ["甚至"]  # 甚 alone is another word
    index = TriggerIndex([("details", "發生什麼事"), ("greet", "你好")], Synonyms({}))
    assert index.best("發生甚麼事了").score == 1.0
    assert index.best("妳好").key == "greet"


def test_a_trigger_of_function_words_only_matches_as_the_whole_phrase():
    # "what can i do for you" keeps only "what" after stopwords: on its own it would match any question.
    index = TriggerIndex([("greet", "what can i do for you"), ("visit", "first visit")], Synonyms({}))
    assert index.best("Could you tell me what the staff said on your first visit?").key == "visit"
    assert index.best("what is that") is None and index.best("What?") is None
    assert index.best("Hi, what can I do for you today?").key == "greet"


def test_each_sentence_of_a_message_matches_on_its_own():
    index = TriggerIndex([("apology", "sorry"), ("details", "what happened"), ("refund", "refund")], Synonyms({}))
    found = index.matches("I'm so sorry. What happened? Blah.")
    assert {m.key: m.sentence for m in found} == {"apology": 0, "details": 1}
    assert all(m.score == 1.0 for m in found)
    # Where each was said: the order the learner said them, whatever the score order.
    assert sorted(found, key=lambda m: m.at)[0].key == "apology"
    assert [m.key for m in sorted(index.matches("what happened, sorry"), key=lambda m: m.at)] == [
        "details", "apology"]
    assert index.matches("la la la") == [] and index.matches("refund", allowed=["details"]) == []
