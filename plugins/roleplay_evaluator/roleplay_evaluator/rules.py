"""The built-in rule-based evaluator: scores every rubric check kind, deterministically.

Each check returns a :class:`CriterionResult` with a 0-100 score, a short
justification, verbatim evidence (message number + slice of that message's
text) and, when the learner fell short, a "say this instead" suggestion.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from roleplay_core import Check, Criterion, Script, TranscriptMessage

from . import questions as q
from .report import APPROXIMATION, RULES, CriterionResult, Quote, Statistics
from .text import (
    STOPWORDS,
    Match,
    concept_forms,
    find_bag,
    find_sequence,
    fold,
    is_cjk,
    sentence_around,
    sentences,
    tokens,
    variants,
    word_count,
)

LEARNER = "learner"
CHARACTER = "character"
#: At most this many quotes per criterion: enough to show it, few enough to read.
MAX_EVIDENCE = 4
#: A ``model`` check scored by keywords gives full marks when this share of its keywords is used.
KEYWORD_SHARE = 0.5

OPEN_EXAMPLES = {
    "en": '"What happened, from your point of view?" or "How has this affected you?"',
    "es": '"¿Qué pasó, desde su punto de vista?" o "¿Cómo le ha afectado esto?"',
    "fr": '"Que s\'est-il passé, de votre point de vue ?" ou "Comment cela vous a-t-il affecté ?"',
    "de": '"Was ist aus Ihrer Sicht passiert?" oder "Wie hat Sie das beeinflusst?"',
    "zh": "「從您的角度來看，發生了什麼事？」或「這件事對您造成了什麼影響？」",
}


def learner_lines(messages: Sequence[TranscriptMessage]) -> list[TranscriptMessage]:
    return [m for m in messages if m.role == LEARNER and m.text.strip()]


def quote_of(message: TranscriptMessage, match: Match | None = None) -> Quote:
    """A verbatim quote: the sentence around ``match``, or the message's first sentence."""
    text = message.text
    if match is not None:
        start, end = sentence_around(text, match.start, match.end)
    else:
        spans = sentences(text) or [(0, len(text))]
        start, end = spans[0]
        if end - start > 240:
            end = start + 240
    return Quote(seq=message.seq, quote=text[start:end])


def _ratio_score(found: int, needed: int) -> float:
    if needed <= 0:
        return 100.0
    return round(100.0 * min(1.0, found / needed), 1)


# -- phrases ------------------------------------------------------------------


def _items(check: Check, script: Script) -> list[tuple[str, list[tuple[str, ...]]]]:
    """Each phrase and concept of a check with every token sequence that counts as saying it."""
    synonyms = script.scripted.synonyms
    items = [(phrase, variants(phrase, synonyms)) for phrase in check.phrases]
    items += [(concept, concept_forms(concept, synonyms)) for concept in check.concepts]
    return [(label, forms) for label, forms in items if forms]


def _find_item(message: TranscriptMessage, forms: list[tuple[str, ...]]) -> Match | None:
    toks = tokens(message.text)
    for form in forms:
        found = find_sequence(message.text, form, message.seq, toks)
        if found is not None:
            return found
    return None


def _say_form(label: str, script: Script) -> str:
    """How to suggest saying a phrase or concept: the phrase, or a concept's first synonym."""
    words = script.scripted.synonyms.get(label)
    if words:
        return next(iter(words))
    return label.replace("_", " ")


def phrases_used(criterion: Criterion, script: Script, lines: list[TranscriptMessage]) -> CriterionResult:
    check = criterion.check
    items = _items(check, script)
    used: list[tuple[str, TranscriptMessage, Match]] = []
    missing: list[str] = []
    for label, forms in items:
        hit = next(((m, found) for m in lines if (found := _find_item(m, forms)) is not None), None)
        if hit is None:
            missing.append(label)
        else:
            used.append((label, hit[0], hit[1]))
    needed = min(check.min_count, len(items)) if items else 0
    score = _ratio_score(len(used), needed)
    if not items:
        justification = "The rubric lists no phrases or concepts for this criterion."
    elif used:
        said = ", ".join(f'"{label}"' for label, _, _ in used)
        justification = f"Used {len(used)} of the {len(items)} listed phrases or ideas ({said}); {needed} needed."
        if missing and score < 100:
            justification += " Not heard: " + ", ".join(f'"{label}"' for label in missing[:3]) + "."
    else:
        justification = "None of the expected phrases were said: " + ", ".join(
            f'"{label}"' for label in missing[:4]) + "."
    evidence = _unique(quote_of(m, found) for _, m, found in used)
    suggestion = None
    if missing:
        suggestion = f'Try saying: "{_say_form(missing[0], script)}".'
    return _result(criterion, score, justification, evidence, suggestion, script)


