"""The ``openai`` settings are an attrs class the kernel structures strictly (issue 14, item 3).

A wrong type reads ``openai.realtime.frame_ms: expected an integer`` whichever layer set it.
"""

from __future__ import annotations

import os

import pytest
import roleplay_openai.plugin as openai_plugin

from roleplay_core.plugins import bootstrap
from roleplay_core.testing import make_kernel


def problems(**overrides):
    return bootstrap(env="development", settings_files=[], load_entry_points=False, plugins=[openai_plugin],
                     overrides={"storage.backend": "memory", **overrides}).problems


@pytest.fixture
def clean_env(monkeypatch):
    for key in [k for k in os.environ if k.startswith("ROLEPLAY_")]:
        monkeypatch.delenv(key)
    return monkeypatch


@pytest.mark.parametrize(("key", "value", "message"), [
    ("openai.realtime.frame_ms", "40", "openai.realtime.frame_ms: expected an integer"),
    ("openai.max_retries", True, "openai.max_retries: expected an integer"),
    ("openai.timeout", "60", "openai.timeout: expected a number"),
    ("openai.extra_headers", {"x-tenant": True}, "openai.extra_headers: must be a table of header names to text values"),
    ("openai.azure.endpoint", 5, "openai.azure.endpoint: expected a string"),
])
def test_an_override_names_the_key(key, value, message):
    assert message in problems(**{key: value})


def test_every_refused_value_is_reported_at_once():
    assert problems(**{"openai.timeout": 0, "openai.judge_format": "yaml", "openai.realtime.frame_ms": 0}) == [
        "openai.timeout: must be > 0: 0.0",
        "openai.judge_format: must be one of auto, json_schema, json_object, text, not 'yaml'",
        "openai.realtime.frame_ms: must be >= 1: 0",
    ]


def test_an_environment_variable_names_the_key(clean_env):
    clean_env.setenv("ROLEPLAY_OPENAI__REALTIME__VAD_THRESHOLD", '"high"')
    assert problems() == ["openai.realtime.vad_threshold: expected a number"]


def test_the_defaults_fit_and_are_read_typed(clean_env):
    assert problems() == []
    clean_env.setenv("ROLEPLAY_OPENAI__REALTIME__FRAME_MS", "20")
    typed = make_kernel(load_entry_points=False, plugins=[openai_plugin]).typed_settings("openai")
    assert (typed.realtime.frame_ms, typed.timeout, typed.azure.api_version) == (20, 60.0, "2024-10-21")
    assert "api_key" not in repr(typed)
