"""The Markdown export reads in the report's language, notes (how it was judged) before the scores."""

from __future__ import annotations

import asyncio

import pytest
from evaluator_support import GOOD, small_script, transcript
from roleplay_evaluator.evaluate import evaluate
from roleplay_evaluator.export import markdown


@pytest.mark.parametrize(("language", "headings"), [
    ("en", ["# Evaluation: ", "## Notes", "## Criteria", "not scored"]),
    ("es", ["# Evaluación: ", "## Notas", "## Criterios", "sin puntuar"]),
    ("zh-Hant", ["# 評量：", "## 說明", "## 評分項目", "未評分"]),
])
def test_markdown_in_the_reports_language(language, headings):
    report = asyncio.run(evaluate(None, transcript(small_script(language), GOOD)))
    text = markdown(None, report)
    for heading in headings:
        assert heading in text, heading
    assert text.index(headings[1]) < text.index(headings[2])  # notes come before the scores
