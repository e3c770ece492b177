"""Shared test data for the scripter's tests: the sample script, the starter pack's folder, and what
needs roleplay-chat installed."""

from __future__ import annotations

import copy
import importlib.metadata
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from roleplay_core import hookimpl
from roleplay_core.testing import make_app

#: The starter pack's files in the checkout. roleplay-chat ships them, but they are plain YAML, so
#: the tests read them from here as sample data even when chat is not installed.
PACK_DIR = Path(__file__).resolve().parents[2] / "roleplay_chat" / "roleplay_chat" / "packs" / "starter"

#: Found by its entry point, as the kernel finds plugins; never imported (plugins do not import plugins).
CHAT_INSTALLED = bool(importlib.metadata.entry_points(group="roleplay", name="chat"))

#: For tests that need roleplay-chat itself, not just its pack files: learners' /chat/scenarios
#: routes, or the 'scripted' engine that preview plays. Skipped, with this reason, when it is missing
#: (as in `nox -s isolation`); they all run when everything is installed.
needs_chat = pytest.mark.skipif(not CHAT_INSTALLED, reason="needs roleplay-chat installed: it serves learners' "
                                "/chat/scenarios and ships the 'scripted' engine that preview plays")


class StarterPackFiles:
    """Registers the starter pack from the checkout, as roleplay-chat's ``register_script_packs`` does."""

    name = "test_starter_pack_files"

    @hookimpl
    def register_script_packs(self):
        return [PACK_DIR]


def pack_plugins() -> list[Any]:
    """Extra plugins that make the starter pack available: none when roleplay-chat ships it itself
    (registering it twice would ship every script id twice, which the kernel refuses)."""
    return [] if CHAT_INSTALLED else [StarterPackFiles()]


def scripter_app(overrides: Mapping[str, Any] | None = None):
    """``make_app`` with the starter pack available whether or not roleplay-chat is installed."""
    return make_app(overrides, plugins=pack_plugins())

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
            {"id": "greet", "triggers": ["hello", "good morning"], "replies": ["Hi. About this fee..."],
             "greeting": True},
            {"id": "apology", "triggers": ["sorry"], "replies": ["Thanks, I guess.", "Okay."], "mood_effect": 1},
            {"id": "explain", "triggers": ["the book was due", "two weeks late"],
             "replies": ["I was away. Nobody told me."], "label": "explained why the fee was charged",
             "nudge": "So what is this fee even for?"},
            {"id": "waiver", "triggers": ["waive"], "requires": ["explain"],
             "replies": ["Really? Thank you!"], "mood_effect": 2, "label": "offered to waive the fee"},
        ],
        "fallbacks": [{"replies": ["Sorry, what?", "I don't follow.", "And?", "What does that mean for me?",
                                   "Can we talk about the fee?"]}],
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
