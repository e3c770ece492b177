"""Trigger ranking for the offline character engine: BM25 over the shared tokens and concepts.

Words, sentences and concepts come from :mod:`roleplay_core.text`, the one
tokeniser, stemmer and concept matcher chat shares with the evaluator and lint
(so "apologies" is the same word to all three). This module only ranks a beat's
trigger phrases against what the learner said:

1. A trigger is analysed once. A trigger that *is* a concept (a name or plain
   phrasing of the script's :class:`~roleplay_core.text.Lexicon`: its synonyms
   plus the built-in lexicon of its language) becomes that concept's term, such as
   ``~refund``; concept phrasings inside a longer trigger are folded the same way;
   the other words stay, stopwords dropped. A word said under a negation is a term of its own,
   ``!word``: "no receipt" in a trigger matches "I have no receipt", not "here is the receipt".
2. Some triggers are matched *whole*, as a :class:`~roleplay_core.text.Pattern`
   in one sentence, never by their words: a trigger with ``...`` or ``word*``, and
   one made only of function words ("what can I do for you" would otherwise be
   just "what", and match any question).
3. Each sentence of a message is a query: its words plus the concepts said in it,
   a concept said under a negation ("I can't refund that") left out, and a word said under one
   marked as above ("I won't ask about your apprentice" does not match the trigger "apprentice").
4. :class:`TriggerIndex` ranks trigger phrases with BM25 and normalises each score
   by the trigger's own self-score, so a score of 1.0 means "every word of the
   trigger was said" whatever the trigger's length. A key matches at
   :data:`THRESHOLD` or more.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable

import attrs

from roleplay_core.text import (
    Hit,
    Lexicon,
    Pattern,
    content,
    narrated_spans,
    negated_words,
    only_function_words,
    sentences,
    tokens,
)

#: A normalised score at or above this counts as a match (half the trigger's weight said).
THRESHOLD = 0.5


def _concept(name: str) -> str:
    return "~" + name


def _word(text: str, index: int, norm: str) -> str:
    """The term of word ``index`` of ``tokens(text)``: ``!norm`` when said under a negation."""
    return "!" + norm if index in negated_words(text) else norm


def _content(terms: dict[str, list[tuple[int, int]]] | list[str]) -> set[str]:
    """The terms that are not stopwords, judged on the word under any ``!``."""
    kept = set(content([t.removeprefix("!") for t in terms]))
    return {t for t in terms if t.removeprefix("!") in kept}


def _fold_hits(hits: Iterable[Hit]) -> list[Hit]:
    """Concept hits that do not overlap, longest first where they do, in text order."""
    chosen: list[Hit] = []
    for hit in sorted(hits, key=lambda h: (h.start, -(h.end - h.start), h.concept)):
        if not hit.negated and all(hit.start >= c.end or hit.end <= c.start for c in chosen):
            chosen.append(hit)
    return chosen


def analyse_trigger(phrase: str, lexicon: Lexicon) -> list[str]:
    """A trigger phrase's terms: a concept it names, or its words with concept phrasings folded."""
    named = lexicon.concept_of(phrase)
    if named is not None:
        return [_concept(named)]
    folded = _fold_hits(lexicon.find(phrase))
    terms: list[str] = []
    for index, token in enumerate(tokens(phrase)):
        inside = next((h for h in folded if h.start <= token.start < h.end), None)
        if inside is None:
            terms.append(_word(phrase, index, token.norm))
        elif _concept(inside.concept) not in terms:
            terms.append(_concept(inside.concept))
    kept = _content(terms)
    return [t for t in terms if t in kept]


def whole(phrase: str) -> Pattern | None:
    """The pattern a trigger must match whole (gaps, prefixes, or function words only); else None."""
    pattern = Pattern.parse(phrase)
    if any(e.prefix or e.gap for e in pattern.elements) or only_function_words(phrase):
        return pattern
    return None


def analyse_query(text: str, lexicon: Lexicon, *, words: bool = True) -> dict[str, list[tuple[int, int]]]:
    """A sentence's terms (its words and the concepts said in it, stopwords dropped), each with
    the character spans where it was said, first one first. Without ``words``, only the concepts:
    for an index whose every trigger is a concept, words could match nothing."""
    where: dict[str, list[tuple[int, int]]] = {}
    # Words that narrate what the learner would do ("At this point I'd ask for the receipt") are
    # not said to the character: it does not play along, as the rules do not count them.
    narration = narrated_spans(text) if words else ()
    for index, token in enumerate(tokens(text) if words else ()):
        if not any(a <= token.start < b for a, b in narration):
            where.setdefault(_word(text, index, token.norm), []).append((token.start, token.end))
    for hit in lexicon.find(text):
        if not hit.negated:
            where.setdefault(_concept(hit.concept), []).append((hit.start, hit.end))
    kept = _content(where)
    return {term: spans for term, spans in where.items() if term in kept}


@attrs.frozen
class Match:
    key: str
    #: BM25 score divided by the trigger's self-score: 1.0 means every trigger term was said.
    score: float
    trigger: str
    #: The plain BM25 score; breaks ties in favour of rarer, more telling words.
    raw: float = 0.0
    #: Which sentence of the message matched (0 for the first), and where: (sentence, character
    #: offset in the message) of the first matching term, to answer in the order things were said.
    sentence: int = 0
    at: tuple[int, int] = (0, 0)
    #: Where in the message the words it matched on were said (character spans): two matches
    #: that share none said two different things.
    spans: frozenset[tuple[int, int]] = frozenset()

    def apart(self, other: Match) -> bool:
        """Whether this match and ``other`` stand on different words of the message."""
        return not any(a < d and c < b for a, b in self.spans for c, d in other.spans)


