import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the test OIDC provider module

from auth_helpers import start_provider  # noqa: E402


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def provider():
    found = start_provider("acme")
    yield found
    found.stop()
