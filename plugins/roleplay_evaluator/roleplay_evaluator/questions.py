"""Open and closed questions, by the words a question starts with.

An open question invites a story ("What happened?", "Tell me about...",
"¿Cómo se siente?", "發生了什麼事？"); a closed one asks for yes/no or a single
fact ("Did you call?", "When did it start?", "發票有帶來嗎？"). The rules are per
language (the script's language); English, Spanish and Chinese (Traditional and
Simplified) are complete, French and German are basic, and any other language
only tells questions from statements, with lower confidence.
"""

from __future__ import annotations

import re

import attrs

from roleplay_core.text import fold, fold_han, sentences

OPEN = "open"
CLOSED = "closed"


@attrs.frozen
class Rules:
    #: First words that open an open question (after leading fillers).
    open_starts: tuple[str, ...]
    #: Phrases that make a request open wherever they appear ("could you tell me about...").
    open_anywhere: tuple[str, ...]
    #: Words skipped at the start of a sentence ("so", "and", "okay").
    fillers: tuple[str, ...]
    #: Openers that ask for one fact though they start like an open question ("how many").
    closed_starts: tuple[str, ...] = ()
    #: Yes/no openers ("did", "is", "can"): closed unless the sentence asks for a story
    #: with one of ``requests`` ("Could you tell me about...").
    auxiliaries: tuple[str, ...] = ()
    requests: tuple[str, ...] = ()
    #: False when the language is not really supported: counts then carry lower confidence.
    supported: bool = True


RULES: dict[str, Rules] = {
    "en": Rules(
        open_starts=("what", "what's", "whats", "how", "how's", "why", "tell me", "describe", "explain",
                     "walk me through", "talk me through", "take me through", "run me through", "fill me in",
                     "help me understand", "in what way", "give me an example"),
        open_anywhere=("tell me", "describe", "explain", "walk me through", "talk me through", "take me through",
                       "run me through", "fill me in", "say more",
                       "help me understand", "more about", "what happened", "how did", "how do you feel",
                       "how would you", "what would", "what do you", "give me an example"),
        fillers=("so", "and", "okay", "ok", "well", "right", "now", "then", "but", "alright", "great", "sure", "like",
                 "thanks", "thank you", "i see", "mm", "hmm", "please"),
        # "Which nights...", "What time...": one fact from a short list, however it starts.
        closed_starts=("how many", "how much", "how long", "how often", "how old", "what time", "what day",
                       "what date", "which", "whose"),
        auxiliaries=tuple("""is are am was were do does did can could will would shall should may might must have
            has had isn't aren't wasn't weren't don't doesn't didn't can't couldn't won't wouldn't shouldn't
            haven't hasn't hadn't""".split()),
        requests=("tell me", "describe", "explain", "walk me through", "talk me through", "take me through",
                  "run me through", "fill me in", "say more",
                  "help me understand", "more about",
                  # "Can you give me an example?", "Can you think of a time when...?": a story asked for.
                  "an example", "example of", "a time when", "a time where", "a time you", "a moment when",
                  "a moment where"),
    ),
    "es": Rules(
        open_starts=("que", "como", "por que", "cuentame", "cuenteme", "describa",
                     "describeme", "describame", "explique", "explicame", "expliqueme", "hableme", "hablame",
                     "de que manera", "en que"),
        open_anywhere=("cuentame", "cuenteme", "contarme", "contar", "me cuenta", "me cuentas", "platiqueme",
                       "platicame", "me platica", "describir", "describirme", "explicar",
                       "explicarme", "hablarme", "que paso", "como se siente", "como te sientes", "que opina",
                       "que piensa", "que te parece", "que le parece"),
        fillers=("y", "bueno", "pues", "entonces", "vale", "ok", "claro", "mire", "oiga", "a ver",
                 "gracias", "por favor", "muy bien", "bien"),
        # "¿Cuál prefiere?", "¿Qué noches...?", "¿A qué hora...?": one fact, like English "which".
        closed_starts=("cual", "cuales", "cuanto", "cuanta", "cuantos", "cuantas", "cuando", "donde", "quien",
                       "quienes", "a que hora", "que hora", "que dia", "que dias", "que noche", "que noches",
                       "que fecha", "que numero", "en que fecha", "de que color", "que modelo", "que talla"),
        auxiliaries=("puede", "podria", "puedes", "podrias", "tiene", "tienes", "hay", "es", "esta", "ha", "le",
                     "te", "lo", "la", "fue", "sabe", "quiere", "quieres", "necesita"),
        requests=("contar", "contarme", "contarnos", "me cuenta", "me cuentas", "platiqueme", "platicame",
                  "me platica", "describir", "describirme", "explicar", "explicarme",
                  "hablar de", "hablarme", "cuentame", "cuenteme", "decirme que", "decirme como"),
    ),
    "fr": Rules(
        open_starts=("que", "qu'est", "quoi", "comment", "pourquoi", "racontez", "raconte", "decrivez",
                     "expliquez", "parlez"),
        open_anywhere=("racontez", "decrivez", "expliquez", "parlez-moi", "parlez moi", "qu'est-ce qui"),
        fillers=("alors", "et", "donc", "bon", "d'accord", "bien"),
    ),
    "de": Rules(
        open_starts=("was", "wie", "warum", "wieso", "weshalb", "erzahlen", "erzahl", "beschreiben",
                     "erklaren"),
        open_anywhere=("erzahlen sie", "beschreiben sie", "erklaren sie", "was ist passiert"),
        fillers=("also", "und", "gut", "okay", "na", "nun"),
    ),
}

