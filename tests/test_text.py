"""roleplay_core.text: the one tokeniser, stemmer and concept matcher chat, evaluator and lint share."""

from __future__ import annotations

import pytest

from roleplay_core.text import (
    Lexicon,
    Pattern,
    builtin_lexicon,
    fold_han,
    hypothetical,
    judged,
    narrated_spans,
    norms,
    only_function_words,
    sentence_around,
    sentences,
    stem,
    tokens,
)

LEXICON = Lexicon(
    {
        "refund": ["money back", "put ... back on ... card", "reimburs*"],
        "apology": ["sorry", "apologi*", "my apologies"],
        "blame": ["your fault", "you broke it"],
        "dismissive": ["nothing i can do", "calm down"],
    },
    "en",
    builtin=False,
)


def said(text: str) -> list[str]:
    return LEXICON.concepts_in(text)


def test_stem_is_one_function():
    assert stem("apologies") == "apology"
    assert stem("refunded") == stem("refunds") == stem("refunding") == "refund"
    assert stem("devoluciones") == "devolucion"
    assert stem("bus") == "bus" and stem("process") == "process"
    # A final silent e: singular and plural, present and past meet; short words keep theirs.
    assert stem("outcome") == stem("outcomes") and stem("deadline") == stem("deadlines")
    assert stem("cliente") == stem("clientes") and stem("apologise") == stem("apologised")
    assert stem("made") != stem("mad")
    assert Pattern.parse("deadline*").search("two deadlines slipped") is not None


def test_tokens_keep_spans_and_expand_contractions():
    text = "Don\u2019t worry, Señora!"
    toks = tokens(text)
    assert [t.norm for t in toks] == ["do", "not", "worry", "senora"]
    assert {text[t.start:t.end] for t in toks[:2]} == {"Don\u2019t"}
    assert text[toks[3].start:toks[3].end] == "Señora"


def test_a_dropped_g_is_read_as_the_word_but_a_quoted_word_stays_itself():
    text = "Your money's comin' back, I'm doin' it now. The word 'pain', said 'again'."
    assert norms(text) == norms("Your money's coming back, I'm doing it now. The word 'pain', said 'again'.")
    assert "pain" in norms(text) and "again" in norms(text)
    assert text[tokens(text)[2].start:tokens(text)[2].end] == "comin"  # the span is what was typed


def test_han_runs_become_pairs_with_spans():
    text = "我想退款。"
    assert [t.norm for t in tokens(text)] == ["我想", "想退", "退款"]
    assert norms("甚麼") == norms("什麼")


@pytest.mark.parametrize("text", [
    "I can put the full $349 back on your card right now",
    "we'll reimburse you today",
    "You'll get your money back.",
])
def test_paraphrases_of_a_refund_match(text):
    assert said(text) == ["refund"]


@pytest.mark.parametrize("text", ["Te devuelvo la plata completa, no hay vuelta que darle.",
                                  "Le devolvemos los 6.500 pesos a la tarjeta.", "Va directo a tu tarjeta."])
def test_spanish_of_the_americas_offers_a_refund_too(text):
    assert "refund" in Lexicon({}, "es").concepts_in(text)


def test_a_southern_drawl_offers_a_refund_and_a_price_is_one_sentence():
    english = Lexicon({}, "en")
    assert "refund" in english.concepts_in("No question about it: your money's comin' back to you, every bit of it.")
    assert sentences("I'll put the $349.99 back on your card. Done.") == ((0, 39), (40, 45))


@pytest.mark.parametrize("text", [
    "I can't give you your money back",
    "We won't reimburse that.",
    "there is no refund, no money back",
])
def test_a_negated_concept_does_not_count(text):
    assert "refund" not in said(text)
    assert any(h.concept == "refund" and h.negated for h in LEXICON.find(text))


def test_a_reported_wish_is_not_an_offer_but_a_question_is():
    assert said("I do understand you want your money back, but I have to follow the procedure.") == []
    assert said("Do you want your money back?") == ["refund"]
    spanish = Lexicon({"refund": ["reembolso"]}, "es", builtin=False)
    assert spanish.concepts_in("Entiendo que quiere un reembolso, pero no depende de mí.") == []
    assert spanish.concepts_in("Con su número de pedido le hago el reembolso.") == ["refund"]


