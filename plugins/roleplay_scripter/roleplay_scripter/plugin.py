"""Hook implementations of the ``scripter`` plugin: authoring scripts over the kernel's types."""

from __future__ import annotations

from roleplay_core import LANGUAGE_TAG, hookimpl

from . import routes

DEFAULTS = {
    "scripter": {
        "preview": {"max_messages": 50, "max_message_chars": 2000},
        "import": {"max_scripts": 500},
        "list": {"max_limit": 500},
        #: Languages every translation group should have; missing ones are lint warnings.
        "translations": {"required_languages": []},
        "cards": {"creator": ""},
    }
}

_POSITIVE = ("preview.max_messages", "preview.max_message_chars", "import.max_scripts", "list.max_limit")


@hookimpl
def settings_defaults(env):
    return DEFAULTS


@hookimpl
def validate_settings(settings):
    problems = []
    for key in _POSITIVE:
        value = settings.get(f"scripter.{key}")
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            problems.append(f"scripter.{key} must be a positive integer (got {value!r})")
    languages = settings.get("scripter.translations.required_languages")
    if not isinstance(languages, list) or not all(isinstance(x, str) and LANGUAGE_TAG.match(x) for x in languages):
        problems.append("scripter.translations.required_languages must be a list of BCP 47 tags such as 'en', 'es'")
    if not isinstance(settings.get("scripter.cards.creator"), str):
        problems.append("scripter.cards.creator must be a string")
    return problems


@hookimpl
def register_routes(kernel):
    return routes.routes()