#: Imperative prompts that work as open questions even without a question mark.
_PROMPTS = {
    "en": ("tell me", "describe", "explain", "walk me through", "talk me through", "take me through",
           "run me through", "fill me in", "help me understand", "give me an example"),
    "es": ("cuentame", "cuenteme", "platiqueme", "platicame", "describa", "describeme", "describame", "explique",
           "explicame",
           "expliqueme", "hableme", "hablame"),
    "fr": ("racontez", "decrivez", "expliquez", "parlez-moi"),
    "de": ("erzahlen sie", "beschreiben sie", "erklaren sie"),
}

_FALLBACK = Rules(open_starts=(), open_anywhere=(), fillers=(), supported=False)

# Spanish writes its question words with an accent wherever they stand ("¿Y la vez pasada qué le
# dijeron?"): the first one decides, before any word-order rule.
_ES_INTERROGATIVE = re.compile(r"\b(por qué|qué|cómo|cuál|cuáles|cuándo|dónde|adónde|cuánto|cuánta|cuántos|cuántas|"
                               r"quién|quiénes)\b", re.IGNORECASE)
_ES_FACT_NOUN = re.compile(r"\s+(hora|día|días|noche|noches|fecha|número|modelo|talla|color|mes|año|semana)\b",
                           re.IGNORECASE)


def _classify_es_accented(sentence: str) -> str | None:
    found = _ES_INTERROGATIVE.search(sentence)
    if found is None:
        return None
    word = found.group(1).lower()
    if word in ("qué", "cómo", "por qué"):
        return CLOSED if word == "qué" and _ES_FACT_NOUN.match(sentence, found.end()) else OPEN
    return CLOSED

# -- Chinese --------------------------------------------------------------------------
# A Chinese question keeps the question word where the answer goes (您的咖啡機怎麼了？) and
# has no spaces, so the patterns are searched anywhere in a clause rather than at its start.
# Both Traditional and Simplified forms are listed; 甚麼 and 麽 are folded to 什麼 and 麼 first.

#: Asking for a story: "tell me", "describe", "talk me through" (告訴我 but not 告訴我們, "tell us").
_ZH_REQUEST = (r"告訴我(?!們)|告诉我(?!们)|說說|说说|講講|讲讲|聊聊|描述|形容|說明一下|说明一下|"
               r"講一下|讲一下|說一下|说一下|談談|谈谈|談一下|谈一下|分享一下|說一遍|说一遍|講一遍|讲一遍|"
               r"多說|多说|多講|多讲|詳細說|详细说|具體說|具体说|"
               # Cantonese: 講吓, 話我知 ("let me know"), 講多啲.
               r"講吓|讲吓|講下|讲下|話我知|话我知|講多啲|讲多啲")
#: A request that opens a sentence works as an open question without a question mark.
_ZH_PROMPT = re.compile(r"^(?:那個|那个|就是|嗯+|好的?|那麼?|那么|所以|另外|想|麻煩|麻烦|可以|能不能|能否)*(?:請|请)?"
                        r"(?:麻煩|麻烦)?(?:您|你)?"
                        r"(?:先|再|多)?(?:跟我|和我|幫我|帮我|為我|为我)?(?:" + _ZH_REQUEST + ")")
