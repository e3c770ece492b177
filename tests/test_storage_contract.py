"""The kernel's own backends keep the storage contract (roleplay_core.testing)."""

import pytest

from roleplay_core.storage import FileStorage, MemoryStorage
from roleplay_core.testing import StorageContract


class TestMemoryStorage(StorageContract):
    @pytest.fixture
    async def storage(self):
        backend = MemoryStorage()
        await backend.open()
        yield backend
        await backend.close()


class TestFileStorage(StorageContract):
    @pytest.fixture(autouse=True)
    def _root(self, tmp_path):
        self.process_settings = {"storage.backend": "file", "storage.file.root": str(tmp_path / "data")}

    @pytest.fixture
    async def storage(self, tmp_path):
        backend = FileStorage(root=tmp_path / "data")
        await backend.open()
        yield backend
        await backend.close()
