"""Chat's settings are an attrs class the kernel structures strictly (issue 14, item 3).

The same problem reads the same, ``chat.page_size: expected an integer``, whichever layer set the
value: settings.toml, a ``ROLEPLAY_*`` variable, an override, or ``roleplay check``.
"""

from __future__ import annotations

import os

import pytest
from roleplay_chat.config import ChatSettings

from roleplay_core import SettingsError, cli
from roleplay_core.kernel import Kernel
from roleplay_core.plugins import bootstrap
from roleplay_core.testing import make_kernel

STRONG = {"security.jwt_secret": "k3Jf9-Qz7Lw2Xv8Rt5Yp1Hn6Bm4Cd0Ae", "storage.backend": "memory"}
MESSAGE = "chat.page_size: expected an integer"


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for key in [k for k in os.environ if k.startswith("ROLEPLAY_")]:
        monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def test_the_typed_settings_hold_the_effective_values():
    kernel = make_kernel({"chat.page_size": 7, "chat.voice.frame_ms": 40})
    typed = kernel.typed_settings("chat")
    assert isinstance(typed, ChatSettings)
    assert (typed.page_size, typed.voice.frame_ms, typed.limits.message_chars) == (7, 40.0, 2000)
    assert kernel.typed_settings("chat") is typed


@pytest.mark.parametrize(("value", "message"), [
    ("20", "chat.page_size: expected an integer"),
    (True, "chat.page_size: expected an integer"),  # true is not 1 here
    (2.5, "chat.page_size: expected an integer"),
    (0, "chat.page_size: must be more than 0: 0"),
])
def test_an_override_reports_the_key_and_the_expectation(value, message):
    assert message in bootstrap(env="development", overrides={"chat.page_size": value, **STRONG},
                                settings_files=[]).problems
    with pytest.raises(SettingsError, match=message):
        make_kernel({"chat.page_size": value, **STRONG}, env="production")


def test_unknown_keys_and_nested_tables_are_named():
    problems = bootstrap(env="development", settings_files=[], overrides={
        "chat.pagesize": 3, "chat.limits.message_chars": "many", "chat.voice.keep_audio": "yes", **STRONG}).problems
    assert "chat: unknown field(s): pagesize" in problems
    assert "chat.limits.message_chars: expected an integer" in problems
    assert "chat.voice.keep_audio: expected true or false" in problems


def test_a_settings_file_reports_the_same(clean_env, tmp_path):
    (tmp_path / "settings.toml").write_text('[default.chat]\npage_size = "20"\n')
    assert MESSAGE in bootstrap(env="development", overrides={"storage.backend": "memory"}).problems


def test_an_environment_variable_reports_the_same(clean_env):
    clean_env.setenv("ROLEPLAY_CHAT__PAGE_SIZE", '"20"')  # a TOML string, as dynaconf reads it
    assert MESSAGE in bootstrap(env="development", overrides={"storage.backend": "memory"},
                                settings_files=[]).problems


def test_roleplay_check_reports_the_same(clean_env, capsys):
    code = cli.main(["check", "--env", "development", "--set", 'chat.page_size="20"', "--set",
                     "storage.backend=memory"])
    err = capsys.readouterr().err
    assert code == 1 and MESSAGE in err


def test_development_starts_but_reading_invalid_typed_settings_stops():
    kernel = Kernel.create(env="development", overrides={"chat.page_size": "20", "storage.backend": "memory"},
                           settings_files=[])
    with pytest.raises(SettingsError, match=MESSAGE):
        kernel.typed_settings("chat")
    with pytest.raises(LookupError, match="no plugin declares"):
        kernel.typed_settings("nothing")


def test_a_cross_key_rule_stays_in_validate_settings():
    problems = bootstrap(env="development", settings_files=[],
                         overrides={"chat.page_size": 50, "chat.max_page_size": 10, **STRONG}).problems
    assert "chat.page_size (50) must not be over chat.max_page_size (10)" in problems
