"""Text matching for the offline character engine: normalise, fold synonyms, rank triggers with BM25.

The learner types freely; a beat lists a few trigger phrases. Matching has to
forgive case, accents, punctuation, contractions, plurals and word choice, and
still prefer the trigger that fits best:

1. :func:`tokens` normalises text to word tokens (lower case, accents stripped,
   English contractions expanded, a light suffix stemmer; any script, with Han
   and kana runs split into overlapping character bigrams and a few Chinese
   variant characters unified).
2. :class:`Synonyms` turns synonym phrases (``refund``: ``money back``,
   ``reimburse``) into concept tokens: folded in triggers, added to messages.
3. :class:`TriggerIndex` ranks trigger phrases with BM25 and normalises each
   score by the trigger's own self-score, so a score of 1.0 means "every word of
   the trigger was said" whatever the trigger's length. A beat matches above a
   threshold.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

import attrs

#: A normalised score at or above this counts as a match (half the trigger's weight said).
THRESHOLD = 0.5

_CONTRACTIONS = {
    "won't": "will not",
    "can't": "can not",
    "cannot": "can not",
    "shan't": "shall not",
    "ain't": "is not",
    "let's": "let us",
    "i'm": "i am",
}
_SUFFIXES = (("n't", " not"), ("'re", " are"), ("'ll", " will"), ("'ve", " have"), ("'d", " would"), ("'m", " am"))
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'"})
#: Han and kana are written without spaces: a run of them becomes overlapping character
#: bigrams, so a trigger such as "退款" matches inside "我想退款" while "你好" does not
#: match "很好" (unigrams would).
CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_WORD = re.compile(rf"[{CJK}]+|[^\W_{CJK}]+")
_CJK_RUN = re.compile(rf"[{CJK}]+")
#: Variant characters a Chinese learner may type for the same word (Taiwan uses both 甚麼 and
#: 什麼; 妳 is "you" addressed to a woman). Folded one to one, so lengths never change.
_HAN_VARIANTS = str.maketrans("妳臺裏爲着麽", "你台裡為著麼")
_CONTRACTED = re.compile(r"\b[a-z]+(?:n't|'re|'ll|'ve|'d|'m)\b|\b(?:won't|can't|cannot|shan't|ain't|let's|i'm)\b")

#: Words too common to say anything on their own. Dropped unless a phrase is nothing else.
STOPWORDS = frozenset(
    "a an the and or but of to in on at for with by from is am are was were be been being it its this that "
    "these those i me my we our you your he him his she her they them their do does did so as if then than "
    "there here just very really would will shall should could can please um uh oh well".split()
)


#: Words that carry no topic: a trigger made only of these ("what can i do for you" -> "what")
#: must be said as the whole phrase, or any question would match it.
FUNCTION_WORDS = STOPWORDS | frozenset(
    "what how why when where who whom whose which not no yes ok okay all any some about up out more much many "
    "one get got go let us may might must have has had into over off too also now again yeah".split()
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|[\u3002\uff01\uff1f;\uff1b\n]+|\s[-\u2013\u2014]+\s|\u2014")


def sentences(text: str) -> list[str]:
    """``text`` cut into sentences (and dash- or semicolon-separated clauses), blank ones dropped."""
    return [part for part in (p.strip() for p in _SENTENCE_END.split(text)) if part] or [text]


def fold(text: str) -> str:
    """Lower case, accents stripped, curly apostrophes straightened, Chinese variant characters unified."""
    text = unicodedata.normalize("NFKD", text.translate(_APOSTROPHES).lower())
    return "".join(c for c in text if not unicodedata.combining(c)).translate(_HAN_VARIANTS).replace("甚麼", "什麼")


def _expand(match: re.Match[str]) -> str:
    word = match.group(0)
    if word in _CONTRACTIONS:
        return _CONTRACTIONS[word]
    for suffix, replacement in _SUFFIXES:
        if word.endswith(suffix):
            stem = word[: -len(suffix)]
            return stem + replacement
    return word


def stem(word: str) -> str:
    """A deliberately light stemmer: plurals and common verb endings, never shorter than 3 letters."""
    if word.isdigit() or len(word) <= 3:
        return word
    for suffix, replacement in (("ies", "y"), ("sses", "ss"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) + len(replacement) >= 3:
            if suffix == "s" and word.endswith(("ss", "us", "is")):
                return word
            return word[: -len(suffix)] + replacement
    return word


def tokens(text: str) -> list[str]:
    """Normalised word tokens of ``text``, stopwords kept (phrases need them)."""
    text = _CONTRACTED.sub(_expand, fold(text))
    text = text.replace("'s", "").replace("'", " ")
    words: list[str] = []
    for word in _WORD.findall(text):
        if _CJK_RUN.fullmatch(word):
            words.extend([word] if len(word) == 1 else [word[i : i + 2] for i in range(len(word) - 1)])
        else:
            words.append(stem(word))
    return words


def content(words: Sequence[str]) -> list[str]:
    """Drop stopwords, unless that would leave nothing ("how are you" stays as it is)."""
    kept = [w for w in words if w not in STOPWORDS]
    return kept or list(words)


class Synonyms:
    """Synonym groups (``refund``: ``money back``, ``reimburse``) as concept tokens such as ``~refund``.

    A trigger phrase is *folded*: each synonym phrase in it becomes one concept
    token. The learner's message is *expanded*: it keeps its words and gains the
    token of every group one of its phrases belongs to, so groups that share a
    phrase ("sorry" in both ``sorry`` and ``apology``) all match.
    """

    def __init__(self, groups: Mapping[str, Iterable[str]], language: str = "en") -> None:
        by_phrase: dict[tuple[str, ...], list[str]] = {}
        for concept, phrases in groups.items():
            token = "~" + " ".join(tokens(concept))
            for phrase in (concept, *phrases):
                words = tuple(tokens(phrase))
                if words and token not in by_phrase.setdefault(words, []):
                    by_phrase[words].append(token)
        for words, concepts in by_phrase.items():
            # A trigger that names a concept means that concept, whichever other group lists the word.
            own = "~" + " ".join(words)
            if own in concepts:
                concepts.remove(own)
                concepts.insert(0, own)
        self._first: dict[str, list[tuple[tuple[str, ...], list[str]]]] = {}
        for words, concepts in sorted(by_phrase.items(), key=lambda item: -len(item[0])):
            self._first.setdefault(words[0], []).append((words, concepts))

    def _at(self, words: Sequence[str], i: int) -> Iterable[tuple[tuple[str, ...], list[str]]]:
        for phrase, concepts in self._first.get(words[i], ()):
            if tuple(words[i: i + len(phrase)]) == phrase:
                yield phrase, concepts

    def fold(self, words: Sequence[str]) -> list[str]:
        """Replace each synonym phrase (longest first) with its concept token."""
        out: list[str] = []
        i = 0
        while i < len(words):
            found = next(iter(self._at(words, i)), None)
            if found is None:
                out.append(words[i])
                i += 1
            else:
                out.append(found[1][0])
                i += len(found[0])
        return out

    def expand(self, words: Sequence[str]) -> list[str]:
        """``words`` plus the concept token of every group any phrase in them belongs to."""
        return [*words, *self.concepts(words)]

    def concepts(self, words: Sequence[str]) -> dict[str, int]:
        """The concept token of every group a phrase in ``words`` belongs to, with where it was first said."""
        concepts: dict[str, int] = {}
        for i in range(len(words)):
            for _, found in self._at(words, i):
                for concept in found:
                    concepts.setdefault(concept, i)
        return concepts


def analyse_trigger(text: str, synonyms: Synonyms) -> list[str]:
    """A trigger phrase's terms: tokens, synonym phrases folded, stopwords dropped."""
    return content(synonyms.fold(tokens(text)))