@attrs.frozen
class _Doc:
    key: str
    phrase: str
    terms: Counter[str]
    length: int
    #: Matched whole (see :func:`whole`), not by its words.
    whole: bool


class TriggerIndex:
    """BM25 over trigger phrases; each phrase is a document labelled with its beat's key."""

    K1 = 1.2
    B = 0.75

    def __init__(self, triggers: Iterable[tuple[str, str]], lexicon: Lexicon) -> None:
        self.lexicon = lexicon
        self.docs: list[_Doc] = []
        for key, phrase in triggers:
            terms = analyse_trigger(phrase, lexicon)
            matched_whole = not (len(terms) == 1 and terms[0].startswith("~")) and whole(phrase) is not None
            if terms or matched_whole:
                self.docs.append(_Doc(key, phrase, Counter(terms), len(terms), matched_whole))
        # Whole triggers are found as phrasings of their own: in one sentence, and not when negated.
        self.phrases = Lexicon({d.phrase: () for d in self.docs if d.whole}, lexicon.language, builtin=False)
        #: Whether any trigger is matched on a plain word (not only on concepts): else a message's
        #: words are not worth reading, nor their negations (Chinese text is read for both at a cost).
        self.words = any(not term.startswith("~") for doc in self.docs for term in doc.terms)
        count = len(self.docs) or 1
        self.avg_len = sum(d.length for d in self.docs) / count
        frequency: Counter[str] = Counter()
        for doc in self.docs:
            frequency.update(set(doc.terms))
        self.idf = {t: math.log(1 + (count - n + 0.5) / (n + 0.5)) for t, n in frequency.items()}
        self.self_scores = [self._score(d.terms.keys(), d.terms, d.length) for d in self.docs]
        self.order: dict[str, int] = {}
        for index, doc in enumerate(self.docs):
            self.order.setdefault(doc.key, index)

    def _score(self, query: Iterable[str], terms: Counter[str], length: int) -> float:
        score = 0.0
        norm = self.K1 * (1 - self.B + self.B * length / (self.avg_len or 1))
        for term in set(query):
            tf = terms.get(term, 0)
            if tf:
                score += self.idf.get(term, 0.0) * tf * (self.K1 + 1) / (tf + norm)
        return score

    def _rank(self, text: str, allowed: set[str] | None, sentence: int = 0, offset: int = 0) -> dict[str, Match]:
        """Best match per key in ``text`` taken as one query (one sentence)."""
        query = analyse_query(text, self.lexicon, words=self.words)
        best: dict[str, Match] = {}
        for doc, own in zip(self.docs, self.self_scores, strict=True):
            if allowed is not None and doc.key not in allowed:
                continue
            if doc.whole:
                hit = self.phrases.said(text, doc.phrase)
                if hit is None:
                    continue
                raw, score, spans = own, 1.0, [(hit.start, hit.end)]
            elif own > 0:
                raw = self._score(query, doc.terms, doc.length)
                score = round(min(raw / own, 1.0), 6)
                spans = [span for term in query.keys() & doc.terms.keys() for span in query[term]]
            else:
                continue
            if score > 0 and (doc.key not in best or (score, raw) > (best[doc.key].score, best[doc.key].raw)):
                at = min((start for start, _ in spans), default=0)
                best[doc.key] = Match(doc.key, score, doc.phrase, raw, sentence, (sentence, offset + at),
                                      frozenset((offset + a, offset + b) for a, b in spans))
        return best

    def _sorted(self, matches: Iterable[Match]) -> list[Match]:
        return sorted(matches, key=lambda m: (-m.score, -m.raw, self.order[m.key]))

    def rank(self, text: str, allowed: Iterable[str] | None = None) -> list[Match]:
        """Best normalised score per key, ``text`` taken as one query, highest first; ties keep the
        order keys were indexed in."""
        return self._sorted(self._rank(text, None if allowed is None else set(allowed)).values())

    def best(self, text: str, allowed: Iterable[str] | None = None, threshold: float = THRESHOLD) -> Match | None:
        """The best key for ``text`` taken as one query, at ``threshold`` or more; else None."""
        ranked = self.rank(text, allowed)
        return ranked[0] if ranked and ranked[0].score >= threshold else None

    def matches(self, text: str, allowed: Iterable[str] | None = None,
                threshold: float = THRESHOLD) -> list[Match]:
        """Every key matched at ``threshold`` or more in some sentence of ``text``, best first.

        Each sentence is ranked on its own, so a message that says two things matches two
        keys; a key keeps its best sentence.
        """
        keys = None if allowed is None else set(allowed)
        best: dict[str, Match] = {}
        for number, (start, end) in enumerate(sentences(text) or ((0, len(text)),)):
            for key, match in self._rank(text[start:end], keys, number, start).items():
                if match.score >= threshold and (key not in best
                                                 or (match.score, match.raw) > (best[key].score, best[key].raw)):
                    best[key] = match
        return self._sorted(best.values())

