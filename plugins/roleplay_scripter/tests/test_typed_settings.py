"""The ``scripter`` settings are an attrs class the kernel structures strictly (issue 14, item 3).

A wrong type names its key whichever layer set it; the ``import`` table is read although
``import`` is a Python keyword (the field is ``import_``).
"""

from __future__ import annotations

import os

import pytest
import roleplay_scripter.plugin as scripter_plugin

from roleplay_core.plugins import bootstrap
from roleplay_core.testing import make_kernel


def problems(**overrides):
    return bootstrap(env="development", settings_files=[], load_entry_points=False, plugins=[scripter_plugin],
                     overrides={"storage.backend": "memory", **overrides}).problems


@pytest.fixture
def clean_env(monkeypatch):
    for key in [k for k in os.environ if k.startswith("ROLEPLAY_")]:
        monkeypatch.delenv(key)
    return monkeypatch


@pytest.mark.parametrize(("key", "value", "message"), [
    ("scripter.import.max_scripts", "500", "scripter.import.max_scripts: expected an integer"),
    ("scripter.list.max_limit", True, "scripter.list.max_limit: expected an integer"),
    ("scripter.preview.max_messages", 0, "scripter.preview.max_messages: must be >= 1: 0"),
    ("scripter.translations.required_languages", "en", "scripter.translations.required_languages: expected a list"),
    ("scripter.translations.required_languages", ["en", "english!"],
     "scripter.translations.required_languages: must be a list of BCP 47 tags such as 'en', 'es'"),
    ("scripter.cards.creator", 7, "scripter.cards.creator: expected a string"),
])
def test_an_override_names_the_key(key, value, message):
    assert message in problems(**{key: value})


def test_an_environment_variable_names_the_key(clean_env):
    clean_env.setenv("ROLEPLAY_SCRIPTER__IMPORT__MAX_SCRIPTS", '"many"')
    assert problems() == ["scripter.import.max_scripts: expected an integer"]


def test_the_defaults_fit_and_are_read_typed(clean_env):
    assert problems() == []
    clean_env.setenv("ROLEPLAY_SCRIPTER__IMPORT__MAX_SCRIPTS", "7")
    typed = make_kernel(load_entry_points=False, plugins=[scripter_plugin]).typed_settings("scripter")
    assert (typed.import_.max_scripts, typed.list.max_limit, typed.translations.required_languages) == (7, 500, ())