def analyse_query(text: str, synonyms: Synonyms) -> list[str]:
    """A learner message's terms: tokens plus matching concepts, stopwords dropped."""
    return content(synonyms.expand(tokens(text)))


@attrs.frozen
class Match:
    key: str
    #: BM25 score divided by the trigger's self-score: 1.0 means every trigger term was said.
    score: float
    trigger: str
    #: The plain BM25 score; breaks ties in favour of rarer, more telling words.
    raw: float = 0.0
    #: Which sentence of the message matched (0 for the first), and where in the message: the
    #: (sentence, word) at which the first matching term was said.
    sentence: int = 0
    at: tuple[int, int] = (0, 0)
    #: The message's terms the trigger matched on.
    terms: frozenset[str] = frozenset()


class TriggerIndex:
    """BM25 over trigger phrases; each phrase is a document labelled with its beat's key."""

    K1 = 1.2
    B = 0.75

    def __init__(self, triggers: Iterable[tuple[str, str]], synonyms: Synonyms) -> None:
        self.synonyms = synonyms
        self.docs: list[tuple[str, str, Counter[str], int]] = []
        #: Triggers of function words only, as their whole token sequence: they match only as a phrase.
        self.phrases: dict[int, tuple[str, ...]] = {}
        for key, phrase in triggers:
            terms = analyse_trigger(phrase, synonyms)
            if terms:
                if all(term in FUNCTION_WORDS for term in terms):
                    self.phrases[len(self.docs)] = tuple(tokens(phrase))
                self.docs.append((key, phrase, Counter(terms), len(terms)))
        count = len(self.docs) or 1
        self.avg_len = sum(d[3] for d in self.docs) / count
        frequency: Counter[str] = Counter()
        for _, _, terms, _ in self.docs:
            frequency.update(set(terms))
        self.idf = {t: math.log(1 + (count - n + 0.5) / (n + 0.5)) for t, n in frequency.items()}
        self.self_scores = [self._score(terms.keys(), terms, length) for _, _, terms, length in self.docs]

    def _score(self, query: Iterable[str], terms: Counter[str], length: int) -> float:
        score = 0.0
        norm = self.K1 * (1 - self.B + self.B * length / (self.avg_len or 1))
        for term in set(query):
            tf = terms.get(term, 0)
            if tf:
                score += self.idf.get(term, 0.0) * tf * (self.K1 + 1) / (tf + norm)
        return score

    def _rank(self, text: str, allowed: set[str] | None, sentence: int = 0) -> dict[str, Match]:
        words = tokens(text)
        found = self.synonyms.concepts(words)
        where = dict(found)
        for i, word in enumerate(words):
            where.setdefault(word, i)
        query = set(content([*words, *found]))
        best: dict[str, Match] = {}
        for index, ((key, phrase, terms, length), own) in enumerate(zip(self.docs, self.self_scores, strict=True)):
            if allowed is not None and key not in allowed or own <= 0:
                continue
            said = query & terms.keys()
            if index in self.phrases:
                start = _find(words, self.phrases[index])
                if start < 0:
                    continue
                raw, score, at = own, 1.0, start
            else:
                raw = self._score(query, terms, length)
                score = round(min(raw / own, 1.0), 6)
                at = min((where[t] for t in said if t in where), default=0)
            if score > 0 and (key not in best or (score, raw) > (best[key].score, best[key].raw)):
                best[key] = Match(key, score, phrase, raw, sentence, (sentence, at), frozenset(said))
        return best

    def _order(self) -> dict[str, int]:
        order: dict[str, int] = {}
        for index, (key, *_) in enumerate(self.docs):
            order.setdefault(key, index)
        return order

    def rank(self, text: str, allowed: Iterable[str] | None = None) -> list[Match]:
        """Best normalised score per key over the whole text, highest first; ties keep the keys' order."""
        order = self._order()
        best = self._rank(text, None if allowed is None else set(allowed))
        return sorted(best.values(), key=lambda m: (-m.score, -m.raw, order[m.key]))

    def best(self, text: str, allowed: Iterable[str] | None = None, threshold: float = THRESHOLD) -> Match | None:
        ranked = self.rank(text, allowed)
        return ranked[0] if ranked and ranked[0].score >= threshold else None

    def matches(self, text: str, allowed: Iterable[str] | None = None,
                threshold: float = THRESHOLD) -> list[Match]:
        """Every key matched at ``threshold`` or more in some sentence of ``text``, best first.

        Each sentence is ranked on its own, so a message that says two things matches two
        keys; a key keeps its best sentence.
        """
        order = self._order()
        keys = None if allowed is None else set(allowed)
        best: dict[str, Match] = {}
        for n, sentence in enumerate(sentences(text)):
            for key, match in self._rank(sentence, keys, n).items():
                if match.score >= threshold and (key not in best or (match.score, match.raw) > (best[key].score,
                                                                                               best[key].raw)):
                    best[key] = match
        return sorted(best.values(), key=lambda m: (-m.score, -m.raw, order[m.key]))


def _find(words: Sequence[str], phrase: Sequence[str]) -> int:
    """Where ``phrase`` starts in ``words`` as a contiguous run, or -1."""
    n = len(phrase)
    for i in range(len(words) - n + 1):
        if tuple(words[i: i + n]) == tuple(phrase):
            return i
    return -1
