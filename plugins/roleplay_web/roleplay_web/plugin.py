"""Hook implementations of the ``web`` plugin (switch it off with ``plugins.web.enabled = false``)."""

from __future__ import annotations

from roleplay_core import hookimpl

from . import config, routes


@hookimpl
def settings_defaults(env):
    return config.DEFAULTS


@hookimpl
def validate_settings(settings):
    return config.problems(settings)


@hookimpl
def register_routes(kernel):
    return routes.routes(kernel)