def phrases_avoided(criterion: Criterion, script: Script, lines: list[TranscriptMessage]) -> CriterionResult:
    items = _items(criterion.check, script)
    hits: list[tuple[str, TranscriptMessage, Match]] = []
    for message in lines:
        for label, forms in items:
            found = _find_item(message, forms)
            if found is not None:
                hits.append((label, message, found))
    # Each slip costs half the marks: one is a lapse, two is a habit.
    score = max(0.0, 100.0 - 50.0 * len(hits))
    if not hits:
        justification = "Avoided every phrase the rubric warns against."
        suggestion = None
    else:
        said: list[str] = []
        for label, _, found in hits:
            words = f'"{found.quote}"' if fold(found.quote) == fold(label) else f'"{found.quote}" ({label})'
            if words not in said:
                said.append(words)
        justification = f"Said {len(hits)} time(s) what the rubric warns against: " + ", ".join(said[:4]) + "."
        suggestion = f'Leave out "{hits[0][2].quote}"; say what you will do instead.'
    evidence = _unique(quote_of(m, found) for _, m, found in hits)
    return _result(criterion, score, justification, evidence, suggestion, script)


# -- questions ----------------------------------------------------------------


def asked(lines: list[TranscriptMessage], language: str) -> list[tuple[TranscriptMessage, q.Question]]:
    return [(m, question) for m in lines for question in q.questions(m.text, language)]


def open_questions(criterion: Criterion, script: Script, lines: list[TranscriptMessage],
                   language: str) -> CriterionResult:
    found = asked(lines, language)
    opened = [(m, x) for m, x in found if x.kind == q.OPEN]
    closed = [(m, x) for m, x in found if x.kind == q.CLOSED]
    needed = criterion.check.min_count
    score = _ratio_score(len(opened), needed)
    justification = f"Asked {len(opened)} open question(s) (needed {needed}) and {len(closed)} closed one(s)."
    chosen = opened[:MAX_EVIDENCE]
    if score < 100:
        chosen += closed[: max(0, MAX_EVIDENCE - len(chosen))]  # show the closed ones that could have been open
    evidence = tuple(Quote(seq=m.seq, quote=m.text[x.start:x.end]) for m, x in chosen)
    code = language.split("-")[0].lower()
    suggestion = "Ask open questions that invite a story, for example " + OPEN_EXAMPLES.get(code, OPEN_EXAMPLES["en"])
    confidence = 0.9 if q.rules_for(language).supported else 0.4
    return _result(criterion, score, justification, evidence, suggestion, script, confidence=confidence)


# -- beats --------------------------------------------------------------------


def fired_beats(messages: Sequence[TranscriptMessage]) -> dict[str, TranscriptMessage] | None:
    """Beat id -> the character message that fired it, or ``None`` when the transcript does not report beats."""
    if not any(m.beats is not None for m in messages):
        return None
    fired: dict[str, TranscriptMessage] = {}
    for message in messages:
        for beat in message.beats or ():
            fired.setdefault(beat, message)
    return fired


def trigger_forms(triggers: tuple[str, ...], script: Script) -> list[tuple[str, ...]]:
    """Every token sequence that says one of ``triggers`` (computed once per beat, not per message)."""
    return [form for trigger in triggers for form in variants(trigger, script.scripted.synonyms)]


def _trigger_match(message: TranscriptMessage, forms: list[tuple[str, ...]]) -> Match | None:
    toks = tokens(message.text)
    for form in forms:
        found = find_sequence(message.text, form, message.seq, toks) or find_bag(message.text, form, message.seq,
                                                                               toks)
        if found is not None:
            return found
    return None


