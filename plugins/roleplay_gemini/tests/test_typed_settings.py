"""The ``gemini`` settings are an attrs class the kernel structures strictly (issue 14, item 3).

A wrong type reads ``gemini.live.frame_ms: expected an integer`` whichever layer set it.
"""

from __future__ import annotations

import os

import pytest
import roleplay_gemini.plugin as gemini_plugin

from roleplay_core.plugins import bootstrap
from roleplay_core.testing import make_kernel


def problems(**overrides):
    return bootstrap(env="development", settings_files=[], load_entry_points=False, plugins=[gemini_plugin],
                     overrides={"storage.backend": "memory", **overrides}).problems


@pytest.fixture
def clean_env(monkeypatch):
    for key in [k for k in os.environ if k.startswith("ROLEPLAY_")]:
        monkeypatch.delenv(key)
    return monkeypatch


@pytest.mark.parametrize(("key", "value", "message"), [
    ("gemini.live.frame_ms", "40", "gemini.live.frame_ms: expected an integer"),
    ("gemini.temperature", True, "gemini.temperature: expected a number"),
    ("gemini.timeout", float("inf"), "gemini.timeout: expected a finite number"),
    ("gemini.vertexai", "yes", "gemini.vertexai: expected true or false"),
    # Settings keys are lower-cased as they are loaded.
    ("gemini.safety_settings", {"HARM_CATEGORY_HARASSMENT": 3}, "gemini.safety_settings.harm_category_harassment: "
                                                                "expected a string"),
    ("gemini.timeout", 0, "gemini.timeout: must be > 0: 0.0"),
])
def test_an_override_names_the_key(key, value, message):
    assert message in problems(**{key: value})


def test_an_environment_variable_names_the_key(clean_env):
    clean_env.setenv("ROLEPLAY_GEMINI__LIVE__FRAME_MS", "true")
    assert problems() == ["gemini.live.frame_ms: expected an integer"]


def test_the_defaults_fit_and_are_read_typed(clean_env):
    assert problems() == []
    clean_env.setenv("ROLEPLAY_GEMINI__LIVE__FRAME_MS", "20")
    typed = make_kernel(load_entry_points=False, plugins=[gemini_plugin]).typed_settings("gemini")
    assert (typed.live.frame_ms, typed.timeout, typed.vertexai) == (20, 60.0, False)
    assert "api_key" not in repr(typed)