def test_negation_does_not_cross_a_clause_or_an_idiom():
    assert said("oh no I'm so sorry") == ["apology"]
    assert said("I'm not able to give you your money back") == []
    assert said("No, we'll put it back on your card.") == ["refund"]
    assert said("Not a problem, I'll reimburse it") == ["refund"]


#: The built-in English lexicon, as every English script gets it.
ENGLISH = Lexicon({}, "en")


def english(text: str) -> list[str]:
    return ENGLISH.concepts_in(text)


def test_a_phrasing_is_found_by_its_first_two_words_wherever_they_stand():
    # Phrasings are filed by their first two words (decision 81); a word of emphasis may still stand
    # between them, and the two must be in one sentence.
    words = Lexicon({"heard": ["i understand", "i hear you"], "checked": ["let me check", "check*"]}, "en",
                    builtin=False)
    assert words.concepts_in("I really understand.") == ["heard"]
    assert words.concepts_in("Okay. I understand") == ["heard"]
    assert words.concepts_in("Me? I. Understand nothing.") == []
    assert words.concepts_in("So, I hear you, let me just check.") == ["heard", "checked"]
    # At one place, the phrasing given first is the one reported.
    assert [h.phrasing for h in words.find("Let me check the order")] == ["let me check"]


def test_not_on_is_empathy_only_as_that_is_not_on():
    # "That's not on" says it was not acceptable; a bare "not on" is mostly about a rota or a switch.
    assert "empathy" in english("Two trips for this? That's not on, I'm sorry.")
    assert "empathy" in english("Honestly, that was not on.")
    for said in ("I don't know about your last visit, I wasn't on that day.", "Is it not on at all?",
                 "That model is not on sale any more."):
        assert "empathy" not in english(said), said


def test_or_and_nor_carry_a_negation_to_the_next_thing_named():
    # Seven words from "not" to "exchange": past the window, but "or" starts it again.
    assert english("I'm so sorry, but I'm not able to offer a refund or an exchange.") == ["apology"]
    assert english("No refund or replacement, sorry.") == ["refund_refused", "apology"]  # refused, not offered
    assert {h.concept for h in ENGLISH.find("We can't repair it nor swap it for a new one.") if h.negated} \
        >= {"repair", "replacement"}
    # "And" starts a new offer: the voucher after it is not refused.
    assert "replacement" in english("I can't refund it and I will give you a replacement instead.")


@pytest.mark.parametrize("text", [
    "There's honestly nothing I can do about a refund.",  # "nothing" is read as the stem "noth"
    "I'm unable to offer you a refund.",
    "Refunds are only within 14 days of purchase.",  # a limit on refunds, not an offer of one
    "A refund only applies if the box is unopened.",
])
def test_a_refund_named_under_a_stemmed_negation_or_a_limit_is_no_offer(text):
    assert "refund" not in english(text)
    assert any(h.concept == "refund" and h.negated for h in ENGLISH.find(text))


def test_a_limit_in_spanish_and_chinese_and_an_offer_with_a_condition_after_a_comma():
    assert "refund" not in Lexicon({}, "es").concepts_in("El reembolso completo solo se realiza en 30 días.")
    assert "refund" not in Lexicon({}, "zh-Hant").concepts_in("我們的退款只有七天鑑賞期。")
    assert "refund" in Lexicon({}, "zh-Hant").concepts_in("可以退款，只是需要收據。")
    assert "refund" in english("I can refund it today, only I need the receipt first.")


@pytest.mark.parametrize("text", [
    "Did you even read the manual?",
    "Did you actually read the manual, or...?",
    "what did you really do to it",
])
def test_one_word_of_emphasis_inside_a_phrasing_still_matches(text):
    assert english(text) == ["blame"]


def test_two_words_of_emphasis_or_other_words_do_not_stretch_a_phrasing():
    assert "blame" not in english("Did you ever actually read the manual?")  # only one filler is skipped
    assert "blame" not in english("Did you and your partner read the manual?")


