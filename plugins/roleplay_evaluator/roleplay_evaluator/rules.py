"""The built-in rule-based evaluator: scores every rubric check kind, deterministically, offline.

Each check returns a :class:`CriterionResult` with a 0-100 score, a short
justification in the session's language, verbatim evidence (message number and
the sentence that satisfied the check) and, when the learner fell short, a
"say this instead" suggestion.

The rules read the learner's words through :mod:`roleplay_core.text`, the same
analysis the character engine uses, sentence by sentence:

- a concept is said when any of its phrasings is (the script's ``synonyms``
  plus the built-in lexicon of the script's language), not under a negation;
- a beat counts when the engine reported it *or* the learner's own words say one
  of its triggers, so a message the engine answered with another beat still
  earns it (the engine answers one or two beats a turn; a learner may say three
  things at once);
- a ``model`` check cannot be measured without a model: it is not scored and is
  left out of the overall score (the report says so).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import attrs

from roleplay_core import CHARACTER, LEARNER, Beat, Check, Criterion, Script, TranscriptMessage, Undo
from roleplay_core.text import (
    FUNCTION_WORDS,
    Lexicon,
    Pattern,
    hypothetical,
    is_cjk,
    judged,
    lexicon_for,
    norms,
    only_function_words,
    sentence_around,
    sentences,
    tokens,
    word_count,
)

from . import questions as q
from .messages import joined, quoted, say
from .report import NOT_SCORED, RULES, CriterionResult, Quote, Statistics

#: At most this many quotes per criterion: enough to show it, few enough to read.
MAX_EVIDENCE = 4
#: A quote longer than this (a run-on speech transcript) is cut to the words that matched.
QUOTE_LIMIT = 240
#: The concept of mocking, belittling or threatening the other person (built into every lexicon).
CONTEMPT = "contempt"
#: A practice that shows contempt scores at most this share of its pass mark, whatever else went well:
#: it fails, and it ranks below one that was merely incomplete (28 of a pass mark of 70).
CONTEMPT_CAP = 0.4
#: A ``required`` criterion scored under this (out of 100) shows little or none of what it asks:
#: the practice fails, and its score is held just under the pass mark.
REQUIRED_FLOOR = 25.0
#: A beat credited from the learner's words, not reported by the engine, is a little less certain.
WORDS_CONFIDENCE = 0.85


def learner_lines(messages: Sequence[TranscriptMessage]) -> list[TranscriptMessage]:
    return [m for m in messages if m.role == LEARNER and m.text.strip()]


def quote_at(message: TranscriptMessage, span: tuple[int, int] | None = None) -> Quote:
    """A verbatim quote: the sentence holding ``span``, or the message's first sentence."""
    text = message.text
    if span is not None:
        start, end = sentence_around(text, span[0], span[1], QUOTE_LIMIT)
    else:
        start, end = (sentences(text) or ((0, len(text)),))[0]
        end = min(end, start + QUOTE_LIMIT)
    return Quote(seq=message.seq, quote=text[start:end])


def _ratio_score(found: int, needed: int) -> float:
    if needed <= 0:
        return 100.0
    return round(100.0 * min(1.0, found / needed), 1)


# -- saying something: concepts, phrases, triggers -----------------------------------------


class Item:
    """One thing a check looks for: a concept of the lexicon, or a phrase of its own."""

    def __init__(self, label: str, lexicon: Lexicon) -> None:
        self.label = label
        self.lexicon = lexicon
        self.concept = lexicon.concept_of(label)
        self.pattern = None if self.concept else Pattern.parse(label)
        words = [w for w in norms(label) if w not in FUNCTION_WORDS]
        # A phrase of several content words may be said in another order ("when did you buy it"
        # ~ "you bought it when?"): all its content words in one sentence count, unless the phrase
        # is nothing but function words, which must be said whole.
        self.bag = frozenset(words) if len(words) >= 2 and not only_function_words(label) else None

    def said(self, text: str, *, limits: bool = False) -> tuple[int, int] | None:
        """The span where this is said (affirmatively) in ``text``; else None. With ``limits``, said
        as the subject of a limit counts too: "misuse isn't covered" still says "misuse"."""
        if self.concept is not None:
            hit = self.lexicon.said(text, self.concept, limits=limits)
            return None if hit is None else (hit.start, hit.end)
        assert self.pattern is not None
        span = self.pattern.search(text, affirmative=True, limits=limits)
        if span is None and self.bag is not None:
            span = _bag(text, self.bag)
        return span

    def every(self, text: str, *, limits: bool = False) -> list[tuple[int, int]]:
        """Each sentence of ``text`` that says this: one span per sentence."""
        spans = []
        for start, end in sentences(text):
            span = self.said(text[start:end], limits=limits)
            if span is not None:
                spans.append((start + span[0], start + span[1]))
        return spans

    @property
    def example(self) -> str:
        """How to say it, for a suggestion or a list: the phrase, or a concept's first plain phrasing."""
        if self.concept is None:
            return self.label
        for phrasing in self.lexicon.phrasings.get(self.concept, ())[1:]:
            if "..." not in phrasing and "*" not in phrasing:
                return phrasing
        return self.label.replace("_", " ")


