"""The scripter's settings: defaults, and problems that stop a strict startup.

Test home of ``roleplay_scripter.plugin``.
"""

from __future__ import annotations

import pytest

from roleplay_core import SettingsError
from roleplay_core.testing import make_kernel

STRICT = {"security.jwt_secret": "k3Jx9-Qw7vLp2Zr8Tn4Ym6Hb1Cd5Fg0Sa", "storage.file.allow_in_production": True}


def test_defaults():
    settings = make_kernel().settings
    assert settings.get("scripter.preview.max_messages") == 50
    assert settings.get("scripter.preview.max_message_chars") == 2000
    assert settings.get("scripter.import.max_scripts") == 500
    assert settings.get("scripter.list.max_limit") == 500
    assert settings.get("scripter.translations.required_languages") == []


@pytest.mark.parametrize(("key", "value"), [
    ("scripter.preview.max_messages", 0),
    ("scripter.import.max_scripts", "many"),
    ("scripter.list.max_limit", True),
    ("scripter.translations.required_languages", ["en", "not a tag"]),
    ("scripter.cards.creator", 5),
])
def test_bad_settings_stop_a_beta_startup_naming_the_key(key, value):
    with pytest.raises(SettingsError) as raised:
        make_kernel({**STRICT, key: value}, env="beta")
    assert key in str(raised.value)


def test_good_settings_pass_in_beta():
    kernel = make_kernel({**STRICT, "scripter.translations.required_languages": ["en", "zh-Hant"]}, env="beta")
    assert kernel.settings.get("scripter.translations.required_languages") == ["en", "zh-Hant"]
