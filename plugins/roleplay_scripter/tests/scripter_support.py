"""Shared test data for the scripter's tests: the sample script and the starter pack's folder."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

PACK_DIR = Path(__file__).resolve().parents[2] / "roleplay_chat" / "roleplay_chat" / "packs" / "starter"

SAMPLE: dict[str, Any] = {
    "id": "library-late-fee",
    "language": "en",
    "translation_group": "library-late-fee",
    "title": "Library late fee",
    "summary": "A reader disputes a late fee.",
    "learner_role": "Librarian",
    "setting": "The front desk of a city library.",
    "objectives": ["Listen", "Explain the fee", "Offer a waiver"],
    "difficulty": "beginner",
    "tags": ["customer-service", "library"],
    "estimated_minutes": 5,
    "characters": [
        {
            "id": "sam",
            "name": "Sam Ortiz",
            "persona": "You are Sam, annoyed about a 6 dollar late fee.",
            "traits": ["grumpy", "fair"],
            "speaking_style": "Short sentences.",
            "voice": "Puck",
            "opening_line": "Why do I owe six dollars?",
            "speaks_first": True,
            "description": "A regular reader.",
        }
    ],
    "scripted": {
        "initial_mood": -1,
        "synonyms": {"sorry": ["apologise", "apologize"], "waive": ["cancel the fee", "remove the fee"]},
        "beats": [
            {"id": "greet", "triggers": ["hello", "good morning"], "replies": ["Hi. About this fee..."]},
            {"id": "apology", "triggers": ["sorry"], "replies": ["Thanks, I guess.", "Okay."], "mood_effect": 1},
            {"id": "explain", "triggers": ["the book was due", "two weeks late"],
             "replies": ["I was away. Nobody told me."]},
            {"id": "waiver", "triggers": ["waive"], "requires": ["explain"],
             "replies": ["Really? Thank you!"], "mood_effect": 2},
        ],
        "fallbacks": [{"replies": ["Sorry, what?"]}],
        "end_conditions": [{"kind": "beat_reached", "beat": "waiver", "reason": "Fee waived."}],
    },
    "rubric": {
        "passing_score": 60,
        "criteria": [
            {"id": "apologised", "title": "Apologised", "weight": 1,
             "check": {"kind": "phrases_used", "concepts": ["sorry"]}},
            {"id": "explained", "title": "Explained the fee", "weight": 1,
             "check": {"kind": "beat_reached", "beats": ["explain"]}},
            {"id": "polite", "title": "Polite", "weight": 1,
             "check": {"kind": "model", "good_looks_like": "Calm and friendly."}},
        ],
    },
}


def sample(**changes: Any) -> dict[str, Any]:
    """A deep copy of the sample script with top-level fields replaced."""
    data = copy.deepcopy(SAMPLE)
    data.update(changes)
    return data