def _bag(text: str, words: frozenset[str]) -> tuple[int, int] | None:
    """Every word of ``words`` in one sentence of ``text``: the span from the first to the last."""
    toks = tokens(text)
    for start, end in sentences(text):
        inside = [t for t in toks if start <= t.start < end and t.norm in words]
        if {t.norm for t in inside} == words:
            return inside[0].start, inside[-1].end
    return None


def items_of(check: Check, script: Script) -> list[Item]:
    lexicon = lexicon_for(script)
    return [Item(label, lexicon) for label in (*check.phrases, *check.concepts) if label.strip()]


def first_said(item: Item, lines: Sequence[TranscriptMessage],
               warned: Sequence[Item] = ()) -> tuple[TranscriptMessage, tuple[int, int]] | None:
    """The first message and span that say ``item``; not in a sentence that also says one of
    ``warned`` (what the rubric warns against)."""
    for message in lines:
        if not warned:
            span = item.said(message.text)
            if span is not None:
                return message, span
            continue
        for start, end in sentences(message.text):
            sentence = message.text[start:end]
            span = item.said(sentence)
            if span is not None and not any(w.said(sentence, limits=True) for w in warned):
                return message, (start + span[0], start + span[1])
    return None


def warned_items(script: Script) -> list[Item]:
    """What the script's rubric warns against: every item of its ``phrases_avoided`` checks."""
    return [item for criterion in script.rubric.criteria if criterion.check.kind == "phrases_avoided"
            for item in items_of(criterion.check, script)]


# -- phrases ------------------------------------------------------------------------------


def phrases_used(criterion: Criterion, script: Script, lines: list[TranscriptMessage],
                 language: str) -> CriterionResult:
    check = criterion.check
    items = items_of(check, script)
    used: list[tuple[Item, TranscriptMessage, tuple[int, int]]] = []
    missing: list[Item] = []
    # "I understand, but rules are rules" and "真的很抱歉，這是公司的規定": words of the criterion said in
    # one sentence with what the rubric warns against soften the slip; they are not the criterion.
    warned = warned_items(script)
    for item in items:
        hit = first_said(item, lines, warned)
        if hit is None:
            missing.append(item)
        else:
            used.append((item, *hit))
    needed = min(check.min_count, len(items)) if items else 0
    score = _ratio_score(len(used), needed)
    repeated = _on_repeat(used, lines)
    if repeated:
        score /= 2
    if not items:
        justification = say(language, "used.empty")
    elif used:
        justification = say(language, "used.some", count=len(used), total=len(items), needed=needed,
                            said=quoted((m.text[a:b] for _, m, (a, b) in used), language))
        if missing and score < 100:
            justification += " " + say(language, "used.missing",
                                       missing=quoted((i.example for i in missing), language))
        if repeated:
            justification += " " + say(language, "used.repeated", count=repeated)
    else:
        justification = say(language, "used.none", missing=quoted((i.example for i in missing), language))
    # Words that were said, but only beside a slip: say so, or the learner reads "not heard".
    softened = [hit for hit in (first_said(item, lines) for item in missing) if hit is not None] if warned else []
    if softened and score < 100:
        justification += " " + say(language, "used.softened",
                                   said=quoted((m.text[a:b] for m, (a, b) in softened), language))
    evidence = _unique(quote_at(m, span) for _, m, span in used)
    suggestion = say(language, "suggest.say", phrase=missing[0].example) if missing else None
    how = say(language, "how.phrases_used", examples=quoted((i.example for i in items), language))
    return _result(criterion, score, justification, evidence, suggestion, script, how)


#: A sentence said word for word in this many messages or more is a formula on repeat.
REPEATED = 3