def beat_reached(criterion: Criterion, script: Script, messages: Sequence[TranscriptMessage]) -> CriterionResult:
    check = criterion.check
    beats = {beat.id: beat for beat in script.scripted.beats}
    lines = learner_lines(messages)
    recorded = fired_beats(messages)
    reached: list[tuple[str, Quote]] = []
    for beat_id in check.beats:
        beat = beats.get(beat_id)
        forms = trigger_forms(beat.triggers, script) if beat else []
        if recorded is not None:
            reply = recorded.get(beat_id)
            if reply is None:
                continue
            before = [m for m in lines if m.seq < reply.seq]
            said = before[-1] if before else None
            match = _trigger_match(said, forms) if said is not None else None
            reached.append((beat_id, quote_of(said, match) if said is not None else quote_of(reply)))
        else:
            hit = next(((m, found) for m in lines if (found := _trigger_match(m, forms)) is not None), None)
            if hit is not None:
                reached.append((beat_id, quote_of(hit[0], hit[1])))
    needed = min(check.min_count, len(check.beats))
    score = _ratio_score(len(reached), needed)
    how = "as the character engine reported" if recorded is not None else "judged from your lines"
    if not check.beats:
        justification = "The rubric names no beats for this criterion."
    elif reached:
        justification = (f"Reached {len(reached)} key moment(s), {needed} needed ({how}): "
                         + ", ".join(_beat_name(beats.get(b), b) for b, _ in reached) + ".")
    else:
        justification = f"Did not reach {', '.join(_beat_name(beats.get(b), b) for b in check.beats[:3])} ({how})."
    missing = [b for b in check.beats if b not in {r for r, _ in reached}]
    suggestion = None
    if missing:
        beat = beats.get(missing[0])
        if beat is not None and beat.triggers:
            suggestion = f'Try: "{_say_form(beat.triggers[0], script)}".'
    confidence = 1.0 if recorded is not None else 0.7
    evidence = _unique(quote for _, quote in reached)
    return _result(criterion, score, justification, evidence, suggestion, script, confidence=confidence)


def _beat_name(beat, beat_id: str) -> str:
    return f"{beat.description} ({beat_id})" if beat is not None and beat.description else f'"{beat_id}"'


# -- model checks without a model ---------------------------------------------


def _meaningful(word: str) -> bool:
    """Long enough to carry an idea: four letters, or a pair of Han or kana characters."""
    return word not in STOPWORDS and (len(word) >= 4 or len(word) == 2 and is_cjk(word))


def keywords(text: str) -> list[str]:
    """The meaningful words of a description, stemmed, in order, once each."""
    seen: list[str] = []
    for token in tokens(text):
        if _meaningful(token.norm) and token.norm not in seen:
            seen.append(token.norm)
    return seen


def _root(word: str) -> str:
    """The first five letters: crude, but 'frustration' and 'frustrating' share an idea."""
    return word[:5]


def _concept_roots(script: Script) -> list[set[str]]:
    """Each synonyms group as a set of word roots, so 'apologises' also finds 'sorry'."""
    groups = []
    for concept, words in script.scripted.synonyms.items():
        forms = [concept, *words]
        # A Han bigram stands for its group only when it is a whole synonym: the pairs inside a
        # longer phrase ("沒有" in "沒有照說明書") are too common to mean the phrase's idea.
        groups.append({_root(t.norm) for form in forms for t in tokens(form)
                       if t.norm not in STOPWORDS and (not is_cjk(t.norm) or len(form.strip()) == 2)})
    return groups


def approximate(criterion: Criterion, script: Script, lines: list[TranscriptMessage]) -> CriterionResult:
    """Score a ``model`` check by how many of ``good_looks_like``'s key words the learner used.

    Words match by their first five letters, and a key word that belongs to one
    of the script's synonym groups matches any word of that group.
    """
    reference = criterion.check.good_looks_like or criterion.description
    wanted = keywords(reference)
    if not wanted:
        return _result(criterion, 50.0, "No description of a good answer to compare with; scored neutrally.",
                       (), None, script, method=APPROXIMATION, confidence=0.2)
    groups = _concept_roots(script)
    accepts: dict[str, set[str]] = {}
    for word in wanted:
        roots = {_root(word)}
        for group in groups:
            if _root(word) in group:
                roots |= group
        accepts[word] = roots
    covered: set[str] = set()
    scored: list[tuple[int, TranscriptMessage, int, int]] = []
    for message in lines:
        hits = []
        ideas: set[str] = set()
        # "Calm down" must not count for "stays calm": words inside an avoided phrase score nothing.
        banned = avoided_spans(script, message)
        for token in tokens(message.text):
            if not _meaningful(token.norm):
                continue
            if any(start <= token.start < end for start, end in banned):
                continue
            matched = {word for word, roots in accepts.items() if _root(token.norm) in roots}
            if matched:
                hits.append(token)
                ideas |= matched
        if hits:
            covered |= ideas
            start, end = hits[0].start, hits[-1].end
            if end - start > 240:
                start, end = sentence_around(message.text, hits[0].start, hits[0].end)
            scored.append((len(ideas), message, start, end))
    # Han and kana key words are overlapping character pairs: "說明下一步" gives four pairs for two
    # words, and the pairs that straddle a word boundary are never said on their own. So each pair
    # counts as half an idea, or no Chinese learner could reach the target.
    ideas = max(1, round(len(wanted) - sum(1 for word in wanted if is_cjk(word)) / 2))
    target = max(1, math.ceil(ideas * KEYWORD_SHARE))
    score = _ratio_score(len(covered), target)
    justification = (f"Estimated without a language model: used {min(len(covered), ideas)} of {ideas} key ideas "
                     f"of a good answer (full marks at {target}).")
    best = sorted(scored, key=lambda item: (-item[0], item[1].seq))[:MAX_EVIDENCE]
    evidence = tuple(Quote(seq=m.seq, quote=m.text[a:b]) for _, m, a, b in sorted(best, key=lambda i: i[1].seq))
    suggestion = criterion.check.good_looks_like or None
    return _result(criterion, score, justification, evidence, suggestion, script, method=APPROXIMATION,
                   confidence=0.4)


