"""Built-in concept lexicons, one TOML file per language (see roleplay_core.text)."""
