"""The repository's settings.toml only names keys that exist, in every layer."""

import tomllib
from pathlib import Path

import pytest

from roleplay_core import Kernel

SETTINGS = Path(__file__).resolve().parents[1] / "settings.toml"
STRONG = "k3Jf9-Qz7Lw2Xv8Rt5Yp1Hn6Bm4Cd0Ae"


def leaves(table, prefix=""):
    for key, value in table.items():
        dotted = f"{prefix}{key}".lower()
        if isinstance(value, dict):
            yield from leaves(value, dotted + ".")
        else:
            yield dotted


def _owner(key: str) -> str:
    parts = key.split(".")
    return ".".join(parts[:2]) if parts[0] == "storage" else parts[0]  # storage.s3 belongs to roleplay-s3


@pytest.mark.parametrize("layer", ["default", "development", "beta", "production"])
def test_every_key_in_settings_toml_is_a_known_setting(layer):
    """A misspelt key in settings.toml would silently do nothing; every one must exist in the defaults."""
    written = tomllib.loads(SETTINGS.read_text())[layer]
    # The defaults alone (no settings file): kernel + every installed plugin's settings_defaults.
    defaults = Kernel.create(env="development", settings_files=[], overrides={"storage.backend": "memory"},
                             plugins=[]).settings
    # A plugin's table exists only when the plugin is installed: check the tables that exist.
    unknown = [key for key in leaves(written) if defaults.get(key, KeyError) is KeyError
               and defaults.get(_owner(key), KeyError) is not KeyError]
    assert unknown == [], f"[{layer}] names settings nobody reads: {unknown}"


def test_settings_files_are_read_from_the_working_directory_only(tmp_path, monkeypatch):
    # A first load in one folder (a checkout whose settings.toml sets production models) must not
    # decide where a later load in another folder looks: relative names mean the working directory.
    from roleplay_core.settings import load_layers

    monkeypatch.delenv("ROLEPLAY_SETTINGS_FILES", raising=False)
    checkout, elsewhere = tmp_path / "checkout", tmp_path / "elsewhere"
    (checkout / "sub").mkdir(parents=True)
    elsewhere.mkdir()
    (checkout / "settings.toml").write_text('[production.chat]\nmodel = "from-checkout"\n')
    monkeypatch.chdir(checkout)
    assert load_layers("production")["chat"]["model"] == "from-checkout"
    monkeypatch.chdir(checkout / "sub")  # not searched upwards either
    assert load_layers("production").get("chat", {}).get("model") is None
    monkeypatch.chdir(elsewhere)
    assert load_layers("production").get("chat", {}).get("model") is None
    (elsewhere / "settings.toml").write_text('[production.chat]\nmodel = "here"\n')
    assert load_layers("production")["chat"]["model"] == "here"
