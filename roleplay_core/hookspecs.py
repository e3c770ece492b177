"""Every hook a Roleplay plugin can implement.

A plugin is a module (or object) with functions decorated by
``roleplay_core.hookimpl`` and named after these specs, registered under the
entry-point group ``roleplay``. Hooks are called with keyword arguments, so an
implementation may accept any subset of a spec's arguments.

Each hook and each of its arguments is documented in ``docs/plugins.md``; a test
fails when one is missing there.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("roleplay")
hookimpl = pluggy.HookimplMarker("roleplay")


@hookspec
def settings_defaults(env):
    """Return a dict of this plugin's default settings for environment ``env``.

    ``env`` is ``"development"``, ``"beta"`` or ``"production"``. Defaults sit
    below ``settings.toml`` and env vars, which override them key by key.
    Put a plugin's settings under its own top-level table (``chat``, ``auth``...).
    """


@hookspec
def validate_settings(settings):
    """Return a list of problems (strings naming the key) with the effective ``settings``.

    Called at startup and by ``roleplay check``. In beta and production any
    problem stops startup; use ``settings.env`` to apply stricter rules there.
    """


@hookspec
def register_routes(kernel):
    """Return a list of Starlette ``Route``, ``WebSocketRoute`` or ``Mount`` objects.

    ``kernel`` is the :class:`roleplay_core.Kernel` (settings, storage, tokens...);
    handlers reach it later through ``request.app.state.kernel``. The kernel
    prepends ``plugins.<name>.prefix`` when set, and refuses to start when two
    plugins claim the same path.
    """


@hookspec
def register_auth_providers(kernel):
    """Return a list of :class:`roleplay_core.AuthProvider` objects.

    An auth provider turns credentials (``kind = "password"``) or an external
    login (``kind = "redirect"``) into an :class:`roleplay_core.ExternalIdentity`.
    The account-owning plugin (``roleplay_auth``) lists them on its login screen
    and maps identities to users; ``kernel.auth_providers`` holds them by name.
    """


@hookspec
def register_storage_backends():
    """Return ``{name: factory}``; ``factory(settings)`` returns a :class:`roleplay_core.storage.Storage`.

    The backend named by ``storage.backend`` is opened at startup. The kernel
    registers ``file`` and ``memory`` through this same hook.
    """


@hookspec
def register_model_providers():
    """Return ``{name: factory}``; ``factory(kernel)`` returns a :class:`roleplay_core.ModelProvider`.

    A model provider plays characters (a streaming ``reply`` call) and judges
    transcripts (a structured ``judge`` call). Chat and the evaluator pick one by
    name from their settings (``chat.model``, ``evaluator.model``) through
    ``kernel.model(name)``.
    """


@hookspec
def register_script_packs():
    """Return a list of paths (``pathlib.Path`` or ``importlib.resources`` traversables).

    Each path is a YAML or JSON file holding one script or a bundle
    ``{"scripts": [...]}``, or a folder of such files. Pack scripts are published
    read-only content: chat offers them without the scripter installed.
    """


@hookspec(firstresult=True)
def get_transcript(kernel, session_id):
    """Return the :class:`roleplay_core.Transcript` of practice session ``session_id``, or ``None``.

    The plugin that owns sessions (``roleplay_chat``) answers; others (the
    evaluator) read transcripts only through this hook, never through another
    plugin's storage keys. May return an awaitable. Callers use
    ``await kernel.transcript(session_id)``, which awaits each answer in turn
    and returns the first that is not ``None``.
    """


@hookspec
def check_principal(kernel, principal):
    """Return ``None`` while ``principal``'s account is in good standing, else a short reason.

    Long-lived connections (chat and voice WebSockets) ask this every
    ``security.websocket_recheck_seconds``, and close when any implementation
    answers a reason ("the account was deleted", "... is disabled", "... roles
    changed"). The plugin that owns accounts (``roleplay_auth``) answers. May return
    an awaitable. Callers use ``await kernel.principal_problem(principal)``.
    """


@hookspec
def user_deleted(kernel, user_id):
    """A user's account was deleted: erase (or anonymise) everything this plugin keeps for ``user_id``.

    Called by the plugin that owns accounts after the account record is gone.
    Chat deletes the user's sessions and audio, the evaluator their evaluations.
    May return an awaitable. Callers use ``await kernel.user_deleted(user_id)``.
    """


@hookspec
def startup(kernel):
    """Called once when the app starts, after storage is open. May return an awaitable."""


@hookspec
def shutdown(kernel):
    """Called once when the app stops, before storage closes. May return an awaitable."""


@hookspec
def check_storage(kernel, fsck):
    """Check (and with ``fsck.repair``, repair) this plugin's stored data: ``roleplay storage fsck``.

    ``fsck`` is a :class:`roleplay_core.storage.fsck.Fsck`: ``fsck.keys`` lists every
    key (already read once: foreign objects are reported), ``fsck.logs`` maps each
    event log's prefix to its last event without a gap. Report with
    ``fsck.problem(key, detail, repaired=...)`` and count with ``fsck.checked[...]``.
    Repair only what other stored data determines (snapshots, indexes); never delete
    a record a person may need. May return an awaitable.
    """


@hookspec
def register_commands(subparsers):
    """Add ``roleplay <subcommand>`` commands to the CLI.

    ``subparsers`` is an ``argparse`` sub-parsers action: call
    ``subparsers.add_parser(name, help=...)`` and set
    ``parser.set_defaults(handler=func)``. The CLI calls ``func(args, kernel)``
    with an opened :class:`roleplay_core.Kernel` (storage open, script packs and
    auth providers loaded; no HTTP server, no ``startup`` hooks run);
    it may be ``async`` and returns an exit code or ``None``.
    """