_ZH_OPEN_REQUEST = re.compile(_ZH_REQUEST)
#: "Tell me ... from the start" with words between: 麻煩您把機器的狀況從頭跟我說一遍.
_ZH_TELL_ME = re.compile(r"(?:跟我|和我|向我|給我|给我|(?<!如)同我)[^，。？！,.?!]{0,6}?(?:說|说|講|讲|聊|描述|形容)")
#: Yes/no: A-not-A (是不是, 有沒有, 可不可以; Cantonese 係唔係, 有冇, 係咪), 是否, and the particle 嗎
#: ending a clause.
_ZH_YES_NO = re.compile(r"([\u4e00-\u9fff])[不沒没唔冇]\1|是否|係咪|有冇|[嗎吗]$")
#: One fact, though some start like an open question: when, where, who, which, how many, name.
_ZH_FACT = re.compile(r"什麼時候|什么时候|何時|何时|哪裡|哪里|哪兒|哪儿|哪個|哪个|哪一|哪天|哪位|誰|谁|"
                      r"多少|多久|多長|多长|(?<![這那前後头頭好近这后])[幾几](?!乎)|怎麼稱呼|怎么称呼|貴姓|贵姓|"
                      r"什麼名字|什么名字|邊度|边度|邊個|边个|邊間|边间|邊一|边一")
#: What, how, why, which ones, and "what do you think?" (覺得呢); Cantonese how (點樣), why (點解)
#: and what (乜嘢, 咩事; 咩 alone also ends a yes/no question).
_ZH_OPEN = re.compile(r"什麼|什么|怎麼|怎么|怎樣|怎样|為何|为何|如何|哪些|哪方面|覺得呢|觉得呢|看法呢|想法呢|"
                      r"點樣|点样|點解|点解|點算|点算|乜嘢|乜野|咩(?=[事嘢野問问情])|做咩|發生咗咩|发生咗咩")
_ZH_CLAUSE = re.compile(r"[,;:\u2014\uff0c\u3001\uff1b\uff1a]")
_ZH_TRAILING = " \t\u3000\"'\u201d\u2019\u300d\u300f\uff09)"
_ZH_ENDING = "。.!！~～…⋯?？"


def _classify_zh(sentence: str) -> str | None:
    text = fold_han(sentence.strip()).rstrip(_ZH_TRAILING)
    asked = text.endswith(("?", "\uff1f")) or text.rstrip(_ZH_ENDING)[-1:] in ("嗎", "吗", "呢")
    clauses = [c.strip().rstrip(_ZH_ENDING + _ZH_TRAILING) for c in _ZH_CLAUSE.split(text)]
    clauses = [c for c in clauses if c]
    prompt = any(_ZH_PROMPT.match(c) or _ZH_TELL_ME.search(c) for c in clauses)
    if not asked and not prompt:
        return None
    for clause in clauses:
        if _ZH_OPEN_REQUEST.search(clause) or _ZH_TELL_ME.search(clause):
            return OPEN  # "可以跟我說說發生了什麼事嗎？": a story, however it is asked
        if _ZH_YES_NO.search(clause) or _ZH_FACT.search(clause):
            return CLOSED
        if _ZH_OPEN.search(clause):
            return OPEN
    return OPEN if prompt else CLOSED


_CLASSIFIERS = {"zh": _classify_zh}
#: Chinese is fully supported, by :func:`_classify_zh` rather than by word lists.
RULES["zh"] = Rules(open_starts=(), open_anywhere=(), fillers=())


def rules_for(language: str) -> Rules:
    return RULES.get(language.split("-")[0].lower(), _FALLBACK)


@attrs.frozen
class Question:
    """One question (or open prompt) the learner asked: a verbatim slice of its message."""

    start: int
    end: int
    kind: str  # "open" or "closed"


#: Question words as Scots writes them ("Whit's been happenin'?", "Hoo are ye?"): the English rules
#: read them as the words they are.
_SCOTS = {"whit": "what", "whit's": "what's", "hoo": "how", "hoo's": "how's", "whaur": "where", "wha": "who"}


def _plain(text: str) -> str:
    """Folded words separated by single spaces, punctuation gone (apostrophes and hyphens kept)."""
    chars = [ch if ch.isalnum() or ch in "'-" else " " for ch in fold(text)]
    return " ".join(_SCOTS.get(word, word) for word in "".join(chars).split())


def _starts(text: str, phrase: str) -> bool:
    return text == phrase or text.startswith(phrase + " ")


def _strip_fillers(text: str, rules: Rules) -> str:
    changed = True
    while changed and text:
        changed = False
        for filler in sorted(rules.fillers, key=len, reverse=True):
            if _starts(text, filler):
                text = text[len(filler):].lstrip()
                changed = True
    return text


