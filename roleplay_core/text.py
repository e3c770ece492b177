"""Text analysis shared by the character engine, the evaluator's rules and the scripter's lint.

One module, so that chat, the evaluator and lint never disagree on what a word is:

- :func:`tokens` splits text into normalised word tokens that remember their span
  in the original text, so every match can be quoted verbatim. Case and accents
  are folded, curly apostrophes straightened, English contractions expanded
  ("don't" gives ``do`` and ``not``, both spanning "don't"), a light suffix
  stemmer applied (:func:`stem`), and runs of Han or kana (written without
  spaces) become overlapping character pairs ("我想退款" -> 我想, 想退, 退款).
- :func:`sentences` finds sentence spans (``.`` ``!`` ``?`` ``。`` ``！`` ``？``,
  a new line; ``¿`` and ``¡`` open one).
- :class:`Pattern` is one phrasing of an idea: words, ``...`` for a gap of up to
  :data:`MAX_GAP` words, ``word*`` for any word starting so.
- :class:`Lexicon` maps concepts ("refund", "apology") to phrasings: a script's
  own ``synonyms`` plus the built-in lexicon of its language
  (``roleplay_core/lexicons/<language>.toml``). :meth:`Lexicon.find` reports
  every concept said in a text, sentence by sentence, and marks the ones said
  under a negation ("I can't refund that") so they do not count.
"""

from __future__ import annotations

import functools
import re
import tomllib
import unicodedata
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from importlib import resources
from typing import Any

import attrs

#: Han and kana: written without spaces, so runs of them are split into character pairs.
CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_WORD = re.compile(rf"[{CJK}]+|[^\W_{CJK}]+(?:['\u2019][^\W_{CJK}]+)*")
_CJK_RUN = re.compile(rf"[{CJK}]+")
#: Variant characters a Chinese learner may type for the same word (Taiwan uses both 甚麼 and
#: 什麼; 妳 is "you" addressed to a woman), and Simplified characters (below). Folded one to one,
#: so lengths never change.
_HAN_VARIANTS = str.maketrans("妳臺裏爲着麽", "你台裡為著麼")