def _on_repeat(used: list[tuple[Item, TranscriptMessage, tuple[int, int]]], lines: list[TranscriptMessage]) -> int:
    """How many messages say, word for word, the one sentence every phrase found was said in ("I
    understand your frustration." opening each of five lines): 0 unless at least REPEATED. Said
    that way, the words read as a script, not as a response to the other person, and count half."""
    if not used:
        return 0
    where: set[str] = set()
    for item, _, _ in used:
        for line in lines:
            for span in item.every(line.text):
                start, end = sentence_around(line.text, *span)
                where.add(" ".join(norms(line.text[start:end])))
                if len(where) > 1:
                    return 0  # said in two different sentences: not one formula
    if len(where) != 1:
        return 0
    (sentence,) = where
    count = sum(1 for m in lines if any(" ".join(norms(m.text[a:b])) == sentence for a, b in sentences(m.text)))
    return count if count >= REPEATED else 0


#: The concept of words that take back what was just said ("scratch that", "me equivoqué", 我說錯了).
RETRACTION = "retraction"


def retracted(script: Script, lines: Sequence[TranscriptMessage], message: TranscriptMessage,
              span: tuple[int, int]) -> bool:
    """Whether the learner took back the words at ``span`` at once: a later sentence of the same
    message, or the first sentence of their next message, says ``retraction`` ("I'm sure you'll be
    home tonight. Actually, sorry, I shouldn't have said that."; "Any dyspnoea? Sorry, that's
    doctor-speak."). A slip corrected at once is a repair, not the slip."""
    lexicon = lexicon_for(script)
    after = [(a, b) for a, b in sentences(message.text) if a >= span[1]]
    if any(lexicon.said(message.text[a:b], RETRACTION) for a, b in after):
        return True
    later = next((m for m in lines if m.seq > message.seq), None)
    if later is None:
        return False
    first = sentences(later.text)[:1]
    return any(lexicon.said(later.text[a:b], RETRACTION) for a, b in first)


def phrases_avoided(criterion: Criterion, script: Script, lines: list[TranscriptMessage],
                    language: str) -> CriterionResult:
    items = items_of(criterion.check, script)
    slips: list[tuple[Item, TranscriptMessage, tuple[int, int]]] = []
    for message in lines:
        for item in items:
            # "Si es mal uso, no entra en garantía" and "misuse isn't covered" still blame.
            slips.extend((item, message, span) for span in item.every(message.text, limits=True)
                         if not retracted(script, lines, message, span))
    # Each slip costs half the marks: one is a lapse, two is a habit.
    score = max(0.0, 100.0 - 50.0 * len(slips))
    if not slips:
        justification = say(language, "avoided.clean")
        suggestion = None
    else:
        said = list(dict.fromkeys(m.text[a:b] for _, m, (a, b) in slips))
        justification = say(language, "avoided.slips", count=len(slips), said=quoted(said, language, 4))
        suggestion = say(language, "suggest.leave_out", phrase=said[0])
    evidence = _unique(quote_at(m, span) for _, m, span in slips)
    how = say(language, "how.phrases_avoided", examples=quoted((i.example for i in items), language))
    return _result(criterion, score, justification, evidence, suggestion, script, how)


# -- questions ----------------------------------------------------------------------------


def asked(lines: list[TranscriptMessage], language: str) -> list[tuple[TranscriptMessage, q.Question]]:
    return [(m, question) for m in lines for question in q.questions(m.text, language)]


def open_questions(criterion: Criterion, script: Script, lines: list[TranscriptMessage],
                   language: str) -> CriterionResult:
    found = asked(lines, language)
    opened = [(m, x) for m, x in found if x.kind == q.OPEN]
    closed = [(m, x) for m, x in found if x.kind == q.CLOSED]
    needed = criterion.check.min_count
    score = _ratio_score(len(opened), needed)
    justification = say(language, "questions", open=len(opened), closed=len(closed), needed=needed)
    chosen = opened[:MAX_EVIDENCE]
    if score < 100:
        chosen += closed[: max(0, MAX_EVIDENCE - len(chosen))]  # show the closed ones that could have been open
    evidence = tuple(Quote(seq=m.seq, quote=m.text[x.start:x.end]) for m, x in chosen)
    confidence = 0.9 if q.rules_for(language).supported else 0.4
    return _result(criterion, score, justification, evidence, say(language, "suggest.open"), script,
                   say(language, "how.open_questions"), confidence=confidence)


# -- beats --------------------------------------------------------------------------------


