"""Text matching that keeps a path back to the original characters.

Every match is found on normalised tokens (case-folded, accents removed,
curly apostrophes straightened, a light suffix stem) but remembers where each
token sits in the original text, so evidence is always a verbatim slice of
what the learner said.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache

import attrs

# A word: letters/digits, optionally joined by apostrophes ("don't", "l'homme"). Han and kana are
# written without spaces: a run of them becomes overlapping character bigrams, each with its own
# span, so "退款" is found inside "我想退款" and a quote is still a verbatim slice.
CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_WORD = re.compile(rf"[{CJK}]+|[^\W_{CJK}]+(?:['\u2019][^\W_{CJK}]+)*")
_CJK_RUN = re.compile(rf"[{CJK}]+")
# Sentences also end at the full-width marks of Chinese and Japanese (。！？) and at ⋯, the
# ellipsis Taiwan writes.
_SENTENCE_END = re.compile(r"[.!?\u2026\u22ef\u3002\uff01\uff1f\uff61\n]+|[\u00bf\u00a1]")
#: Variant characters a Chinese learner may type for the same word (甚麼/什麼, 妳/你): folded one
#: to one, so every token keeps its span in the original text.
_HAN_VARIANTS = str.maketrans("妳臺裏爲着麽", "你台裡為著麼")

#: Words too common to carry meaning when a trigger or a description is matched as a bag of words.
STOPWORDS = frozenset(
    """a an the and or but if so to of in on at by for with from as is are was were be been being am
    i me my we our you your he she it its they them their this that these those there here do does did
    have has had will would can could should shall may might must not no yes just very really than then
    what how why when where who which about into over under up down out off again more most some any all
    el la los las un una unos unas y o pero si de del en con por para que se su sus mi mis tu tus es son
    fue ser estar esta este esto eso lo le les me te nos al como muy mas ya no""".split()
)


def fold_han(text: str) -> str:
    """Chinese variant characters unified ('甚麼' -> '什麼', '妳' -> '你'); the length never changes."""
    return text.translate(_HAN_VARIANTS).replace("甚麼", "什麼")


def fold(text: str) -> str:
    """Case-fold, drop accents and straighten apostrophes: 'Qué' -> 'que', 'Don’t' -> "don't"."""
    decomposed = unicodedata.normalize("NFKD", text.replace("\u2019", "'"))
    return fold_han("".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold())


def stem(word: str) -> str:
    """A deliberately light stem so 'refunds', 'refunded' and 'refund' meet; never below 3 letters."""
    if word.endswith("'s"):
        word = word[:-2]
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


@attrs.frozen
class Token:
    norm: str
    start: int
    end: int


@lru_cache(maxsize=8192)  # every check reads the same messages: tokenise each once
def tokens(text: str) -> tuple[Token, ...]:
    """The words of ``text`` with their normalised form and their span in ``text``."""
    found = []
    for match in _WORD.finditer(text):
        word, start = match.group(), match.start()
        if _CJK_RUN.fullmatch(word) and len(word) > 1:
            word = fold_han(word)
            found.extend(Token(word[i : i + 2], start + i, start + i + 2) for i in range(len(word) - 1))
        else:
            found.append(Token(stem(fold(word)), start, match.end()))
    return tuple(found)


@lru_cache(maxsize=8192)
def norms(text: str) -> frozenset[str]:
    """The set of normalised words of ``text``: a cheap test before looking for a sequence."""
    return frozenset(token.norm for token in tokens(text))


@lru_cache(maxsize=8192)
def phrase_key(phrase: str) -> tuple[str, ...]:
    """A phrase as the sequence of normalised tokens it is matched by."""
    return tuple(token.norm for token in tokens(phrase))


@attrs.frozen
class Match:
    """Where a phrase was found: a verbatim slice ``text[start:end]`` of one message."""

    seq: int
    start: int
    end: int
    quote: str


def find_sequence(text: str, key: Sequence[str], seq: int, toks: Sequence[Token] | None = None) -> Match | None:
    """The first place the token sequence ``key`` occurs contiguously in ``text``."""
    if not key or not norms(text).issuperset(key):
        return None
    toks = tokens(text) if toks is None else toks
    n = len(key)
    for i in range(len(toks) - n + 1):
        if all(toks[i + j].norm == key[j] for j in range(n)):
            start, end = toks[i].start, toks[i + n - 1].end
            return Match(seq, start, end, text[start:end])
    return None


def find_bag(text: str, key: Sequence[str], seq: int, toks: Sequence[Token] | None = None) -> Match | None:
    """All meaningful words of ``key`` present in ``text`` in any order (at least two of them).

    The quote runs from the first to the last matched word, so it stays verbatim.
    """
    wanted = {word for word in key if word not in STOPWORDS}
    if len(wanted) < 2 or not norms(text).issuperset(wanted):
        return None
    toks = tokens(text) if toks is None else toks
    positions = [t for t in toks if t.norm in wanted]
    if {t.norm for t in positions} != wanted:
        return None
    start, end = positions[0].start, positions[-1].end
    return Match(seq, start, end, text[start:end])


def variants(phrase: str, synonyms: Mapping[str, Iterable[str]]) -> list[tuple[str, ...]]:
    """``phrase`` plus the phrases made by swapping one concept form for another.

    With ``{"refund": ["money back"]}`` the trigger "I want a refund" also
    matches "I want a money back" (tokens, not grammar: good enough to find the idea).
    """
    base = phrase_key(phrase)
    out = [base] if base else []
    for concept, words in synonyms.items():
        forms = [phrase_key(concept.replace("_", " ").replace("-", " ")), *(phrase_key(w) for w in words)]
        forms = [f for f in forms if f]
        for form in forms:
            n = len(form)
            for i in range(len(base) - n + 1):
                if base[i : i + n] == form:
                    for other in forms:
                        if other != form:
                            candidate = base[:i] + other + base[i + n :]
                            if candidate not in out:
                                out.append(candidate)
    return out


def concept_forms(concept: str, synonyms: Mapping[str, Iterable[str]]) -> list[tuple[str, ...]]:
    """Every way to say ``concept``: its own name and each listed synonym."""
    forms = [phrase_key(concept.replace("_", " ").replace("-", " "))]
    forms += [phrase_key(word) for word in synonyms.get(concept, ())]
    unique: list[tuple[str, ...]] = []
    for form in forms:
        if form and form not in unique:
            unique.append(form)
    return unique


def sentence_around(text: str, start: int, end: int, limit: int = 240) -> tuple[int, int]:
    """Widen ``[start, end)`` to the sentence holding it, when that stays under ``limit`` characters."""
    left = 0
    for mark in _SENTENCE_END.finditer(text, 0, start):
        left = mark.end() if mark.group()[0] not in "\u00bf\u00a1" else mark.start()
    right = len(text)
    after = _SENTENCE_END.search(text, end)
    while after is not None and after.group()[0] in "\u00bf\u00a1":
        after = _SENTENCE_END.search(text, after.end())
    if after is not None:
        right = after.end() if after.group()[0] != "\n" else after.start()
    while left < start and text[left].isspace():
        left += 1
    while right > end and text[right - 1].isspace():
        right -= 1
    if right - left > limit:
        return start, end
    return left, right


def sentences(text: str) -> list[tuple[int, int]]:
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
    return spans


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def is_cjk(word: str) -> bool:
    """Whether ``word`` is written in Han or kana (a bigram token, or a run of them)."""
    return bool(word) and _CJK_RUN.fullmatch(word) is not None


def word_count(text: str) -> int:
    """Words of ``text``; in Han and kana, which have no spaces, each character counts as one."""
    return sum(len(w) if _CJK_RUN.fullmatch(w) else 1 for w in _WORD.findall(text))
