"""Fixtures for the chat plugin's tests."""

import sys
from pathlib import Path

import pytest
from starlette.testclient import TestClient

sys.path.insert(0, str(Path(__file__).parent))  # chat_support, next to the tests

from chat_support import User, build_app  # noqa: E402


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def app():
    return build_app()


@pytest.fixture
def client(app):
    with TestClient(app) as client:
        yield client


@pytest.fixture
def alice(client) -> User:
    return User(client, "alice")


@pytest.fixture
def bob(client) -> User:
    return User(client, "bob")


@pytest.fixture
def admin(client) -> User:
    return User(client, "root", ("admin",))