def fired_beats(messages: Sequence[TranscriptMessage]) -> dict[str, TranscriptMessage] | None:
    """Beat id -> the character message that fired it, or ``None`` when the transcript does not report beats."""
    if not any(m.beats is not None for m in messages):
        return None
    fired: dict[str, TranscriptMessage] = {}
    for message in messages:
        for beat in message.beats or ():
            fired.setdefault(beat, message)
    return fired


def beat_items(beat: Beat, script: Script) -> list[Item]:
    lexicon = lexicon_for(script)
    return [Item(trigger, lexicon) for trigger in beat.triggers if trigger.strip()]


def beat_label(beat: Beat | None, beat_id: str, script: Script, language: str) -> str:
    """What the learner did, in words a learner reads: the beat's label, never its id or the author's note."""
    if beat is not None and beat.label.strip():
        return beat.label.strip()
    if beat is not None and beat.triggers:
        return say(language, "beats.said_like", phrase=Item(beat.triggers[0], lexicon_for(script)).example)
    return beat_id.replace("_", " ").replace("-", " ")


#: Where in the conversation something was said: (message number, character offset).
Position = tuple[int, int]


class Beats:
    """Which beats the learner reached, where, and the quote that shows it.

    A beat counts when the engine reported it, or when the learner's own words say
    one of its triggers, but not in the same sentence as a beat it ``requires``: a
    follow-up asked in the same breath as the question it follows up ("tell me about a
    conflict and how you handled it") is not a follow-up. Order across the conversation is
    not asked (a refund offered before the receipt was checked is still a resolution
    offered; the missing or late check costs marks where the rubric asks for it), nor are
    mood conditions, which are the engine's business.
    """

    def __init__(self, script: Script, messages: Sequence[TranscriptMessage]) -> None:
        self.script = script
        self.beats = {beat.id: beat for beat in script.scripted.beats}
        self.lines = learner_lines(messages)
        self.recorded = fired_beats(messages) or {}
        self._reached: dict[str, tuple[Position, Quote, bool] | None] = {}

    def reached(self, beat_id: str, visiting: frozenset[str] = frozenset()) -> tuple[Position, Quote, bool] | None:
        """(where, quote, reported by the engine) for a reached beat; None when it was not."""
        if beat_id in self._reached:
            return self._reached[beat_id]
        if beat_id in visiting:  # a requires cycle (lint reports it): not reachable by words
            return None
        found = self._find(beat_id, visiting | {beat_id})
        self._reached[beat_id] = found
        return found

    def _find(self, beat_id: str, visiting: frozenset[str]) -> tuple[Position, Quote, bool] | None:
        beat = self.beats.get(beat_id)
        items = beat_items(beat, self.script) if beat else []
        reply = self.recorded.get(beat_id)
        if reply is not None and beat is not None and beat.open:
            # A yes/no question the character answered with the story anyway ("Have you ever had
            # a conflict?") earns an open beat only if the learner asked for it openly somewhere.
            reply = None
        if reply is not None:
            # The engine answered this beat: quote the learner's sentence that asked for it. The
            # character may play along with a bare keyword ("Impact: negative."); the evaluator
            # does not count a checklist read out as the skill.
            before = [m for m in self.lines if m.seq < reply.seq]
            for message in before[-1:] + before[:-1][::-1]:
                found = [(span, item) for item in items for span in item.every(message.text)]
                acts = [span for span, item in found if not self._not_the_act(message.text, span, beat, item)]
                if found and not acts:
                    if message is before[-1]:
                        return None
                    continue
                if acts:
                    span = min(acts)
                    return (message.seq, span[0]), quote_at(message, span), True
            if before:
                return (before[-1].seq, 0), quote_at(before[-1]), True
            return (reply.seq, 0), quote_at(reply), True
        if beat is None:
            return None
        # Where the beats it requires were reached (a requirement never met blocks nothing).
        required = [found[0] for r in beat.requires if (found := self.reached(r, visiting)) is not None]
        # ...but the learner's opening message does not earn a beat whose requirements never came:
        # "I just want to check in" opens a meeting, it agrees no follow-up.
        opening = self.lines[0].seq if beat.requires and not required and self.lines else None
        # A probe into a story follows the story asked last: "Tell me about a time you were under
        # pressure. How did you handle it?" probes the pressure story, not the conflict asked about
        # two messages before (Script.peers).
        peers = self.script.peers(beat.id) if beat.past else ()
        for message in self.lines:
            if message.seq == opening:
                continue
            opened = [found[0][1] for peer in peers if (found := self.reached(peer, visiting)) is not None
                      and found[0][0] == message.seq]
            spans = sorted(span for item in items for span in item.every(message.text)
                           if not any(_same_sentence(message.text, span, at, message.seq) for at in required)
                           and not any(at < span[0] for at in opened)
                           and not self._not_the_act(message.text, span, beat, item)
                           and not (beat.past and (hypothetical(message.text, span[0], self.script.language)
                                                   or judged(message.text, span[0], self.script.language))))
            if spans:
                return (message.seq, spans[0][0]), quote_at(message, spans[0]), False
        return None

    def _not_the_act(self, text: str, span: tuple[int, int], beat: Beat | None = None,
                     item: Item | None = None) -> bool:
        """A keyword read out bare, or said inside a leading question ("you'd agree the tone hasn't
        been great, right?" agrees no plan), or, for an ``open`` beat, inside a yes/no question
        ("Are you a team player?" asks for no story): words that name the act without doing it.
        Words that do what they say are never read out: "Goodbye.", "謝謝你等。" close the
        conversation however short the sentence."""
        if _bare(text, span) and not (item is not None and item.concept in PERFORMATIVE):
            return True
        language = self.script.language
        if any(start <= span[0] < end and q.leading(text[start:end], language) for start, end in sentences(text)):
            return True
        if beat is not None and beat.open:
            asked = q.questions(text, language)
            for n, question in enumerate(asked):
                if question.start <= span[0] < question.end and question.kind == q.CLOSED:
                    # "Are you good under pressure? Give me an example." asks for the story after all.
                    return not any(later.kind == q.OPEN for later in asked[n + 1:])
        return False