def test_a_phrasing_that_negates_itself_counts():
    assert said("It's not my problem, there's nothing I can do") == ["dismissive"]
    assert said("It's not your fault at all") == []  # "not" before "your fault": no blame


def test_one_message_says_several_concepts_each_in_its_sentence():
    hits = LEXICON.find("I'm so sorry about this. We'll get your money back today.")
    assert [(h.concept, h.sentence) for h in hits] == [("apology", 0), ("refund", 1)]


def test_a_gap_stays_within_one_sentence():
    assert said("Put it down. Back on your card is the receipt") == []


def test_prefix_patterns_need_three_letters():
    assert Pattern.parse("reimburs*").elements[0].prefix
    assert not Pattern.parse("re*").elements[0].prefix


def test_chinese_patterns_and_negation():
    lexicon = Lexicon({"refund": ["退款", "退...錢"]}, "zh-Hant", builtin=False)
    assert lexicon.concepts_in("我馬上幫您退款。") == ["refund"]
    assert lexicon.concepts_in("沒問題，我幫您退錢") == ["refund"]
    assert lexicon.concepts_in("不好意思，我們不能退款") == []
    assert lexicon.concepts_in("要不要我幫您退款？") == ["refund"]  # A-not-A asks, it does not negate
    assert lexicon.concepts_in("要不要幫您退款") == ["refund"]
    assert lexicon.concepts_in("我幫您退一萬元的錢") == ["refund"]  # four characters between 退 and 錢
    gapped = Lexicon({"refund": ["退...款"]}, "zh-Hant", builtin=False)
    assert gapped.concepts_in("已拆封商品恕不退款。") == []  # 退 inside the pair 不退 is still negated
    hit = lexicon.find("沒問題，我幫您退錢")[0]
    assert "沒問題，我幫您退錢"[hit.start:hit.end] == "退錢"


def test_concept_of_names_a_concept_by_name_or_plain_phrasing():
    assert LEXICON.concept_of("refund") == "refund"
    assert LEXICON.concept_of("My apologies") == "apology"
    assert LEXICON.concept_of("what happened") is None


def test_function_word_phrases():
    assert only_function_words("what can I do for you")
    assert only_function_words("How can I help?")
    assert not only_function_words("what happened")
    assert not only_function_words("退款")


def test_sentences_and_the_sentence_around_a_match():
    text = "¿Qué pasó? Lo siento mucho. Vale"
    spans = sentences(text)
    assert [text[a:b] for a, b in spans] == ["¿Qué pasó?", "Lo siento mucho.", "Vale"]
    start = text.index("siento")
    assert text[slice(*sentence_around(text, start, start + 6))] == "Lo siento mucho."


def test_builtin_lexicons_resolve_language_tags():
    # Whatever ships, a Traditional Chinese region tag finds the zh-Hant file, and an unknown
    # language has none rather than failing.
    assert builtin_lexicon("tlh") == {}
    assert builtin_lexicon("zh-TW") == builtin_lexicon("zh-Hant") != {}
    assert builtin_lexicon("es-MX") == builtin_lexicon("es") != {}
    assert "apology" in builtin_lexicon("en")


@pytest.mark.parametrize("text, language, expected", [
    ("How would you handle it?", "en", True),
    ("What would you do if a colleague stopped pulling their weight?", "en", True),
    ("Suppose the venue cancels. How do you handle it?", "en", True),
    ("So tell me how you'd approach that.", "en", True),
    ("How did you handle it?", "en", False),
    ("Would you tell me about a time you disagreed with someone?", "en", False),
    ("Tell me about a time you worked in a team. How did it go?", "en", False),
    ("So what happened next?", "en", False),
    ("Just so you know what happens next, we'll be in touch by Friday.", "en", True),
    ("What's next for us is a second interview?", "en", True),
    ("¿Qué haría si un compañero no colabora?", "es", True),
    ("¿Alguna vez tuvo un conflicto con un compañero?", "es", False),
    ("假設同事不配合，你會怎麼做？", "zh-Hant", True),
    ("你曾經跟同事有過衝突嗎？", "zh-Hant", False),
])
def test_hypothetical_tells_would_from_did(text, language, expected):
    assert hypothetical(text, len(text) - 2, language) is expected


