import sys
from pathlib import Path

import pytest

# The helper modules next to the tests (evaluator_support, evaluator_conversations) import by name.
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def anyio_backend():
    return "asyncio"
