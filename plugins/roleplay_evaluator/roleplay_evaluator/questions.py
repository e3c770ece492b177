"""Open and closed questions, by the words a question starts with.

An open question invites a story ("What happened?", "Tell me about...",
"¿Cómo se siente?"); a closed one asks for yes/no or a single fact ("Did you
call?", "When did it start?"). The rules are per language (the script's
language); English and Spanish are complete, French and German are basic, and
any other language only tells questions from statements, with lower confidence.
"""

from __future__ import annotations

import re

import attrs

from .text import fold, sentences

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
                     "walk me through", "talk me through", "help me understand", "in what way"),
        open_anywhere=("tell me", "describe", "explain", "walk me through", "talk me through", "say more",
                       "help me understand", "more about", "what happened", "how did", "how do you feel",
                       "how would you", "what would", "what do you"),
        fillers=("so", "and", "okay", "ok", "well", "right", "now", "then", "but", "alright", "great", "sure",
                 "thanks", "thank you", "i see", "mm", "hmm", "please"),
        closed_starts=("how many", "how much", "how long", "how often", "how old", "what time"),
        auxiliaries=tuple("""is are am was were do does did can could will would shall should may might must have
            has had isn't aren't wasn't weren't don't doesn't didn't can't couldn't won't wouldn't shouldn't
            haven't hasn't hadn't""".split()),
        requests=("tell me", "describe", "explain", "walk me through", "talk me through", "say more",
                  "help me understand", "more about"),
    ),
    "es": Rules(
        open_starts=("que", "como", "por que", "cual", "cuales", "cuentame", "cuenteme", "describa",
                     "describeme", "describame", "explique", "explicame", "expliqueme", "hableme", "hablame",
                     "de que manera", "en que"),
        open_anywhere=("cuentame", "cuenteme", "contarme", "contar", "describir", "describirme", "explicar",
                       "explicarme", "hablarme", "que paso", "como se siente", "como te sientes", "que opina",
                       "que piensa", "que te parece", "que le parece"),
        fillers=("y", "bueno", "pues", "entonces", "vale", "ok", "claro", "mire", "oiga", "a ver",
                 "gracias", "por favor", "muy bien", "bien"),
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
    "en": ("tell me", "describe", "explain", "walk me through", "talk me through", "help me understand"),
    "es": ("cuentame", "cuenteme", "describa", "describeme", "describame", "explique", "explicame",
           "expliqueme", "hableme", "hablame"),
    "fr": ("racontez", "decrivez", "expliquez", "parlez-moi"),
    "de": ("erzahlen sie", "beschreiben sie", "erklaren sie"),
}

_FALLBACK = Rules(open_starts=(), open_anywhere=(), fillers=(), supported=False)


def rules_for(language: str) -> Rules:
    return RULES.get(language.split("-")[0].lower(), _FALLBACK)


@attrs.frozen
class Question:
    """One question (or open prompt) the learner asked: a verbatim slice of its message."""

    start: int
    end: int
    kind: str  # "open" or "closed"


def _plain(text: str) -> str:
    """Folded words separated by single spaces, punctuation gone (apostrophes and hyphens kept)."""
    chars = [ch if ch.isalnum() or ch in "'-" else " " for ch in fold(text)]
    return " ".join("".join(chars).split())


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
    rules = rules_for(language)
    stripped = sentence.strip()
    whole = _strip_fillers(_plain(stripped), rules)
    asked = stripped.endswith("?") or stripped.startswith("\u00bf") or stripped.endswith("?\u201d")
    prompt = any(_starts(whole, p) for p in _PROMPTS.get(code, ()))
    if not asked and not prompt:
        return None
    padded = f" {_plain(stripped)} "
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


def questions(text: str, language: str) -> list[Question]:
    """The questions in one message, each with its span and kind."""
    found = []
    for start, end in sentences(text):
        kind = classify(text[start:end], language)
        if kind is not None:
            found.append(Question(start, end, kind))
    return found
