"""Hook implementations of the ``web`` plugin (switch it off with ``plugins.web.enabled = false``)."""

from __future__ import annotations

from roleplay_core import hookimpl

from . import config, routes


@hookimpl
def settings_defaults(env):
    return config.DEFAULTS


@hookimpl
def settings_schema():
    return {"web": config.WebSettings}


@hookimpl
def register_routes(kernel):
    return routes.routes(kernel)
