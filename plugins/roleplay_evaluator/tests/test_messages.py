"""The report's sentences: every language has every key, with the same placeholders."""

from __future__ import annotations

import string

import pytest
from roleplay_evaluator.messages import CATALOGUE, LANGUAGES, joined, language_of, quoted, say


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_language_has_every_key_with_the_same_placeholders(language):
    english = CATALOGUE["en"]
    assert set(CATALOGUE[language]) == set(english)
    for key, text in english.items():
        assert placeholders(CATALOGUE[language][key]) == placeholders(text), (language, key)


@pytest.mark.parametrize(("tag", "catalogue"), [
    ("en", "en"), ("en-GB", "en"), ("es", "es"), ("es-MX", "es"), ("zh-Hant", "zh-Hant"), ("zh-TW", "zh-Hant"),
    ("fr", "en"), (None, "en"),
])
def test_language_tags_find_their_catalogue(tag, catalogue):
    assert language_of(tag) == catalogue


def test_lists_read_as_the_language_writes_them():
    assert quoted(["a", "b", "c"], "en") == "\u201ca\u201d, \u201cb\u201d and \u201cc\u201d"
    assert quoted(["a", "b"], "es") == "\u00aba\u00bb y \u00abb\u00bb"
    assert joined(["甲", "乙", "丙"], "zh-Hant") == "甲、乙和丙"
    assert say("es", "questions", open=2, closed=1, needed=2).startswith("Hizo 2 pregunta(s) abierta(s)")
