"""Hook implementations of the ``chat`` plugin: settings, routes, the scripted provider, packs, transcripts."""

from __future__ import annotations

import contextlib
import importlib.resources

from roleplay_core import NotFound, hookimpl

from . import config, sessions, voice


@hookimpl
def settings_defaults(env):
    return config.DEFAULTS


@hookimpl
def settings_schema():
    return {"chat": config.ChatSettings}


@hookimpl
def validate_settings(settings):
    return config.problems(settings)


@hookimpl
def register_routes(kernel):
    from . import errors, routes

    # The HTTP edge: chat's domain errors become problems here, and nowhere else.
    return [*(errors.http_edge(route) for route in routes.routes()), *voice.routes()]


@hookimpl
def register_model_providers():
    return {"scripted": _scripted}


def _scripted(kernel):
    from .engine import ScriptedProvider

    return ScriptedProvider(kernel)


@hookimpl
def register_script_packs():
    return [importlib.resources.files("roleplay_chat") / "packs" / "starter"]


@hookimpl
def check_storage(kernel, fsck):
    from . import fsck as chat_fsck

    return chat_fsck.check(kernel, fsck)


@hookimpl
def get_transcript(kernel, session_id):
    return sessions.read_transcript(kernel, session_id)


@hookimpl
async def user_deleted(kernel, user_id):
    """A deleted account leaves nothing here: its sessions, messages, audio and counters go."""
    await sessions.delete_user_data(kernel, user_id)
    for key in await kernel.storage.list_all(voice.lease_prefix(user_id)):
        with contextlib.suppress(NotFound):
            await kernel.storage.delete(key)


@hookimpl
def startup(kernel):
    name = kernel.typed_settings("chat").model
    provider = kernel.model(name)  # fails startup loudly when chat.model names nothing installed
    if "reply" not in provider.capabilities:
        raise RuntimeError(f"chat.model {name!r} cannot play characters (capabilities: {sorted(provider.capabilities)})")


@hookimpl
def shutdown(kernel):
    from . import turns

    # Replies already under way are stored before storage closes (a client may be waiting to resume).
    return turns.drain(kernel, kernel.typed_settings("chat").reply_timeout)