def classify(sentence: str, language: str) -> str | None:
    """``"open"``, ``"closed"`` or ``None`` (not a question) for one sentence.

    The sentence is read clause by clause (split at commas, colons and
    semicolons) so "Okay Dana, what happened?" is judged by "what happened".
    """
    code = language.split("-")[0].lower()
    if code in _CLASSIFIERS:
        return _CLASSIFIERS[code](sentence)
    rules = rules_for(language)
    stripped = sentence.strip()
    whole = _strip_fillers(_plain(stripped), rules)
    asked = stripped.endswith(("?", "\uff1f", "?\u201d")) or stripped.startswith("\u00bf")
    prompt = any(_starts(whole, p) for p in _PROMPTS.get(code, ()))
    if not asked and not prompt:
        return None
    padded = f" {_plain(stripped)} "
    if code == "es":
        if any(f" {phrase} " in padded for phrase in rules.requests):
            return OPEN  # "¿Me cuenta cómo fue?", "¿Podría describir...?": a story, however it is asked
        accented = _classify_es_accented(stripped)
        if accented is not None:
            return accented
    for clause in re.split(r"[,;:\u2014]", stripped):
        plain = _strip_fillers(_plain(clause), rules)
        if not plain:
            continue
        if any(_starts(plain, opener) for opener in rules.closed_starts):
            return CLOSED
        if any(_starts(plain, opener) for opener in rules.open_starts):
            return OPEN
        if any(_starts(plain, word) for word in rules.auxiliaries):
            return OPEN if any(f" {r} " in padded for r in rules.requests) else CLOSED
    if any(f" {phrase} " in padded for phrase in rules.open_anywhere):
        return OPEN
    return CLOSED


#: Speech-to-text and quick typing leave questions without a question mark, run into one another:
#: "ok thanks so um what was your role in that". A question word or a yes/no opener right after a
#: filler or at the start opens a question there.
_RUN_ON = {
    "en": re.compile(r"(?:^|[,;:]\s*|\b(?:so|um+|uh+|er+|and|ok(?:ay)?|right|great|thanks|thank you|well|then|next|now|also|"
                     r"but|yeah|yes|lovely|brilliant|cool|sure|alright|first(?: of all)?|finally|please)[\s,]+)"
                     r"((?:what|how|why|tell me|walk me through|talk me through|take me through|describe|explain|"
                     r"can you|could you|would you|do you|did you|does|is|are|have you|has)\b)", re.I),
    "es": re.compile(r"(?:^|[,;:]\s*|\b(?:y|bueno|pues|entonces|vale|ok|vale|claro|gracias|eh+|este|mire|ahora|luego|"
                     r"perfecto|muy bien)[\s,]+)"
                     # Accented only: an unaccented "que" or "como" joins clauses, it does not ask.
                     r"((?:qué|cómo|por qué|cuénte(?:me)?|cuándo|dónde|descr[ií]ba(?:me)?|"
                     r"expl[ií]que(?:me)?|h[aá]ble(?:me)?|me puede|me podr[ií]a|podr[ií]a)\b)",
                     re.I),
}


#: ...and a question asked straight after another clause, with no filler or comma between them:
#: "you said this is your second trip what happened the first time", "y la primera vez que vino
#: qué le dijeron". English: a question word with the auxiliary before its subject ("what did
#: you", "how does it"), which a reported question never has ("I know what you did"), or "what
#: happened". Spanish: any accented question word, since the accent marks the question.
_MID_CLAUSE = {
    "en": re.compile(r"\b((?:what|how|why)\s+(?:did|does|do|is|are|was|were|has|have|had|can|could|would|will)\s+"
                     r"(?:you|he|she|it|they|we|that|this|the|your|their|his|her|things|everything)\b|"
                     r"what\s+happened\b)", re.I),
    "es": re.compile(r"(?<!\w)((?:por qué|qué|cómo)(?!\w))", re.I),
}
#: Words after which a question word reports a question rather than asking it ("I know what
#: happened", "that's how it is", "no sé qué pasó", "a ver qué podemos hacer"), or asks the same
#: one again ("what was your role, like what did you do yourself").
_REPORTED_BEFORE_EN = frozenset("""know knew understand understood see saw seen tell told explain explained ask asked
    wonder wondering sure unsure is was that's thats it's here's there's that this exactly remember matter about of on
    in out find hear heard learn check depends regardless noticed realise realize imagine guess think believe say said
    says mean figure decide idea into how what why like or""".split())
