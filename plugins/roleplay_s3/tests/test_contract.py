"""The kernel's storage contract, in full, against moto's S3 server over HTTP.

Test home of ``roleplay_s3.storage``.
"""

from __future__ import annotations

from typing import Any

import pytest
from roleplay_s3 import S3Storage

from roleplay_core.settings import build_settings
from roleplay_core.testing import StorageContract


class TestS3Contract(StorageContract):
    @pytest.fixture
    def s3_settings(self, moto_s3, shared_bucket) -> dict[str, Any]:
        return moto_s3.settings(shared_bucket)

    @pytest.fixture
    async def storage(self, s3_settings):
        # Child processes of the multi-process tests rebuild the backend from these settings.
        self.process_settings = s3_settings
        backend = S3Storage(build_settings("development", layers={}, overrides=s3_settings))
        await backend.open()
        yield backend
        await backend.close()
