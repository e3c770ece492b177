"""The ``evaluator`` settings are an attrs class the kernel structures strictly (issue 14, item 3).

A wrong type reads ``evaluator.daily_limit: expected an integer`` whichever layer set it, and
numbers are never booleans or numeric strings (docs/configuration.md).
"""

from __future__ import annotations

import os

import pytest
import roleplay_evaluator.plugin as evaluator_plugin

from roleplay_core.plugins import bootstrap
from roleplay_core.testing import make_kernel


def problems(**overrides):
    return bootstrap(env="development", settings_files=[], load_entry_points=False, plugins=[evaluator_plugin],
                     overrides={"storage.backend": "memory", **overrides}).problems


@pytest.fixture
def clean_env(monkeypatch):
    for key in [k for k in os.environ if k.startswith("ROLEPLAY_")]:
        monkeypatch.delenv(key)
    return monkeypatch


@pytest.mark.parametrize(("value", "message"), [
    ("20", "evaluator.daily_limit: expected an integer"),
    (True, "evaluator.daily_limit: expected an integer"),
    (2.5, "evaluator.daily_limit: expected an integer"),
    (-1, "evaluator.daily_limit: must be >= 0: -1"),
])
def test_an_override_names_the_key(value, message):
    assert message in problems(**{"evaluator.daily_limit": value})


@pytest.mark.parametrize(("raw", "message"), [
    ('"0.5"', "evaluator.inline_wait: expected a number"),  # a TOML string, not a number
    ("true", "evaluator.inline_wait: expected a number"),
    ("31", "evaluator.inline_wait: must be <= 30.0: 31.0"),
])
def test_an_environment_variable_names_the_key(clean_env, raw, message):
    clean_env.setenv("ROLEPLAY_EVALUATOR__INLINE_WAIT", raw)
    assert message in problems()


def test_the_defaults_fit_and_are_read_typed(clean_env):
    assert problems() == []
    clean_env.setenv("ROLEPLAY_EVALUATOR__INLINE_WAIT", "2")
    typed = make_kernel(load_entry_points=False, plugins=[evaluator_plugin]).typed_settings("evaluator")
    assert (typed.inline_wait, typed.daily_limit, typed.model) == (2.0, 50, "")
