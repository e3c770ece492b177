"""Every hook a Roleplay plugin can implement.

A plugin is a module (or object) with functions decorated by
``roleplay_core.hookimpl`` and named after these specs, registered under the
entry-point group ``roleplay``. Hooks are called with keyword arguments, so an
implementation may accept any subset of a spec's arguments.

Each hook and each of its arguments is documented in ``docs/plugins.md``; a test
fails when one is missing there. Every spec is typed (as pytest types its hookspecs):
``Awaitable[X] | X`` marks a hook whose implementation may be ``async``.

**Order.** The kernel registers its own hooks first (as the plugin ``core``), then the
plugins found through entry points in the order of their names, then plugin objects
passed to ``make_app``/``Kernel.create``. A hook call runs the implementations in the
reverse order (pluggy's rule: the last registered runs first), moved by
``@hookimpl(tryfirst=True)`` or ``trylast=True``; so ``core`` answers last. The kernel
calls every hook this way, through ``kernel.hook.<name>(...)``, except three it calls
plugin by plugin in that same order because it must know whose answer it holds:
``register_routes`` (a plugin's ``prefix``), ``startup`` (a failure names its plugin;
development skips it) and ``shutdown`` (the reverse order: the last started stops first).
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

    from starlette.routing import BaseRoute

    from .identity import AuthProvider
    from .kernel import Kernel
    from .models import ModelProvider
    from .principal import Principal
    from .settings import Settings
    from .storage import Storage
    from .storage.fsck import Fsck
    from .transcript import Transcript

    #: ``factory(settings)`` makes a storage backend: settings, not the kernel, because
    #: ``roleplay storage copy`` opens a second backend with other settings.
    StorageFactory = Callable[[Settings], Storage]
    ModelFactory = Callable[[Kernel], ModelProvider]
    AuthFactory = Callable[[Kernel], AuthProvider]

hookspec = pluggy.HookspecMarker("roleplay")
hookimpl = pluggy.HookimplMarker("roleplay")


@hookspec
def settings_defaults(env: str) -> Mapping[str, Any] | None:
    """Return a dict of this plugin's default settings for environment ``env``.

    ``env`` is ``"development"``, ``"beta"`` or ``"production"``. Defaults sit
    below ``settings.toml`` and env vars, which override them key by key.
    Put a plugin's settings under its own top-level table (``chat``, ``auth``...).
    """


@hookspec
def settings_schema() -> Mapping[str, type] | None:
    """Return ``{table: attrs class}``: the types of this plugin's settings tables.

    The kernel structures ``settings.section(table)`` into the class with the strict
    converter (wrong types, unknown keys and the class's validators are problems), at
    startup and in ``roleplay check``, and reports each as ``table.key: message``
    (``chat.page_size: expected an integer``) whichever layer set the value. Read the
    typed value with ``kernel.typed_settings(table)``. Checks that span several keys
    stay in ``validate_settings``.
    """


@hookspec
def validate_settings(settings: Settings) -> Sequence[str] | None:
    """Return a list of problems (strings naming the key) with the effective ``settings``.

    Called at startup and by ``roleplay check``. In beta and production any
    problem stops startup; use ``settings.env`` to apply stricter rules there.
    """


@hookspec
def register_routes(kernel: Kernel) -> Sequence[BaseRoute] | None:
    """Return a list of Starlette ``Route``, ``WebSocketRoute`` or ``Mount`` objects.

    ``kernel`` is the :class:`roleplay_core.Kernel` (settings, storage, tokens...);
    handlers reach it later through ``request.app.state.kernel``. The kernel
    prepends ``plugins.<name>.prefix`` when set, and refuses to start when two
    plugins claim the same path. Declare each handler with ``@operation(...)`` (HTTP) or
    ``@channel(...)`` (WebSocket): ``/openapi.json`` and ``/asyncapi.json`` are built from them.
    """


@hookspec
def register_auth_providers(kernel: Kernel) -> Mapping[str, AuthFactory] | None:
    """Return ``{name: factory}``; ``factory(kernel)`` returns a :class:`roleplay_core.AuthProvider`.

    The three ``register_*`` hooks have one shape: called with the kernel (an
    implementation may leave the argument out), they return ``{name: factory}``. The
    kernel calls the storage factory named by ``storage.backend`` as it is built, every
    auth factory when it opens, and a model factory on the first ``kernel.model(name)``.

    An auth provider turns credentials (``kind = "password"``) or an external
    login (``kind = "redirect"``) into an :class:`roleplay_core.ExternalIdentity`.
    The account-owning plugin (``roleplay_auth``) lists them on its login screen
    and maps identities to users; ``kernel.auth_providers`` holds them by name. The
    kernel calls each factory once, when it opens (storage is open by then); the
    provider's ``name`` must be the name it is registered under.
    """


@hookspec
def register_storage_backends(kernel: Kernel) -> Mapping[str, StorageFactory] | None:
    """Return ``{name: factory}``; ``factory(settings)`` returns a :class:`roleplay_core.storage.Storage`.

    The backend named by ``storage.backend`` is opened at startup. The kernel
    registers ``file`` and ``memory`` through this same hook. The one factory that takes
    settings rather than the kernel: ``roleplay storage copy`` makes a second backend
    with other settings, and the kernel makes its storage while it is being built
    (``kernel.settings`` is all it has then).
    """


@hookspec
def register_model_providers(kernel: Kernel) -> Mapping[str, ModelFactory] | None:
    """Return ``{name: factory}``; ``factory(kernel)`` returns a :class:`roleplay_core.ModelProvider`.

    A model provider plays characters (a streaming ``reply`` call) and judges
    transcripts (a structured ``judge`` call). Chat and the evaluator pick one by
    name from their settings (``chat.model``, ``evaluator.model``) through
    ``kernel.model(name)``.
    """


@hookspec
def register_script_packs() -> Sequence[Path | Traversable] | None:
    """Return a list of paths (``pathlib.Path`` or ``importlib.resources`` traversables).

    Each path is a YAML or JSON file holding one script or a bundle
    ``{"scripts": [...]}``, or a folder of such files. Pack scripts are published
    read-only content: chat offers them without the scripter installed.
    """


@hookspec
def get_transcript(kernel: Kernel, session_id: str) -> Awaitable[Transcript | None] | Transcript | None:
    """Return the :class:`roleplay_core.Transcript` of practice session ``session_id``, or ``None``.

    The plugin that owns sessions (``roleplay_chat``) answers; others (the
    evaluator) read transcripts only through this hook, never through another
    plugin's storage keys. May return an awaitable. Callers use
    ``await kernel.transcript(session_id)``: it calls the hook once, then awaits the
    answers in hook order and returns the first that is not ``None`` (the rest are
    closed unawaited). Not ``firstresult``: pluggy would stop at the first
    implementation's coroutine, whether or not it finds the session.
    """


@hookspec
def authenticate_request(kernel: Kernel, token: str) -> Awaitable[Principal | None] | Principal | None:
    """Return the :class:`roleplay_core.Principal` that ``token`` stands for, or ``None`` if it is not yours.

    Consulted only after the kernel's own JWT check refused ``token``: the value of
    ``Authorization: Bearer <token>`` or of an ``X-API-Key`` header on HTTP, or the
    ``token`` of a WebSocket's ``{"type": "auth"}`` frame. So a request with a kernel
    token costs nothing more, and an anonymous one (no credential) calls no hook. Answer
    ``None`` at once for tokens that are not yours (look at a prefix before any I/O: this
    runs on every such request) and cache what you verified. The first principal in hook
    order wins. May return an awaitable. ``roleplay_auth`` answers for its API keys (``rp_...``).
    """


@hookspec
def check_principal(kernel: Kernel, principal: Principal) -> Awaitable[str | None] | str | None:
    """Return ``None`` while ``principal``'s account is in good standing, else a short reason.

    Long-lived connections (chat and voice WebSockets) ask this every
    ``security.websocket_recheck_seconds``, and close when any implementation
    answers a reason ("the account was deleted", "... is disabled", "... roles
    changed"). The plugin that owns accounts (``roleplay_auth``) answers. May return
    an awaitable. Callers use ``await kernel.principal_problem(principal)``.
    """


@hookspec
def user_deleted(kernel: Kernel, user_id: str) -> Awaitable[None] | None:
    """A user's account was deleted: erase (or anonymise) everything this plugin keeps for ``user_id``.

    Called by the plugin that owns accounts after the account record is gone.
    Chat deletes the user's sessions and audio, the evaluator their evaluations.
    May return an awaitable. Callers use ``await kernel.user_deleted(user_id)``.
    """


@hookspec
def startup(kernel: Kernel) -> Awaitable[None] | None:
    """Called once when the app starts, after storage is open. May return an awaitable."""


@hookspec
def shutdown(kernel: Kernel) -> Awaitable[None] | None:
    """Called once when the app stops, before storage closes. May return an awaitable."""


@hookspec
def check_storage(kernel: Kernel, fsck: Fsck) -> Awaitable[None] | None:
    """Check (and with ``fsck.repair``, repair) this plugin's stored data: ``roleplay storage fsck``.

    ``fsck`` is a :class:`roleplay_core.storage.fsck.Fsck`: ``fsck.keys`` lists every
    key (already read once: foreign objects are reported), ``fsck.logs`` maps each
    event log's prefix to its last event without a gap. Report with
    ``fsck.problem(key, detail, repaired=...)`` and count with ``fsck.checked[...]``.
    Repair only what other stored data determines (snapshots, indexes); never delete
    a record a person may need. May return an awaitable.
    """


@hookspec
def register_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``roleplay <subcommand>`` commands to the CLI.

    ``subparsers`` is an ``argparse`` sub-parsers action: call
    ``subparsers.add_parser(name, help=...)`` and set
    ``parser.set_defaults(handler=func)``. The CLI calls ``func(args, kernel)``
    with an opened :class:`roleplay_core.Kernel` (storage open, script packs and
    auth providers loaded; no HTTP server, no ``startup`` hooks run);
    it may be ``async`` and returns an exit code or ``None``.
    """