def _bare(text: str, span: tuple[int, int]) -> bool:
    """A sentence that says nothing but the keyword ("Site.", "Refund.", "發票"), not asked, or a keyword
    that is a heading before a colon ("Impact: negative."): a checklist read out or a word thrown at
    someone is not the act a beat stands for. "Receipt?" still asks, "Sure, a refund then." says
    more than the keyword, and a whole phrase that builds a sentence ("Thanks for your patience.") is
    said, not read out."""
    for start, end in sentences(text):
        if start <= span[0] < end:
            sentence = text[start:end]
            if _is_question(sentence):
                return False
            if sentence.rstrip().endswith((",", "\uff0c")) and text[end:].strip():
                return False  # a lead-in to what follows ("Cuénteme, ¿qué le pasa?"), not a label
            rest = text[start:span[0]] + text[span[1]:end]
            if not any(ch.isalnum() for ch in rest) or all(w in _ARTICLES for w in norms(rest)):
                return not _said_whole(text[span[0]:span[1]])
            # A heading read out before a colon ("Impact: negative.", "Agreed action: be nicer."); a
            # heading that leads into what it names ("Quick rundown: it's about 30 mins, I'll ask
            # you for real examples...") is said.
            colon = sentence.find(":")
            return 0 < colon and span[1] <= start + colon and word_count(sentence[:colon]) <= 2 \
                and word_count(sentence[colon + 1:]) <= HEADING_CONTENT_WORDS
    return False


#: After a heading's colon, this many words or fewer are a label's value ("Impact: negative."); more
#: are the thing said ("Quick plan: about twenty minutes of me asking, then ten for your questions.").
HEADING_CONTENT_WORDS = 5

#: Concepts whose words are the act itself (saying goodbye, thanks, sorry): said alone, they
#: are still said.
PERFORMATIVE = frozenset({"farewell", "thanks", "apology", "anything_else"})

#: Words that only point at a thing: "A refund." and "Your receipt." are the keyword, read out.
_ARTICLES = frozenset({"a", "an", "the", "your", "my", "un", "una", "el", "la", "los", "las", "su", "tu"})

#: Words that join the items of a list: "Ideas, concerns and expectations." is still a checklist.
_JOINERS = frozenset({"and", "or", "y", "o", "e", "u"})


def _said_whole(phrase: str) -> bool:
    """Whether a phrasing that makes up a whole sentence is said as a sentence rather than read out as a
    label: three words or more, one of them a word that builds a sentence ("Thanks for your patience.",
    "Gracias por su paciencia."), not a heading ("Past medical history.", "Ideas, concerns and
    expectations."). Chinese: six characters or more (謝謝您這麼有耐心)."""
    words = norms(phrase)
    if words and all(is_cjk(w) for w in words):
        return word_count(phrase) >= 6
    return word_count(phrase) >= 3 and any(w in FUNCTION_WORDS and w not in _JOINERS for w in words)