#: Spanish, by the start of the word: "sé", "sabe", "entiendo", "le explico", "a ver", "mire".
_REPORTED_BEFORE_ES = ("sé", "sab", "ver", "veo", "vemos", "vamos", "mir", "entend", "entiend", "import", "depend",
                       "pregunt", "idea", "averigu", "comprob", "revis", "dec", "dij", "dic", "explic", "cont", "cuent",
                       "por", "lo", "eso", "esto", "es", "era", "fue", "así")
#: "¡Qué drama!", "qué pena", "qué bien": an exclamation, not a question, though its qué has an accent.
_ES_EXCLAIMED = re.compile(r"\s*(?:drama|pena|bien|mal|horror|rabia|lástima|lastima|faena|barbaridad|susto|fastidio|"
                           r"rollo|lata|raro|rara|suerte|vergüenza|verguenza|asco|gracia|tontería|tonteria|maravilla|"
                           r"bonit[oa]|guap[oa]|fuerte|locura|desastre|paciencia|exagerad[oa]s?|tarde|pronto|"
                           r"mala|malo|buena|bueno|cosa|cosas|poco|mucho|muchos|muchas|\w+ísim[oa]s?)\b", re.I)


def _reported_by(word: str, code: str) -> bool:
    return word.startswith(_REPORTED_BEFORE_ES) if code == "es" else word in _REPORTED_BEFORE_EN


def _exclaimed(text: str, at: int, code: str) -> bool:
    """Whether the question word at ``at`` opens an exclamation ("qué drama más grande")."""
    if code != "es":
        return False
    word = re.match(r"\w+", text[at:])
    return word is not None and word.group().lower() == "qué" and _ES_EXCLAIMED.match(text, at + 3) is not None


def _mid_clause(text: str, start: int, end: int, code: str) -> list[int]:
    pattern = _MID_CLAUSE.get(code)
    if pattern is None:
        return []
    found = []
    for match in pattern.finditer(text, start, end):
        before = re.findall(r"[\w'’]+", text[start:match.start(1)])
        if before and not _reported_by(before[-1].lower().replace("’", "'"), code):
            found.append(match.start(1))
    return found


#: Chinese speech-to-text marks pauses with spaces, or nothing, and rarely a question: a stretch
#: between pauses that holds a question word asks ("那您上次來的時候 我們同事是怎麼跟您說的"), unless
#: it reports one ("我不知道怎麼辦", "我幫您看看是什麼問題", "沒什麼").
_ZH_STRETCH = re.compile(r"[^\s,;:\uff0c\u3001\uff1b\uff1a\u3002.!\uff01]+")
_ZH_FILLER = re.compile(r"^(?:呃|嗯+|啊|那個|那个|就是|那|然後|然后|所以|對|对|好)+$")
_ZH_REPORTED = re.compile(r"知道|曉得|晓得|了解|明白|不管|無論|无论|沒什麼|没什么|怎麼辦|怎么办|看看|看一下|"
                          r"查一下|查查|確認|确认|檢查|检查|研究|這就是|这就是|為什麼會這樣|为什么会这样|告訴您|告诉您|"
                          # uncertain, not asking: 要多久我也不確定; "whatever you want": 您要什麼我都...
                          r"不確定|不确定|不清楚|不一定|不會怎樣|不会怎样|沒怎樣|没怎样|(?:什麼|什么|怎麼|怎么).{0,4}都|"
                          # "see how they decide" (看他們怎麼判定), "told you how to" (跟你講要怎麼處理)
                          r"看.{0,3}(?:怎|什|如何|是不是|要不要|多少|多久|哪)|[你您妳][講說讲说]要?(?:怎|如何)")


def _run_on_zh(text: str, start: int, end: int) -> list[Question]:
    found: list[Question] = []
    joined = False  # the last stretch was a question, and only fillers came since
    for match in _ZH_STRETCH.finditer(text[start:end]):
        piece = fold_han(match.group())
        begin, stop = start + match.start(), start + match.end()
        if _ZH_FILLER.match(piece):
            continue
        asks = (_ZH_OPEN.search(piece) or _ZH_FACT.search(piece) or _ZH_YES_NO.search(piece)) \
            and not _ZH_REPORTED.search(piece)
        if not asks:
            joined = False
            continue
        kind = _classify_zh(piece + "\uff1f") or CLOSED
        if joined:  # one question said in two breaths ("有沒有照說明書 就是 有沒有定期清洗")
            found[-1] = attrs.evolve(found[-1], end=stop)
        else:
            found.append(Question(begin, stop, kind))
        joined = True
    return found


