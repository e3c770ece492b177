"""Settings layers: embedded defaults < plugin defaults < settings.toml < env vars < overrides."""

import pytest

from roleplay_core import Kernel, SettingsError
from roleplay_core.settings import DEV_JWT_SECRET

STRONG = "k3Jf9-Qz7Lw2Xv8Rt5Yp1Hn6Bm4Cd0Ae"

TOML = """
[default]
storage = { backend = "memory" }
[default.chat]
limits = { message_chars = 2000, turns_per_session = 60 }
[development]
[beta]
[production]
chat = { limits = { message_chars = 1000 } }
cors = { allow_origins = ["https://app.example.org"] }
[production.storage.file]
allow_in_production = true
"""


@pytest.fixture
def settings_file(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text(TOML)
    return str(path)


def create(settings_file, env, **kwargs):
    return Kernel.create(env=env, settings_files=[settings_file], load_entry_points=False, **kwargs)


def test_embedded_defaults_serve_development_without_any_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    kernel = Kernel.create(load_entry_points=False)
    assert kernel.settings.env == "development"
    assert kernel.settings.get("storage.backend") == "file"
    assert kernel.settings.get("storage.file.root") == "var/data"
    assert kernel.settings.get("security.jwt_secret") == DEV_JWT_SECRET


def test_environment_layer_merges_nested_tables_key_by_key(settings_file, monkeypatch):
    monkeypatch.setenv("ROLEPLAY_SECURITY__JWT_SECRET", STRONG)
    kernel = create(settings_file, "production")
    # production changed message_chars only: the default layer's turns_per_session survives
    assert kernel.settings.get("chat.limits.message_chars") == 1000
    assert kernel.settings.get("chat.limits.turns_per_session") == 60
    assert kernel.settings.get("storage.file.root") == "var/data"  # embedded default survives too


def test_env_vars_override_nested_keys(settings_file, monkeypatch, tmp_path):
    monkeypatch.setenv("ROLEPLAY_STORAGE__FILE__ROOT", str(tmp_path / "srv"))
    monkeypatch.setenv("ROLEPLAY_CHAT__LIMITS__TURNS_PER_SESSION", "9")
    kernel = create(settings_file, "development")
    assert kernel.settings.get("storage.file.root") == str(tmp_path / "srv")
    assert kernel.settings.get("chat.limits.turns_per_session") == 9  # parsed, not a string
    assert kernel.settings.get("chat.limits.message_chars") == 2000


def test_roleplay_env_picks_the_layer(settings_file, monkeypatch):
    monkeypatch.setenv("ROLEPLAY_ENV", "production")
    monkeypatch.setenv("ROLEPLAY_SECURITY__JWT_SECRET", STRONG)
    kernel = Kernel.create(settings_files=[settings_file], load_entry_points=False)
    assert kernel.settings.env == "production"
    assert kernel.settings.get("chat.limits.message_chars") == 1000


def test_unknown_environment_is_refused(monkeypatch):
    monkeypatch.setenv("ROLEPLAY_ENV", "staging")
    with pytest.raises(ValueError, match="ROLEPLAY_ENV"):
        Kernel.create(load_entry_points=False, settings_files=[])


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("", "security.jwt_secret must be set"),
        (DEV_JWT_SECRET, "development secret"),
        ("short", "at least 32 characters"),
        ("a" * 40, "at least 32 characters"),
    ],
)
def test_production_requires_a_strong_jwt_secret(settings_file, monkeypatch, secret, message):
    monkeypatch.setenv("ROLEPLAY_SECURITY__JWT_SECRET", secret)
    with pytest.raises(SettingsError, match=message):
        create(settings_file, "production")


def test_production_refuses_wildcard_cors_and_unflagged_file_storage(monkeypatch):
    monkeypatch.setenv("ROLEPLAY_SECURITY__JWT_SECRET", STRONG)
    with pytest.raises(SettingsError) as info:
        Kernel.create(env="production", settings_files=[], load_entry_points=False,
                      overrides={"cors.allow_origins": ["*", "http://plain.example"]})
    text = str(info.value)
    assert "cors.allow_origins" in text and "'*'" in text
    assert "http://plain.example" in text
    assert "storage.backend is 'file'" in text


def test_plugin_problems_warn_in_development_and_stop_production(caplog, monkeypatch):
    from roleplay_core import hookimpl

    class Picky:
        name = "picky"

        @hookimpl
        def validate_settings(self, settings):
            return [] if settings.get("picky.ok") else ["picky.ok must be true"]

    kernel = Kernel.create(env="development", settings_files=[], load_entry_points=False, plugins=[Picky()])
    assert kernel.settings.env == "development"
    assert "picky.ok must be true" in caplog.text
    monkeypatch.setenv("ROLEPLAY_SECURITY__JWT_SECRET", STRONG)
    with pytest.raises(SettingsError, match="picky.ok must be true"):
        Kernel.create(env="production", settings_files=[], load_entry_points=False, plugins=[Picky()],
                      overrides={"storage.backend": "memory"})


def test_missing_signing_key_file_is_a_settings_error():
    with pytest.raises(SettingsError, match="jwt_private_key_file"):
        Kernel.create(env="development", settings_files=[], load_entry_points=False,
                      overrides={"security.jwt_algorithm": "RS256"})


def test_masked_settings_hide_secrets_only(settings_file, monkeypatch):
    monkeypatch.setenv("ROLEPLAY_SECURITY__JWT_SECRET", STRONG)
    monkeypatch.setenv("ROLEPLAY_GEMINI__API_KEY", "sk-live-123")
    masked = create(settings_file, "production").settings.masked()
    assert masked["security"]["jwt_secret"] == "***"
    assert masked["gemini"]["api_key"] == "***"
    assert masked["security"]["access_token_ttl"] == 900
    assert STRONG not in repr(masked)


def test_drain_seconds_must_be_a_number_of_seconds(monkeypatch):
    monkeypatch.setenv("ROLEPLAY_SECURITY__JWT_SECRET", STRONG)
    with pytest.raises(SettingsError, match="server.drain_seconds must be a number"):
        Kernel.create(env="production", settings_files=[], load_entry_points=False,
                      overrides={"server.drain_seconds": "soon", "storage.backend": "memory"})
    Kernel.create(env="production", settings_files=[], load_entry_points=False,
                  overrides={"server.drain_seconds": 5, "storage.backend": "memory"})
