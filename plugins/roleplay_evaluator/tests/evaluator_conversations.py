"""Learner lines for a good and a poor practice of any script, built from its rubric and beats.

A good learner greets, says each phrase and idea the rubric asks for, reaches
the beats the rubric names (saying their triggers, prerequisites first, calming
beats early), asks open questions in the script's language and describes the
good behaviour a model criterion looks for. A poor learner answers in closed
questions and says everything the rubric warns against.
"""

from __future__ import annotations

import re

from roleplay_core import Script

OPEN = {
    "en": ["What happened, from your point of view?", "How has this affected you?",
           "Tell me more about that.", "What would a good outcome look like for you?",
           "How do you see it?", "What else should I know?"],
    "es": ["¿Qué pasó, desde su punto de vista?", "¿Cómo le ha afectado esto?", "Cuénteme más, por favor.",
           "¿Qué resultado le parecería justo?", "¿Cómo lo ve usted?", "¿Qué más debería saber?"],
    "zh": ["從您的角度來看，發生了什麼事？", "這件事對您造成了什麼影響？", "可以跟我多說一些嗎？",
           "您覺得怎麼處理比較公平？", "您怎麼看這件事？", "還有什麼是我應該知道的？"],
}
CLOSED = {
    "en": ["Yes?", "Is that all?", "Okay.", "Did you try turning it off?", "Fine."],
    "es": ["¿Sí?", "¿Eso es todo?", "Vale.", "¿Lo apagó?", "Bien."],
    "zh": ["是嗎？", "就這樣嗎？", "好。", "您有試過關機嗎？", "好吧。"],
}


def _lang(script: Script) -> str:
    return script.language.split("-")[0].lower()


def _form(script: Script, phrase: str) -> str:
    """A concept name becomes its first synonym (the words a person would say)."""
    words = script.scripted.synonyms.get(phrase)
    return next(iter(words)) if words else phrase


def avoided(script: Script) -> list[str]:
    """Everything the rubric warns against, as words a learner could say."""
    out: list[str] = []
    for criterion in script.rubric.criteria:
        if criterion.check.kind == "phrases_avoided":
            out += list(criterion.check.phrases)
            out += [_form(script, concept) for concept in criterion.check.concepts]
    return out


def _all_avoided_forms(script: Script) -> list[str]:
    forms: list[str] = []
    for criterion in script.rubric.criteria:
        if criterion.check.kind == "phrases_avoided":
            forms += [p.lower() for p in criterion.check.phrases]
            for concept in criterion.check.concepts:
                forms += [concept.lower(), *(w.lower() for w in script.scripted.synonyms.get(concept, ()))]
    return forms


def _trigger(script: Script, beat_id: str) -> str | None:
    beat = next((b for b in script.scripted.beats if b.id == beat_id), None)
    if beat is None or not beat.triggers:
        return None
    bad = _all_avoided_forms(script)
    plain = [t for t in beat.triggers if t not in script.scripted.synonyms]
    for trigger in plain + list(beat.triggers):
        said = _form(script, trigger)
        if not any(_says(said, f) for f in bad):
            return said
    return None


def _says(text: str, form: str) -> bool:
    """Whether ``text`` holds ``form`` as whole words (``word*``: any word starting so): "family"
    does not hold the jargon "mi"."""
    if re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", form):
        return form.rstrip("*") in text  # no spaces between Chinese words: any place counts
    word = re.escape(form.rstrip("*"))
    return re.search(rf"\b{word}" + ("" if form.endswith("*") else r"\b"), text.lower()) is not None


def _with_prerequisites(script: Script, beat_id: str, out: list[str]) -> None:
    beat = next((b for b in script.scripted.beats if b.id == beat_id), None)
    if beat is None or beat_id in out:
        return
    for required in beat.requires:
        _with_prerequisites(script, required, out)
    out.append(beat_id)


def _sentence(text: str) -> str:
    text = text.strip()
    text = text[0].upper() + text[1:]
    if "\u4e00" <= text[-1] <= "\u9fff":  # Chinese ends a sentence with a full-width mark
        return text + "。"
    return text if text[-1] in ".?!。？！" else text + "."


def good_lines(script: Script) -> list[str]:
    lang = _lang(script)
    lines: list[str] = []
    criteria = script.rubric.criteria
    for criterion in criteria:
        check = criterion.check
        if check.kind == "phrases_used":
            lines += [_sentence(_form(script, p)) for p in (*check.phrases, *check.concepts)]
    beats: list[str] = []
    for criterion in criteria:
        check = criterion.check
        if check.kind == "beat_reached":
            # Prefer beats with no mood gate: the conversation need not be steered to reach them.
            ranked = sorted(check.beats, key=lambda b: next(
                (x.min_mood is not None for x in script.scripted.beats if x.id == b), True))
            reachable = [b for b in ranked if _trigger(script, b) is not None]
            for beat_id in reachable[: max(check.min_count, 1)]:
                _with_prerequisites(script, beat_id, beats)
    # A learner says a sentence, not a bare keyword (a bare "Refund." is no offer): frame each trigger.
    frame = {"es": "Bueno, {}", "zh": "好，{}"}.get(lang, "So, {}")
    lines += [_sentence(frame.format(t)) for b in beats if (t := _trigger(script, b))]
    wanted = max([c.check.min_count for c in criteria if c.check.kind == "open_questions"] or [0])
    lines += OPEN.get(lang, OPEN["en"])[:wanted]
    bad = _all_avoided_forms(script)
    for criterion in criteria:
        text = criterion.check.good_looks_like
        if criterion.check.kind == "model" and text and not any(f in text.lower() for f in bad):
            lines.append(" ".join(text.split()))
    return lines


def poor_lines(script: Script) -> list[str]:
    lang = _lang(script)
    lines = CLOSED.get(lang, CLOSED["en"])[:3]
    lines += [_sentence(a) for a in avoided(script)]
    return lines


def turns(lines: list[str], reply: str = "...") -> list[tuple[str, str]]:
    """Learner lines interleaved with a neutral character reply."""
    out: list[tuple[str, str]] = []
    for line in lines:
        out += [("l", line), ("c", reply)]
    return out