def _run_on(text: str, start: int, end: int, language: str) -> list[Question]:
    """Questions inside a sentence written without question marks, one per opener."""
    code = language.split("-")[0].lower()
    if code == "zh":
        return _run_on_zh(text, start, end)
    pattern = _RUN_ON.get(code)
    if pattern is None:
        return []
    openers = sorted(at for at in {m.start(1) for m in pattern.finditer(text, start, end)}
                     | set(_mid_clause(text, start, end, code)) if not _exclaimed(text, at, code))
    found = []
    for n, begin in enumerate(openers):
        stop = openers[n + 1] if n + 1 < len(openers) else end
        piece = text[begin:stop].rstrip(" ,;.")
        kind = classify(piece + "?", language) if piece else None
        if kind is not None:
            found.append(Question(begin, begin + len(piece), kind))
    return found


#: A question that ends in a tag asks the other person to agree with an answer already given:
#: "You enjoy teamwork, right?", "...would that be fair?", "¿verdad?", "對吧？".
_LEADING = {
    "en": re.compile(r"(?:,|\s)\s*(?:right|yeah|yes|correct|isn't it|aren't you|don't you|didn't you|wasn't it|"
                     r"weren't you|wouldn't you say|wouldn't you agree|would that be fair|i'm guessing|i guess|"
                     r"i bet|i assume|i take it|surely)\s*\?\W*$", re.I),
    # "¿verdad?" opens a sentence of its own after "Se apagó sola,".
    "es": re.compile(r"(?:^|,|\s)\s*¿?\s*(?:verdad|cierto|a que sí|no es así|me equivoco)\s*\?\W*$", re.I),
    "zh": re.compile(r"(?:對吧|對不對|是吧|沒錯吧|没错吧|对吧|对不对)\s*[？?]\W*$"),
}


#: ...or one that opens by presuming the answer: "And you'd say you handle pressure well?".
_PRESUMING = {
    "en": re.compile(r"^\W*(?:(?:and|so|now|okay|ok|right|great)\W+)*(?:you'd say|you would say|i take it|"
                     r"i assume|i'm guessing|i guess|i bet|presumably|surely)\b.*\?\W*$", re.I),
    # "¿Y diría que maneja bien la presión?", "¿Supongo que el trabajo en equipo se le da bien?"
    "es": re.compile(r"^\W*(?:(?:y|entonces|bueno|vale|pues)\W+)*(?:usted\s+)?(?:dir[ií]a que|dir[ií]as que|"
                     r"supongo que|me imagino que|imagino que|seguro que|sin duda|doy por hecho que)\b.*\?\W*$",
                     re.I),
    # 「你應該很會處理壓力吧？」「想必您很擅長團隊合作？」「我猜你…？」
    # 「是不是又不能開機了？」 presumes it happened again, as "It's broken again, isn't it?" does.
    "zh": re.compile(r"^\W*(?:那|所以|好)?\W*(?:想必|我猜|我想你|我想您|你應該|您應該|妳應該|你应该|您应该|是不是又)"
                     r".*[？?]\W*$"),
}


def leading(sentence: str, language: str) -> bool:
    """Whether ``sentence`` is a question that supplies its own answer: it ends in a tag
    ("..., right?") or opens by presuming the answer ("You'd say you handle pressure well?")."""
    code = language.split("-")[0].lower()
    plain = sentence.strip().replace("\u2019", "'")
    return any(pattern.search(plain) is not None
               for pattern in (_LEADING.get(code), _PRESUMING.get(code)) if pattern is not None)


def questions(text: str, language: str) -> list[Question]:
    """The questions in one message, each with its span and kind.

    An open question followed, in the same message, by a leading one ("Tell me about a time you
    worked in a team. You enjoy teamwork, right?") counts as closed: the learner answered it for
    the other person before they could.
    """
    found = []
    marked = "?" in text or "\uff1f" in text
    for start, end in sentences(text):
        kind = classify(text[start:end], language)
        if kind is not None:
            found.append(Question(start, end, kind))
        elif not marked:
            found.extend(_run_on(text, start, end, language))
    answered = [n for n, x in enumerate(found) if leading(text[x.start:x.end], language)]
    if answered:
        last = answered[-1]
        found = [attrs.evolve(x, kind=CLOSED) if n < last and x.kind == OPEN else x for n, x in enumerate(found)]
    return found