def _same_sentence(text: str, span: tuple[int, int], at: Position, seq: int) -> bool:
    """Whether ``span`` stands in the sentence where a required beat was reached (``at``)."""
    if at[0] != seq:
        return False
    return any(start <= at[1] < end and start <= span[0] < end for start, end in sentences(text))


def _is_question(sentence: str) -> bool:
    return sentence.rstrip().endswith(("?", "\uff1f")) or sentence.lstrip().startswith("\u00bf")


def _asked(text: str, span: tuple[int, int]) -> bool:
    """Whether ``span`` stands in a question: "Card or store credit?" offers a choice, and "How
    long?" names no time."""
    return any(start <= span[0] < end and _is_question(text[start:end]) for start, end in sentences(text))


def taken_back(at: Position, undone_by: Sequence[Undo], lines: Sequence[TranscriptMessage],
               script: Script) -> Quote | None:
    """The learner's words that took back a beat reached at ``at``, when nothing made it good after.

    For each :class:`Undo`, the last thing it ``says`` after the beat counts unless one of its
    ``until`` follows it. Both are read as the phrases of a check are: negated or quoted words do not count
    ("no inspection, no store credit"), and neither does a question nor a choice ("back on your
    card, or as store credit if you prefer").
    """
    lexicon = lexicon_for(script)
    for undo in undone_by:
        says = [Item(label, lexicon) for label in undo.says if label.strip()]
        until = [Item(label, lexicon) for label in undo.until if label.strip()]
        last: tuple[Position, TranscriptMessage, tuple[int, int]] | None = None
        for message in lines:
            if message.seq < at[0]:
                continue
            for span in sorted(span for item in says for span in item.every(message.text)):
                if (message.seq, span[0]) > at and not _asked(message.text, span) \
                        and not _alternative(message.text, span) and not retracted(script, lines, message, span):
                    last = ((message.seq, span[1]), message, span)
        if last is None:
            continue
        end = last[0]
        made_good = any((message.seq, found[0]) >= end and not _asked(message.text, found)
                        for message in lines if message.seq >= end[0]
                        for item in until for found in item.every(message.text))
        if not made_good:
            return quote_at(last[1], last[2])
    return None


def _taken_back_whole(undone_by: Sequence[Undo], tracker: Beats, script: Script) -> Quote | None:
    """What took back every beat of a check: an :class:`Undo` with ``after``, said after the first
    of those beats was reached (and not made good), whenever the check's own beats came."""
    for undo in undone_by:
        if not undo.after:
            continue
        anchors = [found[0] for found in map(tracker.reached, undo.after) if found is not None]
        if anchors:
            back = taken_back(min(anchors), (undo,), tracker.lines, script)
            if back is not None:
                return back
    return None


#: Words that offer what follows as one choice among others: "...or as store credit".
_OR = frozenset({"or", "o", "u", "either", "或", "或是", "或者", "還是", "也可以"})


def _alternative(text: str, span: tuple[int, int]) -> bool:
    """Whether ``span`` is offered as a choice: "or" (o, 或, 還是) just before it."""
    before = text[max(0, span[0] - 12):span[0]].rstrip(" ,\u3001\uff0c").lower()
    return any(before.endswith(word) and (len(before) == len(word) or not before[-len(word) - 1].isalpha()
                                           or is_cjk(word))
               for word in _OR)


