"""Fixtures: a real app (memory storage, every installed plugin, the starter pack), tokens per role."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from roleplay_core.testing import auth_headers

sys.path.insert(0, str(Path(__file__).parent))  # scripter_support, next to the tests

from scripter_support import scripter_app  # noqa: E402  (importable only once the path is set)


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def app():
    return scripter_app()


@pytest.fixture
def client(app):
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def scripter(app) -> dict[str, str]:
    return auth_headers(app, "author-1", ("scripter",))


@pytest.fixture
def other_scripter(app) -> dict[str, str]:
    return auth_headers(app, "author-2", ("scripter",))


@pytest.fixture
def admin(app) -> dict[str, str]:
    return auth_headers(app, "admin-1", ("admin",))


@pytest.fixture
def learner(app) -> dict[str, str]:
    return auth_headers(app, "learner-1", ("user",))
