"""Fixtures: a local OpenAI-compatible server (plain HTTP, and one over TLS) for the whole run, reset before each test."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
from typing import Any

import pytest
from roleplay_openai.testserver import FakeOpenAI, LocalOpenAI

from roleplay_core import TranscriptMessage, script_from_dict
from roleplay_core.testing import make_kernel


def installed(plugin: str) -> bool:
    """Whether a Roleplay plugin is installed: found by its entry point, as the kernel finds it, never imported."""
    return bool(importlib.metadata.entry_points(group="roleplay", name=plugin))


needs_chat = pytest.mark.skipif(not installed("chat"), reason="needs roleplay-chat installed: it owns practice "
                                "sessions and the starter scenarios")
needs_evaluator = pytest.mark.skipif(not installed("evaluator"), reason="needs roleplay-evaluator installed: it "
                                     "owns /evaluations and asks evaluator.model to judge")


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture(scope="session")
def local_openai():
    with LocalOpenAI() as server:
        yield server


@pytest.fixture(scope="session")
def local_openai_tls():
    with LocalOpenAI(tls=True) as server:
        yield server


@pytest.fixture
def server(local_openai) -> LocalOpenAI:
    local_openai.fake.reset()
    return local_openai


@pytest.fixture
def tls_server(local_openai_tls) -> LocalOpenAI:
    local_openai_tls.fake.reset()
    return local_openai_tls


@pytest.fixture
def fake(server) -> FakeOpenAI:
    return server.fake


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


#: Kernels made during the running test: their providers' HTTP clients are closed before the test's
#: event loop ends. Left to the garbage collector, an open client closes itself later, inside some
#: other test's loop, and fails that test with "Event loop is closed".
_KERNELS: list[Any] = []


def openai_kernel(server: LocalOpenAI, **overrides: Any):
    kernel = make_kernel({**server.settings(), **overrides})
    _KERNELS.append(kernel)
    return kernel


@pytest.fixture
async def close_openai_clients(anyio_backend):
    """Close the openai clients of the kernels a test made, in the test's own event loop."""
    yield
    while _KERNELS:
        kernel = _KERNELS.pop()
        try:
            provider = kernel.model("openai")
        except LookupError:
            continue
        await provider.close()
