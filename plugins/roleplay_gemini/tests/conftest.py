"""Fixtures: one local Gemini server over TLS for the whole run, reset before each test."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
from typing import Any

import pytest
from roleplay_gemini.testserver import FakeGemini, LocalGemini

from roleplay_core import TranscriptMessage, script_from_dict
from roleplay_core.testing import make_kernel


def installed(plugin: str) -> bool:
    """Whether a Roleplay plugin is installed: found by its entry point, as the kernel finds it, never imported."""
    return bool(importlib.metadata.entry_points(group="roleplay", name=plugin))


#: End-to-end tests through other plugins: skipped, with the reason, when those are not installed
#: (as in `nox -s isolation`); they all run when everything is installed.
needs_chat = pytest.mark.skipif(not installed("chat"), reason="needs roleplay-chat installed: it owns practice "
                                "sessions, the /voice relay, the starter scenarios and the 'scripted' provider")
needs_evaluator = pytest.mark.skipif(not installed("evaluator"), reason="needs roleplay-evaluator installed: it "
                                     "owns /evaluations and asks evaluator.model to judge")


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture(scope="session")
def local_gemini():
    with LocalGemini() as server:
        yield server


@pytest.fixture
def gemini(local_gemini) -> LocalGemini:
    local_gemini.fake.reset()
    return local_gemini


@pytest.fixture
def fake(gemini) -> FakeGemini:
    return gemini.fake


SCRIPT = script_from_dict({
    "id": "refund",
    "title": "Refund at the returns desk",
    "summary": "A customer wants her money back.",
    "learner_role": "Returns desk agent",
    "characters": [
        {"id": "sam", "name": "Sam", "persona": "An impatient customer whose kettle broke.", "voice": "Puck"},
        {"id": "lee", "name": "Lee", "persona": "Sam's friend."},
    ],
    "rubric": {"criteria": [
        {"id": "empathy", "title": "Shows empathy", "check": {"kind": "model", "good_looks_like": "names the feeling"}},
        {"id": "resolve", "title": "Offers a resolution", "check": {"kind": "model"}},
    ]},
})


def message(seq: int, role: str, text: str, character_id: str | None = None) -> TranscriptMessage:
    return TranscriptMessage(seq=seq, role=role, text=text, created_at=dt.datetime.now(dt.UTC),
                             character_id=character_id)


def gemini_kernel(server: LocalGemini, **overrides: Any):
    return make_kernel({**server.settings(), **overrides})
