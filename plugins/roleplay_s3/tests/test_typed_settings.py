"""The ``storage.s3`` settings are an attrs class the kernel structures strictly (issue 14, item 3).

A wrong type reads ``storage.s3.max_attempts: expected an integer`` whichever layer set it, and
whichever backend is chosen; the rules that need ``storage.backend = "s3"`` stay in ``validate_settings``.
"""

from __future__ import annotations

import os

import pytest
import roleplay_s3.plugin as s3_plugin
from roleplay_s3 import S3Options

from roleplay_core.plugins import bootstrap


def problems(**overrides):
    return bootstrap(env="development", settings_files=[], load_entry_points=False, plugins=[s3_plugin],
                     overrides={"storage.backend": "memory", **overrides}).problems


@pytest.fixture
def clean_env(monkeypatch):
    for key in [k for k in os.environ if k.startswith("ROLEPLAY_")]:
        monkeypatch.delenv(key)
    return monkeypatch


@pytest.mark.parametrize(("key", "value", "message"), [
    ("storage.s3.max_attempts", "5", "storage.s3.max_attempts: expected an integer"),
    ("storage.s3.connect_timeout", True, "storage.s3.connect_timeout: expected a number"),
    ("storage.s3.allow_http", "yes", "storage.s3.allow_http: expected true or false"),
    ("storage.s3.path_style", "yes", "storage.s3.path_style: must be auto, true or false, not 'yes'"),
    ("storage.s3.retry_mode", "eager", "storage.s3.retry_mode: must be one of standard, adaptive, legacy, not 'eager'"),
    ("storage.s3.bucket", "Not_A_Bucket", "storage.s3.bucket: 'Not_A_Bucket' is not a valid bucket name "
                                          "(3-63 of a-z, 0-9, '.', '-')"),
])
def test_an_override_names_the_key(key, value, message):
    assert message in problems(**{key: value})


def test_an_environment_variable_names_the_key(clean_env):
    clean_env.setenv("ROLEPLAY_STORAGE__S3__MAX_POOL_CONNECTIONS", '"32"')
    assert problems() == ["storage.s3.max_pool_connections: expected an integer"]


def test_the_defaults_fit_and_the_backend_reads_them_typed(clean_env):
    assert problems() == []
    assert problems(**{"storage.backend": "s3"}) == [
        "storage.s3.bucket must be set when storage.backend is 's3' (ROLEPLAY_STORAGE__S3__BUCKET)"]
    options = S3Options.from_settings({"bucket": "rp1", "path_style": "auto", "max_attempts": 2})
    assert (options.path_style, options.max_attempts, options.connect_timeout) == (False, 2, 5.0)
    with pytest.raises(ValueError, match="storage.s3 is not valid"):
        S3Options.from_settings({"bucket": "rp1", "max_attempts": "2"})