@pytest.mark.parametrize("text, language, expected", [
    ("Cool, sounds like you handled it really well.", "en", True),
    ("Well done, that was the right call.", "en", True),
    ("Sounds like it got tense, how did you handle it?", "en", False),  # still asked
    ("How did you handle it?", "en", False),
    ("Parece que lo resolvió muy bien.", "es", True),
    ("¿Cómo lo resolvió?", "es", False),
    ("聽起來您處理得很好。", "zh-Hant", True),
    ("您當時是怎麼處理的？", "zh-Hant", False),
])
def test_judged_tells_praise_from_a_probe(text, language, expected):
    assert judged(text, len(text) - 2, language) is expected


@pytest.mark.parametrize("text, language", [
    ("A refund is not something I can do at the desk.", "en"),
    ("Refunds aren't possible on opened items.", "en"),
    ("El reembolso no es posible en tienda.", "es"),
    ("不過退款的部分不是我們櫃台可以處理的。", "zh-Hant"),
])
def test_a_negation_after_a_thing_states_a_limit_on_it(text, language):
    lexicon = Lexicon({}, language)
    assert "refund" not in lexicon.concepts_in(text)
    hit = next(h for h in lexicon.find(text) if h.concept == "refund")
    assert hit.negated and hit.limited  # not offered, but said: a phrase to avoid would count it
    assert lexicon.said(text, "refund") is None and lexicon.said(text, "refund", limits=True) == hit


@pytest.mark.parametrize("text, language", [
    ("We will refund it no matter what.", "en"),
    ("You'll have your money back no later than Friday.", "en"),
    ("I can refund it today, no need to wait.", "en"),
    ("A refund is no problem at all.", "en"),
    ("Le hago el reembolso ahora mismo, no se preocupe.", "es"),
    ("退款沒問題，我現在幫您辦。", "zh-Hant"),
    ("退款不用等很久，我現在就幫您處理。", "zh-Hant"),
])
def test_an_idiom_or_a_new_clause_after_a_thing_limits_nothing(text, language):
    assert "refund" in Lexicon({}, language).concepts_in(text)


@pytest.mark.parametrize("text", ["發票不用看了啦，您是老客人我相信您。", "發票就不用了。", "收據不必給我看。"])
def test_a_receipt_not_needed_is_no_receipt_asked_for(text):
    lexicon = Lexicon({}, "zh-Hant")
    assert "receipt" not in lexicon.concepts_in(text)
    assert "receipt" in lexicon.concepts_in(text.replace("不用看了啦", "給我看一下").replace("就不用了", "帶了嗎")
                                            .replace("不必給我看", "給我看一下"))


@pytest.mark.parametrize("text, language, offered", [
    ("Maybe a refund, we'll see what the manager says.", "en", False),
    ("They'll let you know whether it's a refund.", "en", False),
    ("Perhaps we could sort out a refund for you today.", "en", True),  # a proposal put gently
    ("Maybe you and I can get the refund done now.", "en", True),
    ("Maybe we'll see about a refund next week.", "en", False),  # still a maybe
    ("Quizás un reembolso, depende del técnico.", "es", False),
    ("Quizás podamos hacer el reembolso ahora mismo.", "es", True),
    ("Si tuviera menos de 30 días, se podría pedir el reembolso.", "es", False),  # said of nobody
    ("Le podría hacer el reembolso ahora mismo.", "es", True),
])
def test_a_hedge_is_no_offer_but_a_gentle_proposal_is(text, language, offered):
    assert ("refund" in Lexicon({}, language).concepts_in(text)) is offered


@pytest.mark.parametrize("text, offered", [
    ("所以其實有好幾種方式啦，退款、換貨、維修都有可能。", False),  # a list said to be possible offers none of it
    ("退款不一定可以。", False),
    ("退款和換貨都可以，您選哪個？", True),
    ("我現在就幫您退款，三到五天會回到卡上。", True),
    # Her wish, read where the match begins inside a Han pair (想退, 退錢): not an offer.
    ("我了解你想退錢，可是這個我沒辦法現在跟你說一定可以。", False),
    ("我現在就幫您退錢。", True),
    # A condition put on it, or "it depends": not an offer.
    ("不過退款的話，通常要先送檢測，確認不是人為因素才可以。", False),
    ("一年內保固的話是換貨或維修，要看情況。", False),
])
def test_chinese_things_said_to_be_possible_are_not_offered(text, offered):
    found = Lexicon({}, "zh-Hant").concepts_in(text)
    assert ("refund" in found or "replacement" in found) is offered