def beat_reached(criterion: Criterion, script: Script, messages: Sequence[TranscriptMessage],
                 language: str, tracker: Beats | None = None) -> CriterionResult:
    check = criterion.check
    tracker = tracker or Beats(script, messages)
    beats = tracker.beats
    reached: list[tuple[str, Quote, bool]] = []
    undone: list[tuple[str, Quote]] = []  # reached, then taken back
    each = tuple(undo for undo in check.undone_by if not undo.after)
    whole = _taken_back_whole(check.undone_by, tracker, script)
    for beat_id in check.beats:
        found = tracker.reached(beat_id)
        if found is not None:
            back = whole or (taken_back(found[0], each, tracker.lines, script) if each else None)
            if back is None:
                reached.append((beat_id, found[1], found[2]))
            else:
                undone.append((beat_id, back))
    needed = min(check.min_count, len(check.beats))
    score = _ratio_score(len(reached), needed)
    done = {b for b, _, _ in reached}
    missing = [b for b in check.beats if b not in done]
    label = {b: beat_label(beats.get(b), b, script, language) for b in check.beats}
    taken = {b for b, _ in undone}
    untouched = [b for b in missing if b not in taken]
    if not check.beats:
        justification = say(language, "beats.empty")
    elif reached:
        justification = say(language, "beats.done", done=joined([label[b] for b, _, _ in reached], language))
        if missing and score < 100:
            justification += " " + say(language, "beats.count", count=len(reached), needed=needed)
            if untouched:
                justification += " " + say(language, "beats.missing",
                                           missing=joined([label[b] for b in untouched[:3]], language))
    elif untouched and not undone:
        justification = say(language, "beats.none", missing=joined([label[b] for b in missing[:3]], language))
    else:
        justification = ""
    for beat_id, quote in undone[:1]:  # what the learner did and took back, in their words
        justification += (" " if justification else "") + say(language, "beats.taken_back", done=label[beat_id],
                                                               quote=quote.quote)
    suggestion = None
    if missing:
        beat = beats.get(missing[0])
        if beat is not None and beat.triggers:
            suggestion = say(language, "suggest.say", phrase=beat_items(beat, script)[0].example)
    # Words decided what was taken back: they are read, not reported by the engine.
    confidence = 1.0 if all(from_engine for _, _, from_engine in reached) and not undone else WORDS_CONFIDENCE
    evidence = _unique([*(quote for _, quote, _ in reached), *(quote for _, quote in undone)])
    how = say(language, "how.beat_reached", labels=joined([label[b] for b in check.beats[:4]], language))
    return _result(criterion, score, justification, evidence, suggestion, script, how, confidence=confidence)


# -- model checks without a model -----------------------------------------------------------


def not_scored(criterion: Criterion, script: Script, language: str) -> CriterionResult:
    """A ``model`` check with no model: nothing is measured, so nothing is claimed."""
    return CriterionResult(
        criterion_id=criterion.id,
        title=criterion.title,
        kind=criterion.check.kind,
        score=None,
        weight=criterion.weight,
        justification=say(language, "not_scored"),
        suggestion=criterion.suggestion or criterion.check.good_looks_like or None,
        method=NOT_SCORED,
        confidence=0.0,
        judged_how=say(language, "how.not_scored"),
    )


# -- shared -------------------------------------------------------------------------------


def _unique(quotes) -> tuple[Quote, ...]:
    """Quotes in order, each once, at most ``MAX_EVIDENCE``."""
    out: list[Quote] = []
    for quote in quotes:
        if quote not in out:
            out.append(quote)
    return tuple(out[:MAX_EVIDENCE])


def _result(criterion: Criterion, score: float, justification: str, evidence: tuple[Quote, ...],
            suggestion: str | None, script: Script, how: str, *, confidence: float = 1.0) -> CriterionResult:
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
        method=RULES,
        confidence=confidence,
        judged_how=how,
    )


def score_criterion(criterion: Criterion, script: Script, messages: Sequence[TranscriptMessage],
                    language: str, tracker: Beats | None = None) -> CriterionResult:
    lines = learner_lines(messages)
    kind = criterion.check.kind
    if kind == "model" and criterion.offline_check is not None and criterion.offline_check.kind != "model":
        # The author named rules for when no model judges this criterion.
        offline = score_criterion(attrs.evolve(criterion, check=criterion.offline_check), script, messages,
                                  language, tracker)
        return attrs.evolve(offline, kind=kind, judged_how=say(language, "how.offline", how=offline.judged_how))
    if kind == "phrases_used":
        return phrases_used(criterion, script, lines, language)
    if kind == "phrases_avoided":
        return phrases_avoided(criterion, script, lines, language)
    if kind == "open_questions":
        return open_questions(criterion, script, lines, language)
    if kind == "beat_reached":
        return beat_reached(criterion, script, messages, language, tracker)
    return not_scored(criterion, script, language)


def score_all(script: Script, messages: Sequence[TranscriptMessage], language: str) -> list[CriterionResult]:
    """Every criterion of the rubric, by the rules (``model`` checks are left unscored)."""
    tracker = Beats(script, messages)  # every beat_reached criterion shares one walk of the beats
    return [score_criterion(c, script, messages, language, tracker) for c in script.rubric.criteria]