def _simplified_table() -> dict[int, int]:
    """Simplified characters read as their Traditional ones (lexicons/zh-simplified.txt): a learner
    typing Simplified into a Traditional scenario says the same words."""
    lines = [line for line in resources.files("roleplay_core.lexicons").joinpath("zh-simplified.txt")
             .read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
    return str.maketrans(lines[0], lines[1])


_HAN_VARIANTS.update(_simplified_table())
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'"})
# Sentences also end at the full-width marks of Chinese and Japanese (。！？) and at ⋯, the
# ellipsis Taiwan writes; '¿' and '¡' open a Spanish one.
# A full stop before a digit is inside a number ("$349.99", "6.500 pesos"), not the end of a sentence.
_SENTENCE_END = re.compile(r"(?:[!?\u2026\u22ef\u3002\uff01\uff1f\uff61\n]|\.(?!\d))+|[\u00bf\u00a1]")
#: Clause marks: a negation does not reach across them ("No, I can refund it" offers a refund).
_CLAUSE = re.compile(r"[,;:\u2014\u2013\uff0c\u3001\uff1b\uff1a]|\bbut\b|\bpero\b")

_CONTRACTIONS = {
    "won't": ("will", "not"),
    "can't": ("can", "not"),
    "cannot": ("can", "not"),
    "shan't": ("shall", "not"),
    "ain't": ("is", "not"),
    "let's": ("let", "us"),
    "i'm": ("i", "am"),
    # Typed without the apostrophe, as chat users and speech-to-text often do.
    "cant": ("can", "not"),
    "dont": ("do", "not"),
    "doesnt": ("does", "not"),
    "didnt": ("did", "not"),
    "isnt": ("is", "not"),
    "arent": ("are", "not"),
    "wasnt": ("was", "not"),
    "werent": ("were", "not"),
    "couldnt": ("could", "not"),
    "wouldnt": ("would", "not"),
    "shouldnt": ("should", "not"),
    "havent": ("have", "not"),
    "hasnt": ("has", "not"),
    "wont": ("will", "not"),
    "im": ("i", "am"),
}
_SUFFIXES = (("n't", "not"), ("'re", "are"), ("'ll", "will"), ("'ve", "have"), ("'d", "would"), ("'m", "am"))

#: Words too common to carry an idea on their own (English and Spanish). A phrase made only of
#: them keeps them; otherwise they are dropped when phrases are compared as bags of words.
STOPWORDS = frozenset(
    """a an the and or but of to in on at for with by from is am are was were be been being it its this
    that these those i me my we our you your he him his she her they them their do does did so as if then
    than there here just very really would will shall should could can please um uh oh well
    el la los las un una unos unas y o pero de del en con por para que se su sus mi mis tu tus es son
    fue ser lo le les me te nos al como muy ya""".split()
)
#: Words that never carry a scene's idea alone, stopwords or not: question words and the most
#: common verbs. A trigger made only of these ("what can I do for you" -> "what") must be said
#: whole, or it would fire on every question.
FUNCTION_WORDS = STOPWORDS | frozenset(
    """what how why when where who whom which whose whatever get got go going make made let us want need
    help say tell know think see come take give may might must have has had
    que como cuando donde quien cual cuales por porque puedo puede hacer""".split()
)
#: Words that negate what follows them in the same clause (after folding and contraction expansion).
NEGATIONS = frozenset(
    """not no never nothing nobody none neither nor without unable hardly
    nunca jamas ni sin tampoco nada ningun ninguna ninguno""".split()
)
#: Chinese negations (不, 沒, 無法, 別, 未; Cantonese 唔 and 冇) and the fixed phrases that contain
#: them but negate nothing.
_ZH_NEGATORS = "不沒没別别未唔冇"
_ZH_NEGATION = re.compile(rf"[{_ZH_NEGATORS}]|無法|无法")
#: A character every negation above holds: where none is, nothing is negated.
_ZH_NEGATION_CHAR = re.compile(rf"[{_ZH_NEGATORS}無无]")
_ZH_NOT_NEGATION = re.compile(r"不好意思|不客氣|不客气|沒問題|没问题|沒關係|没关系|不錯|不错|不然|不過|不过|"
                              r"不只|不僅|不仅|沒錯|没错|不舒服|不安|不便|不滿|不满|沒事|没事|"
                              # Cantonese: thank you, sorry, no problem, never mind.
                              r"唔該|唔好意思|對唔住|冇問題|冇事|唔緊要|"
                              # A-not-A questions ask, they do not negate: 要不要, 是不是, 有沒有, 係唔係.
                              r"([\u4e00-\u9fff])[不沒没唔冇]\1|有冇")
#: The items of a list before the thing share its negation: "無法辦理退款或換貨" refuses both.
_ZH_LIST_BEFORE = re.compile(r"(?:[\u4e00-\u9fff]{2}[或和跟及、])+$")
#: Between a negation and the thing: for whom and the doing of it ("無法為您辦理退款", "沒辦法幫你處理
#: 退貨"), read past so the negation still reaches the thing.
_ZH_FOR_WHOM = re.compile(r"(?:[為为幫帮替給给同][您你妳](?:們|们|哋)?)?(?:辦理|办理|處理|处理|申請|申请|安排|做|辦|办)?$")

#: At most this many words may stand where a phrasing writes ``...``.
MAX_GAP = 4
#: A concept said with a negation among this many words before it does not count
#: ("I'm not able to give you your money back": six words from "not" to "money").
NEGATION_WINDOW = 6
#: "Or" and "nor" carry a negation on to the next thing named: "I'm not able to offer a refund or an
#: exchange" offers neither. The window starts again at each one. ("And" does not: "I can't refund
#: it and I'll give you a voucher" offers the voucher.)
_COORDINATORS = frozenset({"or", "nor", "o", "u", "ni"})
#: Words that only add emphasis: a phrasing matches with one of them between two of its words
#: ("did you even read the manual" is "did you read the manual"; "¿ha leído siquiera el manual?").
FILLERS = frozenset(
    """actually even really ever just honestly seriously truly totally definitely literally basically exactly
    realmente siquiera acaso simplemente""".split()
)
#: Negations that negate nothing that follows: "no problem, ...", "not a problem", "no worries",
#: "no matter what", "no later than Friday". "Not just" and "not only" keep what follows ("you're not
#: just using it wrong?").
_IDIOMS = frozenset({"problem", "worry", "doubt", "just", "only", "matter", "later"})
#: A modal before "not just" makes it a refusal: "I can't just refund it", "we won't just swap it".
_MODALS = frozenset({"can", "could", "will", "would", "shall", "should", "may", "might", "must", "cannot"})


#: Control characters: C0 except tab, newline and carriage return, DEL, and C1. Nothing a person
#: types; a NUL or an escape sequence in stored text breaks exports, logs and terminals. The one
#: definition every plugin uses (learner messages, names, titles, storage keys).
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
#: The same for a one-line value (a title, a header, a storage key): tab and line breaks count too.
CONTROL_ONE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def control_character(text: str, *, one_line: bool = False) -> str | None:
    """The first control character in ``text`` as ``"U+0000"``, or ``None`` (see :data:`CONTROL`)."""
    found = (CONTROL_ONE_LINE if one_line else CONTROL).search(text)
    return None if found is None else f"U+{ord(found.group()):04X}"


def fold_han(text: str) -> str:
    """Chinese variant characters unified ('甚麼' -> '什麼', '妳' -> '你', Simplified '发票' -> '發票');
    the length never changes."""
    return text.translate(_HAN_VARIANTS).replace("甚麼", "什麼")


def fold(text: str) -> str:
    """Lower case, accents stripped, curly apostrophes straightened: 'Qué' -> 'que', 'Don’t' -> "don't"."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_APOSTROPHES))
    return fold_han("".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold())


def stem(word: str) -> str:
    """A deliberately light stemmer: plurals and common verb endings, never below 3 letters.

    ``stem("apologies") == "apology"``, ``stem("refunded") == "refund"``,
    ``stem("devoluciones") == "devolucion"``.
    """
    if word.isdigit() or len(word) <= 3:
        return word
    for suffix, replacement in (("ies", "y"), ("sses", "ss"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) + len(replacement) >= 3:
            if suffix == "s" and word.endswith(("ss", "us", "is")):
                return word
            word = word[: -len(suffix)] + replacement
            break
    # A final silent e goes too, so "outcome" and "outcomes", "deadline" and "deadlines", "cliente"
    # and "clientes", "apologise" and "apologised" meet; short words keep it ("made" is not "mad").
    if word.endswith("e") and len(word) >= 5:
        word = word[:-1]
    return word


def is_cjk(word: str) -> bool:
    """Whether ``word`` is written in Han or kana (a character pair token, or a run of them)."""
    return bool(word) and _CJK_RUN.fullmatch(word) is not None


@attrs.frozen(slots=True)
class Token:
    """One normalised word and where it stands in the original text (``text[start:end]``)."""

    norm: str
    start: int
    end: int


def _expand(word: str) -> tuple[str, ...]:
    """English contractions as their words: "don't" -> ("do", "not"); a possessive 's dropped."""
    if word in _CONTRACTIONS:
        return _CONTRACTIONS[word]
    for suffix, replacement in _SUFFIXES:
        if word.endswith(suffix) and len(word) > len(suffix):
            return (word[: -len(suffix)], replacement)
    if word.endswith("'s"):
        return (word[:-2],)
    return tuple(part for part in word.split("'") if part)


@lru_cache(maxsize=16384)  # chat, the rules and lint read the same messages: tokenise each once
def tokens(text: str) -> tuple[Token, ...]:
    """The words of ``text``, normalised, each with its span in ``text``."""
    found: list[Token] = []
    for match in _WORD.finditer(text):
        word, start, end = match.group(), match.start(), match.end()
        if _CJK_RUN.fullmatch(word):
            word = fold_han(word)
            if len(word) == 1:
                found.append(Token(word, start, end))
            else:
                found.extend(Token(word[i: i + 2], start + i, start + i + 2) for i in range(len(word) - 1))
            continue
        found.extend(Token(norm, start, end) for norm in _word_norms(word, text[end:end + 1] in ("'", "\u2019")))
    return tuple(found)


@lru_cache(maxsize=65536)  # a language's everyday words come back in every message
def _word_norms(word: str, apostrophe_after: bool) -> tuple[str, ...]:
    """The normalised words one written word stands for: folded, contractions expanded, stemmed."""
    folded = fold(word)
    if apostrophe_after and _DROPPED_G.search(folded):
        folded += "g"  # "comin'" is "coming", "gettin'" "getting": the apostrophe stands for the g
    return tuple(stem(part) for part in _expand(folded))


#: A word written with its final g dropped, before the apostrophe that marks it ("comin'", "doin'",
#: "nothin'"); not a word that ends in -in anyway, closing a quote ("the 'pain'", "'again'").
_DROPPED_G = re.compile(r"^(?!.*(?:ain|ein|within|begin|cabin|margin|origin|cousin|robin|basin|raisin|toxin|"
                        r"vitamin|violin|penguin|napkin|muffin|coffin|pumpkin|cumin|insulin|aspirin|heparin|"
                        r"warfarin|statin|skin|thin|twin|spin|grin|chin|akin|shin)$)[a-z]{2,}in$")


def norms(text: str) -> list[str]:
    """Just the normalised words of ``text``, in order."""
    return [token.norm for token in tokens(text)]


def content(words: Sequence[str]) -> list[str]:
    """Drop stopwords, unless that would leave nothing ("how are you" stays as it is)."""
    kept = [w for w in words if w not in STOPWORDS]
    return kept or list(words)


def only_function_words(phrase: str) -> bool:
    """True when every word of ``phrase`` is a function word ("what can I do for you"): such a
    phrase says no idea of its own and must be matched whole, never by its words."""
    words = norms(phrase)
    return bool(words) and not any(is_cjk(w) for w in words) and all(w in FUNCTION_WORDS for w in words)


def word_count(text: str) -> int:
    """Words of ``text``; in Han and kana, which have no spaces, each character counts as one."""
    return sum(len(w) if _CJK_RUN.fullmatch(w) else 1 for w in _WORD.findall(text))


# -- sentences ----------------------------------------------------------------------------


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


@lru_cache(maxsize=8192)
def sentences(text: str) -> tuple[tuple[int, int], ...]:
    """Spans of the sentences of ``text`` (ending at . ! ? or a new line; '¿' and '¡' open one)."""
    spans: list[tuple[int, int]] = []
    begin = 0
    for mark in _SENTENCE_END.finditer(text):
        opener = mark.group()[0] in "\u00bf\u00a1"
        stop = mark.start() if opener else mark.end()
        if text[begin:stop].strip():
            spans.append(_trim(text, begin, stop))
        begin = mark.start() if opener else mark.end()
    if text[begin:].strip():
        spans.append(_trim(text, begin, len(text)))
    return tuple(spans)


def sentence_around(text: str, start: int, end: int, limit: int = 240) -> tuple[int, int]:
    """The span of the sentence holding ``[start, end)``; just ``[start, end)`` when that sentence
    is longer than ``limit`` characters (a run-on speech transcript)."""
    for left, right in sentences(text):
        if left <= start < right or left < end <= right:
            left, right = min(left, start), max(right, end)
            return (left, right) if right - left <= limit else (start, end)
    return start, end


# -- patterns -----------------------------------------------------------------------------


@attrs.frozen(slots=True)
class Element:
    """One word of a pattern: an exact normalised word, or a prefix (``word*``)."""

    text: str
    prefix: bool = False
    #: How many words may stand before this one (0, or MAX_GAP after ``...``).
    gap: int = 0

    def accepts(self, norm: str) -> bool:
        if self.prefix:
            return norm.startswith(self.text)
        if len(self.text) == 1 and is_cjk(self.text):  # one Han character inside a pair token
            return self.text in norm
        return norm == self.text


_FILLER_NORMS = frozenset(norm for word in FILLERS for norm in norms(word))
# Tokens are stemmed ("nothing" reads "noth", "unable" "unabl"): negations are compared the same way.
_NEGATION_NORMS = NEGATIONS | frozenset(norm for word in NEGATIONS for norm in norms(word))


@attrs.frozen
class Pattern:
    """A phrasing: ``put ... back on ... card``, ``reimburs*``, ``退...錢``.

    Matched against a message's tokens in order; ``...`` lets up to :data:`MAX_GAP`
    other words stand between its neighbours.
    """

    source: str
    elements: tuple[Element, ...]

    @classmethod
    def parse(cls, phrase: str) -> Pattern:
        elements: list[Element] = []
        gap = 0
        for part in re.split(r"(\.\.\.|\u2026)", phrase):
            if part in ("...", "\u2026"):
                gap = MAX_GAP if elements else 0
                continue
            for raw in part.split():
                if raw.endswith("*") and len(raw.rstrip("*")) >= 3 and not _CJK_RUN.search(raw):
                    head = fold(raw.rstrip("*"))
                    stemmed = stem(head)  # "deadline*" must find "deadlines", whose token is "deadlin"
                    elements.append(Element(stemmed if len(stemmed) >= 3 else head, prefix=True, gap=gap))
                    gap = 0
                    continue
                for token in tokens(raw.replace("*", "")):
                    # Han text is read as overlapping pairs: N characters between two parts are N + 1
                    # pairs, so a Chinese gap allows one more token than a gap between words.
                    elements.append(Element(token.norm, gap=gap + 1 if gap and is_cjk(token.norm) else gap))
                    gap = 0
        return cls(phrase, tuple(elements))

    @property
    def negative(self) -> bool:
        """The phrasing itself negates ("not your fault", "nothing I can do"): no negation check."""
        return any(e.text in _NEGATION_NORMS or _ZH_NEGATION.search(e.text) for e in self.elements)

    def match_at(self, toks: Sequence[Token], i: int, stop: int) -> int | None:
        """The index after the last token matched when the pattern starts at token ``i``; else None."""
        if not self.elements or not self.elements[0].accepts(toks[i].norm):
            return None
        return self._rest(toks, 1, i + 1, stop)

    def _rest(self, toks: Sequence[Token], k: int, j: int, stop: int) -> int | None:
        if k == len(self.elements):
            return j
        element = self.elements[k]
        # One word of emphasis may stand where the phrasing has none ("did you even read").
        reach = element.gap + 1 if element.gap or j >= stop or toks[j].norm not in _FILLER_NORMS else 2
        for position in range(j, min(stop, j + reach)):
            if element.accepts(toks[position].norm):
                found = self._rest(toks, k + 1, position + 1, stop)
                if found is not None:
                    return found
        return None

    def search(self, text: str, *, affirmative: bool = False, limits: bool = False) -> tuple[int, int] | None:
        """The character span of the first match in ``text``, within one sentence; else None.

        With ``affirmative``, a match said under a negation is passed over, as
        :meth:`Lexicon.find` does for concepts.
        """
        toks = tokens(text)
        narration = narrated_spans(text) if affirmative else ()
        for begin, end in _sentence_token_ranges(text, toks):
            for i in range(begin, end):
                j = self.match_at(toks, i, end)
                if j is None:
                    continue
                if affirmative and (any(a <= toks[i].start < b for a, b in narration) or not self.negative and (
                        _negated(text, toks, begin, i) or _reported(text, toks, begin, i, toks[end - 1].end + 2)
                        or (not limits and _restricted(text, toks, j, toks[end - 1].end + 2)))):
                    continue
                return toks[i].start, toks[j - 1].end
        return None


def _sentence_token_ranges(text: str, toks: Sequence[Token]) -> list[tuple[int, int]]:
    """For each sentence of ``text``, the range of token indexes inside it."""
    ranges: list[tuple[int, int]] = []
    i = 0
    for _, end in sentences(text):
        first = i
        while i < len(toks) and toks[i].start < end:
            i += 1
        if i > first:
            ranges.append((first, i))
    if i < len(toks):
        ranges.append((i, len(toks)))
    return ranges


# -- lexicons -----------------------------------------------------------------------------


@attrs.frozen(slots=True)
class Hit:
    """A concept said in a text: ``text[start:end]`` is the phrasing as said."""

    concept: str
    phrasing: str
    start: int
    end: int
    #: Which sentence of the text (0-based) it stands in.
    sentence: int
    #: Said under a negation ("I can't offer a refund"), as the other person's wish ("I know you
    #: want a refund") or hedged ("we'll see whether it's a refund"): it does not count as saying it.
    negated: bool = False
    #: Said as the subject of a limit ("refunds are only within 14 days", "misuse isn't covered"):
    #: ``negated`` too, for it offers nothing, but it was said, which a phrase to avoid counts.
    limited: bool = False


def _language_file(language: str) -> str | None:
    """The built-in lexicon file for a BCP 47 tag: exact, then zh-Hant for Traditional regions,
    then the primary language."""
    tag = language.lower()
    parts = tag.split("-")
    names = [language]
    if parts[0] == "zh" and any(p in ("hant", "tw", "hk", "mo") for p in parts[1:]):
        names.append("zh-Hant")
    names.append(parts[0])
    available = {p.name[:-5].lower(): p.name for p in resources.files("roleplay_core.lexicons").iterdir()
                 if p.name.endswith(".toml")}
    for name in names:
        if name.lower() in available:
            return available[name.lower()]
    return None


@lru_cache(maxsize=32)
def builtin_lexicon(language: str) -> Mapping[str, tuple[str, ...]]:
    """The kernel's built-in concepts and their phrasings for ``language`` (empty when none ship)."""
    name = _language_file(language)
    if name is None:
        return {}
    data = tomllib.loads(resources.files("roleplay_core.lexicons").joinpath(name).read_text("utf-8"))
    return {str(concept): tuple(str(p) for p in phrasings) for concept, phrasings in data.items()
            if isinstance(phrasings, list)}


def _plain(element: Element) -> bool:
    """A word matched exactly, right after the one before it (no gap, no prefix, not one Han
    character read inside a pair)."""
    return not (element.prefix or element.gap or (len(element.text) == 1 and is_cjk(element.text)))


def _order(entry: tuple[int, str, Pattern]) -> int:
    return entry[0]


class Lexicon:
    """Concepts and every phrasing that says each: a script's ``synonyms`` plus the built-in lexicon.

    >>> lexicon = Lexicon({"refund": ["money back", "put ... back on ... card"]}, "en", builtin=False)
    >>> [h.concept for h in lexicon.find("I can put the full $349 back on your card right now")]
    ['refund']
    >>> [h.negated for h in lexicon.find("Sorry, I can't give you your money back.")]
    [True]
    """

    def __init__(self, concepts: Mapping[str, Iterable[str]], language: str = "en", *, builtin: bool = True):
        merged: dict[str, list[str]] = {}
        if builtin:
            for concept, phrasings in builtin_lexicon(language).items():
                merged.setdefault(concept, []).extend(phrasings)
        for concept, phrasings in concepts.items():
            merged.setdefault(concept, []).extend(phrasings)
        self.language = language
        self.phrasings: dict[str, tuple[str, ...]] = {}
        self.patterns: dict[str, tuple[Pattern, ...]] = {}
        #: Where to look for the patterns a token may start, each with its place in the order
        #: phrasings were given (the first that matches at a token is the one a hit reports):
        #: by their first two words where both are plain words with no gap between them (most
        #: phrasings: "i understand" is not tried at every "i"), else by their first word, and
        #: prefix patterns by their first three letters.
        self._by_pair: dict[tuple[str, str], list[tuple[int, str, Pattern]]] = {}
        self._by_first: dict[str, list[tuple[int, str, Pattern]]] = {}
        self._by_prefix: dict[str, list[tuple[int, str, Pattern]]] = {}
        order = 0
        self._by_phrase: dict[tuple[str, ...], str] = {}
        for concept, phrasings in merged.items():
            own = concept.replace("_", " ").replace("-", " ")
            unique = list(dict.fromkeys(p for p in (own, *phrasings) if p and p.strip()))
            patterns = []
            for phrasing in unique:
                pattern = Pattern.parse(phrasing)
                if not pattern.elements:
                    continue
                patterns.append(pattern)
                first = pattern.elements[0]
                entry = (order, concept, pattern)
                order += 1
                if first.prefix:
                    self._by_prefix.setdefault(first.text[:3], []).append(entry)
                elif len(first.text) == 1 and is_cjk(first.text):
                    self._by_prefix.setdefault(first.text, []).append(entry)
                elif len(pattern.elements) > 1 and _plain(pattern.elements[1]):
                    self._by_pair.setdefault((first.text, pattern.elements[1].text), []).append(entry)
                else:
                    self._by_first.setdefault(first.text, []).append(entry)
                key = tuple(e.text for e in pattern.elements)
                if not any(e.prefix or e.gap for e in pattern.elements):
                    self._by_phrase.setdefault(key, concept)
            self.phrasings[concept] = tuple(unique)
            self.patterns[concept] = tuple(patterns)
        for concept in merged:  # a phrase that names a concept means that concept first
            self._by_phrase[tuple(norms(concept.replace("_", " ").replace("-", " ")))] = concept

    def __contains__(self, concept: str) -> bool:
        return concept in self.patterns

    def concept_of(self, phrase: str) -> str | None:
        """The concept ``phrase`` names: a concept's own name, or exactly one of its plain phrasings."""
        if phrase in self.patterns:
            return phrase
        return self._by_phrase.get(tuple(norms(phrase)))

    def _candidates(self, toks: Sequence[Token], i: int, stop: int) -> list[tuple[int, str, Pattern]]:
        """The patterns that may match from token ``i`` (of a sentence ending before ``stop``): those
        starting with its word in the order they were given, then the prefix patterns. A pattern
        filed by its first two words can only match where the second is the next token, or the one
        after a word of emphasis (:meth:`Pattern._rest`)."""
        norm = toks[i].norm
        found = list(self._by_first.get(norm, ()))
        if i + 1 < stop:
            found += self._by_pair.get((norm, toks[i + 1].norm), ())
            if i + 2 < stop and toks[i + 1].norm in _FILLER_NORMS:
                found += self._by_pair.get((norm, toks[i + 2].norm), ())
            if len(found) > 1:
                found.sort(key=_order)
        if len(norm) >= 3:
            found += self._by_prefix.get(norm[:3], ())
        if is_cjk(norm):
            for char in dict.fromkeys(norm):
                found += self._by_prefix.get(char, ())
        return found

    def find(self, text: str, concepts: Iterable[str] | None = None) -> list[Hit]:
        """Every concept said in ``text``: the first place per concept and sentence, in text order.

        Restricted to ``concepts`` when given. A concept said under a negation is
        reported with ``negated=True`` (and callers count it as not said).
        """
        wanted = None if concepts is None else set(concepts)
        return [h for h in _find(self, text) if wanted is None or h.concept in wanted]

    def said(self, text: str, concept: str, *, limits: bool = False) -> Hit | None:
        """The first place ``concept`` is said, not negated, in ``text``; else None. With ``limits``,
        a place where it is the subject of a limit counts too (for a phrase to avoid)."""
        return next((h for h in _find(self, text)
                     if h.concept == concept and (not h.negated or (limits and h.limited))), None)

    def concepts_in(self, text: str) -> list[str]:
        """The concepts said (not negated) in ``text``, in the order first said."""
        return list(dict.fromkeys(h.concept for h in _find(self, text) if not h.negated))


_FOUND: OrderedDict[tuple[int, str], tuple[Lexicon, tuple[Hit, ...]]] = OrderedDict()


def _find(lexicon: Lexicon, text: str) -> tuple[Hit, ...]:
    """Every hit of ``lexicon`` in ``text``, cached: chat, the rules and the report ask repeatedly."""
    key = (id(lexicon), text)
    cached = _FOUND.get(key)
    if cached is not None and cached[0] is lexicon:
        return cached[1]
    toks = tokens(text)
    narration = narrated_spans(text)
    best: dict[tuple[str, int], Hit] = {}
    for number, (begin, end) in enumerate(_sentence_token_ranges(text, toks)):
        for i in range(begin, end):
            for _, concept, pattern in lexicon._candidates(toks, i, end):
                earlier = best.get((concept, number))
                if earlier is not None and not earlier.negated:
                    continue  # the first affirmative place per concept and sentence is enough
                j = pattern.match_at(toks, i, end)
                if j is None:
                    continue
                start = toks[i].start
                first = pattern.elements[0].text
                if len(first) == 1 and is_cjk(first) and toks[i].norm[0] != first:
                    start += 1  # one Han character matched as the second of a pair
                before = any(a <= start < b for a, b in narration) or not pattern.negative and (
                    _negated(text, toks, begin, i, start) or _reported(text, toks, begin, i, toks[end - 1].end + 2, start))
                limited = not pattern.negative and not before and _restricted(text, toks, j, toks[end - 1].end + 2)
                negated = before or limited
                if earlier is None or not negated:
                    best[(concept, number)] = Hit(concept, pattern.source, start, toks[j - 1].end, number,
                                                  negated, limited)
    hits = list(best.values())
    hits.sort(key=lambda h: (h.start, h.concept))
    result = tuple(hits)
    _FOUND[key] = (lexicon, result)
    if len(_FOUND) > 8192:
        _FOUND.popitem(last=False)
    return result


#: Saying what the other person wants is not offering it: "I know you want your money back" does
#: not offer a refund, "Do you want your money back?" does (a question is an offer).
_DESIRE_EN = frozenset(stem(w) for w in ("want", "wanted", "like", "ask", "asking", "after", "expect", "hope"))
#: Spanish wishes, as stems: "quiere", "quería", "pide", "desea" (never "pedido", an order).
_DESIRE_ES = frozenset({"quier", "queria", "quisiera", "pide", "pidio", "pedia", "desea", "deseaba", "buscaba"})
_ZH_DESIRE = re.compile(r"[您你妳][想要希]|[您你妳]要求|[您你妳]希望|看是要|評估|评估|或許|或许|也許|也许|看看是")
#: Saying something might happen is not doing it: "they'll get back to you about whether it's a
#: refund", "maybe a replacement", "a ver si hay reembolso". A question still offers.
_HEDGES = frozenset(stem(w) for w in ("whether", "maybe", "perhaps", "possibly", "might", "depends", "quizas", "quiza",
                                       "talvez", "depende", "posiblemente"))


#: Spanish said of nobody, in the conditional: "se podría pedir el reembolso" (one could ask for it).
_ES_IMPERSONAL = frozenset({"podria", "deberia", "tendria"})
#: After a hedge, the speaker and a modal: a proposal ("perhaps we could", "quizás podamos").
_PROPOSAL = re.compile(r"^(?:(?:you and )?(?:we|i) (?:could|can|should|might)|(?:tu y )?yo pued|podamo|podriamo|"
                       r"pod[ae]mo)\b")
#: The hedges that soften a proposal ("perhaps we could"); "whether we can" still only wonders.
_SOFTENERS = frozenset(stem(w) for w in ("maybe", "perhaps", "possibly", "quizas", "quiza", "talvez"))
#: After a hedge, the speaker judging themself: "maybe I'm making too much of it", "perhaps I was
#: just overreacting" is said, a judgement put gently, not something that might happen.
_SELF_JUDGED = re.compile(r"^i (?:am|was)(?: \w+)?$")
#: Asking someone to tell, gently: "whether you might tell me", "perhaps you could describe".
_REQUEST = re.compile(r"\byou (?:might|could|would|can) (?:tell|describ|share|walk|talk|giv|say|explain)")


def _reported(text: str, toks: Sequence[Token], sentence_begin: int, i: int, sentence_end: int,
              start: int | None = None) -> bool:
    """Whether the words before token ``i`` (or character ``start``, where a match begins inside a
    Han pair: 想退錢 is read as 想退, 退錢) report the other person's wish, or hedge, rather than offer."""
    close = text[toks[i].end: sentence_end].rstrip()
    if close.endswith(("?", "\uff1f")):
        return False
    if is_cjk(toks[i].norm):
        start = toks[i].start if start is None else start
        window = re.split(_CLAUSE, fold_han(text[max(0, start - 4): start]))[-1]
        return bool(_ZH_DESIRE.search(window))
    if i >= sentence_begin + 2 and toks[i - 1].norm in _POLICY_LINKS and toks[i - 2].norm in _POLICY:
        return True  # "la política de reembolso", "our policy on refunds": a rule named
    for k in range(i - 1, max(sentence_begin, i - NEGATION_WINDOW) - 1, -1):
        if _CLAUSE.search(text[toks[k].end: toks[k + 1].start]):
            return False
        norm = toks[k].norm
        if norm in _COPULAS and k > sentence_begin and toks[k - 1].norm in _POLICY:
            return True  # "our policy is a full refund within 30 days": the rule's content, not an offer
        if norm in _HEDGES:
            # "Perhaps we could agree...", "maybe you and I can...": a proposal put gently; "I wonder
            # whether you might tell me of an error": a request put gently. Neither is a hedge.
            after = " ".join(t.norm for t in toks[k + 1: i])
            around = " ".join(t.norm for t in toks[max(sentence_begin, k - 2): i])
            return not ((norm in _SOFTENERS and (_PROPOSAL.match(after) or _SELF_JUDGED.match(after)))
                        or _REQUEST.search(around))
        if norm in _ES_IMPERSONAL and k > sentence_begin and toks[k - 1].norm == "se":
            return True  # "se podría pedir el reembolso": nobody does it
        if norm in _DESIRE_ES or (norm in _DESIRE_EN and any(
                t.norm in ("you", "your", "she", "he", "they") for t in toks[max(sentence_begin, k - 2): k])):
            return True
    return False


#: "Only" just after a concept makes it the subject of a restriction, not an offer: "refunds are
#: only within 14 days", "el reembolso solo se realiza en 30 días", 退款只有七天 (folded stems).
#: So does a negation: "a refund isn't something I can do", "el reembolso no es posible",
#: 退款的部分不是我們可以處理的.
_RESTRICTIONS = frozenset({"only", "solo", "solament", "unicament"})
#: So does calling it hard, a few words on: "refunds are a bit tricky for me", "el reembolso es un poco
#: complicado" (folded stems).
_DIFFICULT = frozenset(stem(w) for w in ("tricky", "difficult", "complicated", "dificil", "complicado", "complicada"))
#: ...and 退款的話……可能……比較不太容易, 退款有點難: said to be hard, not offered.
_ZH_DIFFICULT = re.compile(r"^.?(?:的話|的话)?[\s…\.。，,]*(?:可能|應該|应该)?[\s…\.。，,]*(?:比較|比较|有點|有点|有些|蠻|蛮|很)?"
                           r"(?:不太容易|不容易|不好辦|不好办|難辦|难办|困難|困难|難|难)")
#: A thing named as a kind of rule ("refund policy", "the 30-day refund window", "la política de
#: reembolsos", 退款規定) is the rule's subject: stating the rule offers nothing.
_POLICY = frozenset(stem(w) for w in ("policy", "policies", "rules", "rule", "terms", "window", "period", "politica",
                                       "politicas", "norma", "normas", "normativa", "condiciones", "plazo"))
_POLICY_LINKS = frozenset({"on", "for", "of", "de", "sobre", "para"})
#: "The policy is...", "la norma es...": what follows is the rule's content.
_COPULAS = frozenset({"is", "are", "es", "son"})
# Han text is read in overlapping pairs, so the matched pair may end on the character after the
# concept: look from its last character.
_ZH_RESTRICTION = re.compile(r"^.?\s*(?:都|也)?(?:只|僅|仅)")
_ZH_AFTER_NEGATION = re.compile(r"^.?(?:的部分|這部分|的話|的话|方面)?\s*"
                                # Said of the speaker, the shop, here: "退錢我哋呢度做唔到", "退款我們這邊辦不到".
                                r"(?:(?:我們|我们|我哋|我|本店|店裡|店里|這邊|这边|這裡|这里|呢度|呢邊|今天|今日|暫時|暂时)"
                                r"\s*){0,3}"
                                r"(?:都|也|就|是|並|还|還|係)?(?:不是|不能|不行|不可以|唔係|唔可以|唔得|唔能夠|"
                                r"做不到|辦不到|办不到|做唔到|搞唔到|整唔到|冇辦法|冇得|唔會|"
                                r"沒辦法|没办法|無法|无法|不會|不会|"
                                # Not needed, not to be shown: "發票不用看了" checks no receipt. "退款不用等"
                                # (no wait for the refund) still offers it.
                                r"(?:不用|不必|不需要|不需)(?:了|看|给|給|拿|出示|提供|檢查|检查|查|帶|带))")


#: The rest of a list after its first item: "、換貨、維修" (kept: the item's last character before it).
_ZH_LIST_REST = re.compile(r"(?<=^.)(?:[、和或跟][\u4e00-\u9fff]{1,4})+(?=[都也])")
#: "退款規定", "退貨的政策": the thing names a rule.
_ZH_POLICY = re.compile(r"^.?(?:的)?(?:政策|規定|规定|規則|规则|辦法|办法|期限)")
#: "...都有可能", "...不一定": said to be possible, or not certain, the thing is not offered.
_ZH_AFTER_HEDGE = re.compile(r"^.?\s*(?:都|也)?(?:有可能|不一定|說不定|说不定)")
#: "退款的話，通常要先送檢測...才可以": a condition put on the thing, not an offer of it; and "...換貨或
#: 維修，要看情況": it depends.
_ZH_CONDITION = re.compile(r"^.?(?:的話|的话)[，,]?[^。！？!?]{0,20}?(?:要先|得先|必須|必须|需要先|才可以|才能|才行)|"
                           r"^.?(?:[、和或跟][\u4e00-\u9fff]{1,4})*\s*[，,]?\s*(?:要看情況|要看情况|看情況|看情况|視情況|视情况)")


def _restricted(text: str, toks: Sequence[Token], j: int, sentence_end: int) -> bool:
    """Whether "only", or a negation, follows the match that ended before token ``j``, within three
    words and one clause: the sentence states a limit on the thing ("refunds only apply if...",
    "a refund is not possible"), it does not offer it. "No problem" and the like negate nothing."""
    if j > 0 and is_cjk(toks[j - 1].norm):
        end = toks[j - 1].end
        # A list of things shares what follows it: "退款、換貨、維修都有可能" hedges all three.
        after = _ZH_LIST_REST.sub("", fold_han(text[end - 1: end + 24]), count=1)
        if _ZH_CONDITION.match(after):
            return True
        if _ZH_DIFFICULT.match(after):
            return True
        after = re.split(_CLAUSE, after[:13])[0]
        return bool(_ZH_RESTRICTION.match(after) or _ZH_AFTER_NEGATION.match(_ZH_NOT_NEGATION.sub("", after))
                    or _ZH_AFTER_HEDGE.match(after) or _ZH_POLICY.match(after))
    if j < len(toks) and toks[j].start < sentence_end and toks[j].norm in _POLICY \
            and not _CLAUSE.search(text[toks[j - 1].end: toks[j].start]):
        return True  # "our refund policy is 15 days": the policy is named, nothing is offered
    # The next words in the same sentence and clause: "a bit tricky" reaches four, "only" and a
    # negation three.
    ahead: list[int] = []
    for k in range(j, min(len(toks), j + 4)):
        if toks[k].start >= sentence_end or _CLAUSE.search(text[toks[k - 1].end: toks[k].start]):
            break
        ahead.append(k)
    if any(toks[k].norm in _DIFFICULT for k in ahead):
        return True
    for k in ahead[:3]:
        if toks[k].norm in _RESTRICTIONS:
            return True
        if toks[k].norm in _NEGATION_NORMS:
            # "¿Desde cuándo no funciona?": in a question the negation is part of what is asked.
            if text[toks[k].end: sentence_end].rstrip().endswith(("?", "\uff1f")):
                return False
            return not any(t.norm in _IDIOMS for t in toks[k + 1: k + 3])
    return False


#: Saying what one would do is not doing it: "At this point I'd ask her for the receipt", "Then I'd
#: agree next steps with him", "en este momento le pediría el tique". From the words that start the
#: narration to the end of the sentence. "I'd like to offer you a refund" and "I'd say that sounds
#: awful" are said to the other person, so the verbs are those of narrating a plan, and those said
#: to a third person ("offer her", "ask him").
_NARRATION = re.compile(
    r"\b(?:(?:at this point,?|at that point,?|this is where) (?:i|we)(?:'d|\u2019d| would)|"
    r"(?:i|we)(?:'d|\u2019d| would)(?: \w+ly| then| now| also| first| just)? "
    r"(?:apologi[sz]e|check|explain|describe|mention|acknowledge|empathi[sz]e|summari[sz]e|move on|go (?:through|over|into)|"
    r"pull up|look (?:up|at|into)|confirm|process|reassure|introduce|start|agree|close|probe|follow up|invite|wrap up|"
    r"cover|discuss|find out|do the same|(?:ask|offer|tell|give|thank|show|let) (?:her|him|them)|"
    r"ask (?:for|about|if|whether))|"
    r"(?:le |la |lo |me |se )?(?:pediría|ofrecería|comprobaría|revisaría|explicaría|preguntaría|disculparía|"
    r"miraría|propondría|resumiría|cerraría))\b", re.IGNORECASE)
#: An aside in brackets that says what the speaker would do: "(I'd then ask if she has questions)",
#: "（這邊我會先跟她道歉）", "（我通常會在這裡查系統）". A stage direction of what is done now
#: ("*checks the receipt*", "（看發票）") is part of the scene and stays.
_BRACKETED = re.compile(r"[(\uff08\[\u3010][^)\uff09\]\u3011]*[)\uff09\]\u3011]")
_WOULD = re.compile(r"\b(?:i|we)(?:'d|\u2019d| would| will|'ll)\b|\bi(?:'m| am) (?:going|gonna)\b|ría\b|"
                    r"我.{0,3}(?:會|会|覺得|觉得)", re.IGNORECASE)


@functools.lru_cache(maxsize=1024)
def narrated_spans(text: str) -> tuple[tuple[int, int], ...]:
    """The character spans of ``text`` that narrate what the speaker would do instead of doing it.

    Cached: the engine's word matching, the lexicon and every phrase of a check ask about the same
    message in turn."""
    spans = [match.span() for match in _BRACKETED.finditer(text) if _WOULD.search(match.group())]
    if _NARRATION.search(text) is not None:
        for start, end in sentences(text) or ((0, len(text)),):
            found = _NARRATION.search(text, start, end)
            if found is not None:
                spans.append((found.start(), end))
    return tuple(spans)


#: Asking what someone would do, not what they did (English, Spanish, Chinese), on lower-case text.
_HYPOTHETICAL = {
    "en": re.compile(r"\b(?:imagine|suppos(?:e|ing)|hypothetical(?:ly)?|what if|let'?s say|let us say|say you|"
                     r"if you were|would you|you'?d|you would|how would|what would|where would|who would|"
                     # What is still to come is no story either: "what happens next" is not "what happened
                     # next" (one stem), it tells or asks about the process after today.
                     r"what happens (?:next|now|after|from here)|what(?: i|')s next|what will happen|"
                     r"what(?: i|')s going to happen)\b"),
    "es": re.compile(r"\b(?:imagin[ae]|supong(?:a|amos)|hipot[eé]tic\w*|qu[eé] har[ií]as?|c[oó]mo har[ií]as?|"
                     r"c[oó]mo (?:lo )?manejar[ií]as?|si (?:usted )?fuera|si fueras|qu[eé] pasar[ií]a si)\b"),
    "zh": re.compile(r"假設|假如|如果你是|如果您是|你會怎麼|您會怎麼|會怎麼做|要是"),
}
#: ...unless the sentence asks about the past all the same ("Would you tell me about a time when...?").
_PAST = {
    "en": re.compile(r"\b(?:a time|did you|have you ever|has there been|was there|were there|an example of|"
                     r"in the past|last time|your last|your previous)\b"),
    "es": re.compile(r"\b(?:alguna vez|una vez|una ocasi[oó]n|qu[eé] hizo|qu[eé] hiciste|c[oó]mo lo hizo|"
                     r"en el pasado|la [uú]ltima vez)\b"),
    "zh": re.compile(r"曾經|有沒有.{0,6}過|那次|當時|以前|上一次"),
}


def hypothetical(text: str, at: int, language: str | None = None) -> bool:
    """Whether the sentence holding character ``at`` asks what someone *would* do rather than what
    they did: "What would you do if a colleague stopped pulling their weight?", "Imagine...",
    "Suppose...", or speaks of what is still to come ("Just so you know what happens next..."). The
    sentence before it in the same message counts when it sets the scene ("Imagine two colleagues
    disagree. How do you handle it?"). A sentence that asks about the past all the same is not
    ("Would you tell me about a time when...?"). For beats marked ``past``."""
    code = "zh" if (language or "").startswith("zh") else "es" if (language or "").startswith("es") else "en"
    spans = sentences(text) or ((0, len(text)),)
    index = next((n for n, (start, end) in enumerate(spans) if start <= at < end), len(spans) - 1)
    here = text[spans[index][0]:spans[index][1]].lower().translate(_APOSTROPHES)
    if _PAST[code].search(here):
        return False
    if _HYPOTHETICAL[code].search(here):
        return True
    if index:
        before = text[spans[index - 1][0]:spans[index - 1][1]].lower().translate(_APOSTROPHES)
        return bool(_HYPOTHETICAL[code].search(before)) and not _PAST[code].search(before)
    return False


#: A sentence that judges what someone told rather than asking about it: "Sounds like you handled it
#: well.", "Parece que lo resolvió bien.", 聽起來您處理得很好。
_JUDGED = {
    "en": re.compile(r"\b(?:sounds?|sounded|seems?|seemed|looks?|looked) (?:like|as if|as though)\b|"
                     r"\b(?:well done|good job|great job|nice job|nice one|good on you|fair play)\b"),
    "es": re.compile(r"\b(?:parece que|suena a que|suena como|se nota que|qu[eé] bien que|bien hecho|muy bien hecho)\b"),
    "zh": re.compile(r"聽起來|听起来|看起來|看起来|看來|看来|做得很好|做得好"),
}


def judged(text: str, at: int, language: str | None = None) -> bool:
    """Whether the sentence holding character ``at`` judges the other person's story instead of
    asking about it: "Cool, sounds like you handle it well." A question is still asked ("Sounds like
    it got tense: how did you handle it?"). For beats marked ``past``: praise is not a probe."""
    code = "zh" if (language or "").startswith("zh") else "es" if (language or "").startswith("es") else "en"
    spans = sentences(text) or ((0, len(text)),)
    start, end = next(((b, e) for b, e in spans if b <= at < e), spans[-1])
    here = text[start:end].strip()
    if here.endswith(("?", "\uff1f")) or here.startswith("\u00bf"):
        return False
    return bool(_JUDGED[code].search(here.lower().translate(_APOSTROPHES)))


def _negated(text: str, toks: Sequence[Token], sentence_begin: int, i: int, start: int | None = None) -> bool:
    """Whether a negation stands among the few words before token ``i`` (or character ``start``,
    where a match begins inside a Han pair), in the same clause."""
    start = toks[i].start if start is None else start
    if is_cjk(toks[i].norm):
        # Ten characters: enough to see a whole 要不要 (a question, not a negation) before the word,
        # and a negation before whom it is for and the verb ("無法為您辦理退款").
        window = re.split(_CLAUSE, fold_han(text[max(0, start - 10): start]))[-1]
        window = _ZH_FOR_WHOM.sub("", _ZH_LIST_BEFORE.sub("", _ZH_NOT_NEGATION.sub("", window), count=1), count=1)
        return bool(_ZH_NEGATION.search(window[-4:]))
    low = max(sentence_begin, i - NEGATION_WINDOW)
    k = i - 1
    while k >= low:
        between = text[toks[k].end: toks[k + 1].start] if k + 1 <= i else ""
        if _CLAUSE.search(between):
            return False
        if toks[k].norm in _COORDINATORS:
            low = max(sentence_begin, k - NEGATION_WINDOW)  # "not ... a refund or an exchange"
        if toks[k].norm in _NEGATION_NORMS:
            if toks[k].norm == "no" and k > 0 and toks[k - 1].norm in ("oh", "uh", "ah", "aw"):
                k -= 1
                continue  # "oh no, I'm so sorry": dismay, not a negation
            following = [t.norm for t in toks[k + 1: min(i, k + 3)]]
            if following[:1] == ["just"] and k > sentence_begin and toks[k - 1].norm in _MODALS:
                return True  # "I can't just refund things" refuses; "it's not just the refund" does not
            return not any(word in _IDIOMS for word in following)
        k -= 1
    return False


@lru_cache(maxsize=4096)
def negated_words(text: str) -> frozenset[int]:
    """The positions in ``tokens(text)`` of the words said under a negation, by the rule
    :meth:`Lexicon.find` applies to a concept: a negation among the few words before, in the same
    clause. In "I won't ask about your apprentice" that is every word after "won't". A question
    still names what it asks about ("Didn't you keep the receipt?"): none of its words is negated.
    For word matching that has no concept to go by (the engine's plain trigger words)."""
    toks = tokens(text)
    found: set[int] = set()
    for begin, end in _sentence_token_ranges(text, toks):
        sentence = text[toks[begin].start: toks[end - 1].end + 2].strip()
        if sentence.endswith(("?", "\uff1f")) or text[:toks[begin].start].rstrip().endswith("\u00bf"):
            continue
        if not any(t.norm in _NEGATION_NORMS for t in toks[begin:end]) and not (
                any(is_cjk(t.norm) for t in toks[begin:end])
                and _ZH_NEGATION_CHAR.search(text, max(0, toks[begin].start - 10), toks[end - 1].end)):
            continue  # no negation word, nor a Han negation within reach of Han text: nothing negated
        found.update(i for i in range(begin, end) if _negated(text, toks, begin, i))
    return frozenset(found)


_LEXICONS: OrderedDict[int, tuple[Any, Lexicon]] = OrderedDict()


def lexicon_for(script: Any) -> Lexicon:
    """The lexicon of a :class:`roleplay_core.Script`: its ``scripted.synonyms`` plus the built-in
    concepts of its language. Cached by identity (scripts are immutable)."""
    hit = _LEXICONS.get(id(script))
    if hit is not None and hit[0] is script:
        _LEXICONS.move_to_end(id(script))
        return hit[1]
    lexicon = Lexicon(script.scripted.synonyms, script.language)
    _LEXICONS[id(script)] = (script, lexicon)
    while len(_LEXICONS) > 128:
        _LEXICONS.popitem(last=False)
    return lexicon


__all__ = [
    "CJK",
    "CONTROL",
    "CONTROL_ONE_LINE",
    "FILLERS",
    "FUNCTION_WORDS",
    "MAX_GAP",
    "NEGATIONS",
    "STOPWORDS",
    "Hit",
    "Lexicon",
    "Pattern",
    "Token",
    "builtin_lexicon",
    "control_character",
    "content",
    "fold",
    "fold_han",
    "hypothetical",
    "judged",
    "narrated_spans",
    "negated_words",
    "is_cjk",
    "lexicon_for",
    "norms",
    "only_function_words",
    "sentence_around",
    "sentences",
    "stem",
    "tokens",
    "word_count",
]