def test_a_request_put_gently_still_asks():
    lexicon = Lexicon({"mistake": ["error*", "mistake*"]}, "en")
    assert lexicon.concepts_in("I wonder whether you might tell me of an error of your own making.") == ["mistake"]
    assert lexicon.concepts_in("Perhaps you could describe a mistake you learned from.") == ["mistake"]
    assert lexicon.concepts_in("We'll see whether it was a mistake.") == []  # still only wondering
    assert Lexicon({}, "en").concepts_in("I'll check whether we can refund it.") == []


@pytest.mark.parametrize("text, language, offered", [
    ("Our refund policy is 15 days, so you're outside it.", "en", False),  # the rule is named, not applied
    ("Lamentablemente nuestra política de reembolso es de 15 días.", "es", False),
    ("我們的退款規定是七天。", "zh-Hant", False),
    ("Thanks. Bought three weeks ago, so you're well within our 30-day refund window.", "en", False),
    ("You're inside the refund window, so I'll refund you now.", "en", True),
    ("Per our policy on refunds you're covered: I'll refund you now.", "en", True),
    ("I'll put the refund through now, terms are on the receipt.", "en", True),
    ("Le hago el reembolso ahora, según la política de la tienda.", "es", True),
    # The rule's content after "the policy is": "our policy is a full refund within 30 days".
    ("So our policy is a full refund within 30 days with proof of purchase.", "en", False),
    ("La norma es un reembolso completo en 30 días.", "es", False),
    ("Our policy is simple: I'll refund you now.", "en", True),
])
def test_a_thing_named_as_a_rule_is_not_offered(text, language, offered):
    assert ("refund" in Lexicon({}, language).concepts_in(text)) is offered


@pytest.mark.parametrize("text, offered", [
    ("That's store policy, I can't just refund things.", False),  # a modal before "not just" refuses
    ("We won't just refund it without a look.", False),
    ("It's not just a refund, I'll add a voucher too.", True),  # "not just" = "not only"
])
def test_not_just_after_a_modal_refuses(text, offered):
    assert ("refund" in Lexicon({}, "en").concepts_in(text)) is offered


@pytest.mark.parametrize("text, language, offered", [
    ("Refunds are a bit tricky for me on a Saturday, I'm afraid.", "en", False),
    ("A refund is difficult without the manager.", "en", False),
    ("El reembolso es un poco complicado hoy.", "es", False),
    ("退款的話……可能……比較不太容易耶。", "zh-Hant", False),
    ("退款有點難。", "zh-Hant", False),
    ("The refund is quick, I'll put it through now.", "en", True),
    ("好了，錢會退回去卡裡，應該過幾天就會看到了。", "zh-Hant", True),
])
def test_a_thing_said_to_be_hard_is_not_offered(text, language, offered):
    assert ("refund" in Lexicon({}, language).concepts_in(text)) is offered


def test_belittling_an_answer_is_contempt():
    english = Lexicon({}, "en")
    assert "contempt" in english.concepts_in("Hmm, honestly that doesn't sound like a real conflict to me.")
    assert "contempt" in english.concepts_in("I'm not sure you've got what it takes for this role.")
    assert "contempt" not in english.concepts_in("That sounds like a real conflict. What did you do?")


@pytest.mark.parametrize("text, offered", [
    ("因此今天無法為您辦理退款或換貨。", False),  # the negation reaches past whom it is for and the verb
    ("沒辦法幫你處理退款。", False),
    ("我們沒有退款或換貨的選項。", False),  # the list before the thing shares the negation
    ("退款我們這邊辦不到。", False),  # the thing said first, then refused
    ("我馬上為您辦理退款。", True),
    ("退款我們三天內會處理好。", True),
])
def test_a_chinese_refusal_reaches_the_thing_past_whom_it_is_for_or_after_it(text, offered):
    assert ("refund" in Lexicon({}, "zh-Hant").concepts_in(text)) is offered