def contempt(script: Script, messages: Sequence[TranscriptMessage]) -> tuple[Quote, ...]:
    """Where the learner mocked, belittled or threatened the other person: the ``contempt`` concept
    of the script's language (and the script's own phrasings of it), not under a negation."""
    lexicon = lexicon_for(script)
    found = []
    for message in learner_lines(messages):
        # Words in quotation marks are someone else's ("one of your comments said 'stop wasting my
        # time'"): quoting them to talk about them is not saying them.
        others = [m.span() for m in _QUOTED.finditer(message.text)]
        found.extend(quote_at(message, (hit.start, hit.end))
                     for hit in lexicon.find(message.text, (CONTEMPT,))
                     if not hit.negated and not any(a <= hit.start < b for a, b in others)
                     and not _reported_words(message.text, hit.start)
                     and not _own_question(message.text, hit.start, hit.end))
    return _unique(found)


#: A question called silly: "that's a stupid question" belittles the other person's; "this is
#: probably a silly question, but..." and "igual es una pregunta tonta, pero..." are a hedger's
#: lead-in to their own.
_QUESTION_WORD = re.compile(r"\b(?:question|questions|pregunta|preguntas)\b|問題", re.IGNORECASE)
#: Before the phrase, in its sentence: the speaker's own question ("this", "my", "sorry if") or a hedge.
_OWN_BEFORE = re.compile(r"\b(?:this|my|mine|sorry if|maybe|probably|might|may|esta|mi|igual|quiz[aá]s?|"
                         r"a lo mejor|puede que|perdone si|perdón si|disculpe si)\b", re.IGNORECASE)
#: After it: "but" and the question it led in to.
_OWN_AFTER = re.compile(r"^\W*(?:but|pero)\b", re.IGNORECASE)


def _own_question(text: str, start: int, end: int) -> bool:
    """Whether a belittling phrase about a question (``start``-``end``) calls the learner's own
    question silly: said after "this", "my" or a hedge in its sentence, or followed by "but" and a
    question. Only phrases about a question are read this way; "you're being silly, but" still
    belittles."""
    if not _QUESTION_WORD.search(text[start:end]):
        return False
    begin = next((a for a, b in sentences(text) if a <= start < b), 0)
    if _OWN_BEFORE.search(text[begin:start]):
        return True
    return bool(_OWN_AFTER.match(text[end:])) and ("?" in text[end:] or "\uff1f" in text[end:])


#: A verb that hands on someone else's words: "you wrote", "one comment said", "le escribió", 他寫了.
#: Spoken, or through speech-to-text, a quotation has no quotation marks: "on Priya's PR you wrote
#: um did you even run this before wasting my time".
_REPORTING = re.compile(r"\b(?:wrote|write|writes|written|writing|say|said|says|saying|commented|comments? like|"
                        r"things like|stuff like|escrib\w*|dijo|dijiste|dice|decía|decia|puso|pusiste|"
                        r"coment[oó]|comentaste)\b|寫了|寫說|写了|留言說|留言|評論說|說了")
#: The learner handing on their own words ("I said", "I'm not saying") says them again.
_SELF_REPORTING = re.compile(r"\b(?:i|i'm|i am|i've|yo)\W+(?:\w+\W+){0,2}$|我$", re.IGNORECASE)
#: How far a reported phrase reaches after its verb, in words (a line of a review comment).
REPORTED_WORDS = 12


def _reported_words(text: str, at: int) -> bool:
    """Whether the words at ``at`` hand on someone else's words without quotation marks: a verb of
    saying or writing, not the learner's own ("I said"), shortly before them in the same sentence."""
    begin = next((start for start, end in sentences(text) if start <= at < end), 0)
    before = text[begin:at]
    verbs = list(_REPORTING.finditer(before.lower()))
    if not verbs:
        return False
    verb = verbs[-1]  # the nearest one hands on what follows it
    between = before[verb.end():]
    if is_cjk(verb.group()[0]):
        return len(between) <= REPORTED_WORDS * 2 and not before[:verb.start()].rstrip().endswith("我")
    return word_count(between) <= REPORTED_WORDS and not _SELF_REPORTING.search(before[:verb.start()].lower())


#: Text in quotation marks: double, typographic, guillemets, corner brackets, and single quotes that
#: open after a non-letter and close before one (an apostrophe inside, as in "don't", is kept).
_QUOTED = re.compile(r"\"[^\"]*\"|\u201c[^\u201d]*\u201d|\u00ab[^\u00bb]*\u00bb|\u300c[^\u300d]*\u300d|"
                     r"(?<!\w)['\u2018](?:[^'\u2018\u2019]|['\u2019](?=\w))+?['\u2019](?!\w)")


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
