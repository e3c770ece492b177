"""Every plugin declares its settings as types (issue 14, item 3): none validates them by hand.

For each installed plugin that ships settings (``settings_defaults``), its ``settings_schema``
covers every table it ships, and every single key of those tables is typed: a value of no
settings type in its place is reported by the schema, naming the key. A plugin that checked a
key in ``validate_settings`` instead (or typed it ``Any`` without a validator) fails here.
"""

from __future__ import annotations

import copy

import pytest

from roleplay_core.plugins import bootstrap, typed_problems
from roleplay_core.settings import Settings

BOOT = bootstrap(env="development", settings_files=[], overrides={"storage.backend": "memory"})
SHIPPED = {impl.plugin_name: impl.function(**{name: "development" for name in impl.argnames})
           for impl in BOOT.pm.hook.settings_defaults.get_hookimpls() if impl.plugin_name != "core"}
SCHEMAS = {impl.plugin_name: dict(impl.function() or {}) for impl in BOOT.pm.hook.settings_schema.get_hookimpls()}


def leaves(table, path=""):
    """The dotted key of every value in ``table`` that is not itself a non-empty table."""
    for key, value in table.items():
        dotted = f"{path}.{key}".lstrip(".")
        if isinstance(value, dict) and value:
            yield from leaves(value, dotted)
        else:
            yield dotted


def owner(schema, key):
    return next((table for table in schema if key.startswith(f"{table}.")), None)


def test_the_shipped_plugins_are_all_here():
    assert {"auth", "chat", "evaluator", "gemini", "openai", "s3", "scripter", "web"} <= set(SHIPPED)


@pytest.mark.parametrize("plugin", sorted(SHIPPED))
def test_every_shipped_key_is_in_a_declared_table(plugin):
    schema = SCHEMAS.get(plugin, {})
    untyped = [key for key in leaves(SHIPPED[plugin]) if owner(schema, key) is None]
    assert not untyped, f"plugin {plugin!r} ships settings no settings_schema table types: {untyped}"


@pytest.mark.parametrize("plugin", sorted(SHIPPED))
def test_every_key_is_checked_by_its_type(plugin):
    schema = SCHEMAS.get(plugin, {})
    base = BOOT.settings.as_dict()
    assert not [p for table, cls in schema.items() for p in typed_problems(BOOT.settings, table, cls)]
    unchecked = []
    for key in leaves(SHIPPED[plugin]):
        data = copy.deepcopy(base)
        *parents, last = key.split(".")
        node = data
        for part in parents:
            node = node[part]
        node[last] = object()  # no TOML value, no environment variable, no override is this
        table = owner(schema, key)
        found = typed_problems(Settings(data, "development"), table, schema[table])
        if not any(p.startswith((f"{key}:", f"{key}.")) for p in found):
            unchecked.append(key)
    assert not unchecked, f"plugin {plugin!r} does not type these keys: {unchecked}"
