"""Hook implementations of the ``scripter`` plugin: authoring scripts over the kernel's types."""

from __future__ import annotations

from typing import Any

import attrs

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

_POSITIVE = attrs.validators.ge(1)


def _language_tags(instance: Any, attribute: Any, value: tuple[str, ...]) -> None:
    if not all(LANGUAGE_TAG.match(tag) for tag in value):
        raise ValueError(f"'{attribute.name}' must be a list of BCP 47 tags such as 'en', 'es'")


@attrs.frozen(kw_only=True)
class Preview:
    max_messages: int = attrs.field(validator=_POSITIVE)
    max_message_chars: int = attrs.field(validator=_POSITIVE)


@attrs.frozen(kw_only=True)
class Import:
    max_scripts: int = attrs.field(validator=_POSITIVE)


@attrs.frozen(kw_only=True)
class Listing:
    max_limit: int = attrs.field(validator=_POSITIVE)


@attrs.frozen(kw_only=True)
class Translations:
    required_languages: tuple[str, ...] = attrs.field(validator=_language_tags)


@attrs.frozen(kw_only=True)
class Cards:
    creator: str


@attrs.frozen(kw_only=True)
class ScripterSettings:
    """The ``scripter`` table, structured by the kernel's strict converter (``settings_schema``)."""

    preview: Preview
    #: The ``import`` table (a keyword in Python, hence the underscore).
    import_: Import
    list: Listing
    translations: Translations
    cards: Cards


@hookimpl
def settings_defaults(env):
    return DEFAULTS


@hookimpl
def settings_schema():
    return {"scripter": ScripterSettings}


@hookimpl
def register_routes(kernel):
    return routes.routes()