@pytest.mark.parametrize("text, offered", [
    ("退錢我哋呢度做唔到喎，你要自己搵返原廠。", False),
    ("我哋唔可以幫你退錢。", False),
    ("唔該等等，我而家幫你退錢。", True),  # 唔該 thanks, it negates nothing
    ("冇問題，我幫你退錢，三日內返到張卡。", True),
])
def test_cantonese_negations_count(text, offered):
    assert ("refund" in Lexicon({}, "zh-Hant").concepts_in(text)) is offered


def test_simplified_characters_read_as_traditional_ones():
    assert fold_han("请出示发票，我马上为您办理退款。") == "請出示發票，我馬上為您辦理退款。"
    assert len(fold_han("后天到账")) == 4  # one to one: spans stay right
    assert fold_han("辛苦晒，講吓") == "辛苦晒，講吓"  # Cantonese words, not Simplified ones
    lexicon = Lexicon({"receipt": ["發票"]}, "zh-Hant", builtin=False)
    assert lexicon.concepts_in("您有带发票吗？") == ["receipt"]
    assert "refund" in Lexicon({}, "zh-Hant").concepts_in("我马上帮您退款，三到五天到账。")
    assert "refund" not in Lexicon({}, "zh-Hant").concepts_in("这个我们没办法退款。")


def test_a_word_of_emphasis_inside_no_date_still_says_no_date():
    english = Lexicon({}, "en")
    assert "no_date" in english.concepts_in("I can't say exactly how long that takes, it depends how busy they are.")
    assert "no_date" in english.concepts_in("I can't say how long that takes.")


@pytest.mark.parametrize("text", [
    "¿Desde cuándo no funciona?",  # in a question, a negation after the words is part of what is asked
    "¿Qué pasa con la cafetera?",
    "¿Qué es lo que le está haciendo la cafetera?",
])
def test_spanish_ways_to_ask_what_happened(text):
    assert "ask_what_happened" in Lexicon({}, "es").concepts_in(text)


def test_a_negation_after_a_thing_still_limits_it_outside_a_question():
    assert "refund" not in Lexicon({}, "es").concepts_in("El reembolso no es posible.")
    assert "refund" not in Lexicon({}, "en").concepts_in("A refund is not something I can do.")


@pytest.mark.parametrize("text, narrated", [
    # Saying what one would do is not doing it...
    ("At this point I'd describe the specific comment and the impact it had on her.", True),
    ("Then I'd ask for his perspective and really listen.", True),
    ("So first I would acknowledge her frustration here.", True),
    ("I'd offer her a refund or a replacement and tell her how long it takes.", True),
    ("(I'd then ask if she has questions and explain the next steps)", True),
    ("en este momento le pediría el tique y comprobaría la fecha", True),
    ("（這邊我會先跟她道歉，說讓她久等了）", True),
    # ...but what is said to the other person, or done now in a stage direction, is.
    ("I'd like to offer you a full refund today.", False),
    ("I'd say that sounds really frustrating.", False),
    ("*checks the receipt* Three weeks ago, so you're well within the 30 days.", False),
    ("（看發票）好的，三個禮拜前買的。", False),
    ("Si pagó en efectivo, se lo entrego en este momento.", False),
    ("這邊我會幫您辦理全額退款。", False),
])
def test_narrating_what_one_would_do_is_told_from_doing_it(text, narrated):
    assert bool(narrated_spans(text)) is narrated


def test_a_narrated_offer_offers_nothing():
    english, chinese = Lexicon({}, "en"), Lexicon({}, "zh-Hant")
    assert "refund" not in english.concepts_in("At this point I'd offer her a refund and tell her how long it takes.")
    assert "refund" in english.concepts_in("I can offer you a refund, and it takes three to five days.")
    assert "refund" not in chinese.concepts_in("（然後我會跟她說可以退款或換貨，大概幾天可以好）")
    assert "refund" in chinese.concepts_in("然後我們今天就幫您全額退款。")