# -- shared -------------------------------------------------------------------


def _unique(quotes) -> tuple[Quote, ...]:
    """Quotes in order, each once, at most ``MAX_EVIDENCE``."""
    out: list[Quote] = []
    for quote in quotes:
        if quote not in out:
            out.append(quote)
    return tuple(out[:MAX_EVIDENCE])


def avoided_spans(script: Script, message: TranscriptMessage) -> list[tuple[int, int]]:
    """Where ``message`` says something a ``phrases_avoided`` check warns against."""
    spans = []
    for criterion in script.rubric.criteria:
        if criterion.check.kind == "phrases_avoided":
            for _, forms in _items(criterion.check, script):
                found = _find_item(message, forms)
                if found is not None:
                    spans.append((found.start, found.end))
    return spans


def _result(criterion: Criterion, score: float, justification: str, evidence: tuple[Quote, ...],
            suggestion: str | None, script: Script, *, method: str = RULES, confidence: float = 1.0
            ) -> CriterionResult:
    fell_short = score < script.rubric.passing_score
    return CriterionResult(
        criterion_id=criterion.id,
        title=criterion.title,
        kind=criterion.check.kind,
        score=score,
        weight=criterion.weight,
        justification=justification,
        evidence=evidence,
        # The author's "say this instead" wins; ours is generated from what was missing.
        suggestion=(criterion.suggestion or suggestion) if fell_short else None,
        method=method,
        confidence=confidence,
    )


def score_criterion(criterion: Criterion, script: Script, messages: Sequence[TranscriptMessage],
                    language: str) -> CriterionResult:
    lines = learner_lines(messages)
    kind = criterion.check.kind
    if kind == "phrases_used":
        return phrases_used(criterion, script, lines)
    if kind == "phrases_avoided":
        return phrases_avoided(criterion, script, lines)
    if kind == "open_questions":
        return open_questions(criterion, script, lines, language)
    if kind == "beat_reached":
        return beat_reached(criterion, script, messages)
    return approximate(criterion, script, lines)


def score_all(script: Script, messages: Sequence[TranscriptMessage], language: str) -> list[CriterionResult]:
    """Every criterion of the rubric, by the rules (``model`` checks approximated by keywords)."""
    return [score_criterion(c, script, messages, language) for c in script.rubric.criteria]


def statistics(messages: Sequence[TranscriptMessage], language: str, duration_seconds: float | None) -> Statistics:
    lines = learner_lines(messages)
    replies = [m for m in messages if m.role == CHARACTER]
    learner_words = sum(word_count(m.text) for m in lines)
    character_words = sum(word_count(m.text) for m in replies)
    found = asked(lines, language)
    total = learner_words + character_words
    return Statistics(
        learner_turns=len(lines),
        character_turns=len(replies),
        learner_words=learner_words,
        character_words=character_words,
        talk_share=round(learner_words / total, 3) if total else 0.0,
        questions=len(found),
        open_questions=sum(1 for _, x in found if x.kind == q.OPEN),
        closed_questions=sum(1 for _, x in found if x.kind == q.CLOSED),
        duration_seconds=duration_seconds,
    )


__all__ = ["score_all", "score_criterion", "statistics"]
