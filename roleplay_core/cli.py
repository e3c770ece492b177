"""``roleplay``: serve, inspect plugins and settings, validate a layer, check storage, print the API documents.

Plugins add subcommands through the ``register_commands`` hook.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import os
import sys
from typing import Any

from .kernel import Kernel, SettingsError, maybe_await
from .plugins import PluginError, bootstrap
from .settings import secret_source, uses_development_secret


def main(argv: list[str] | None = None) -> int:
    argv = _hoist_global_options(list(sys.argv[1:] if argv is None else argv))
    # The global options decide which plugins (and so which commands) exist: read them first.
    early, _ = _global_options().parse_known_args(argv)
    parser = build_parser(env=early.env, overrides=_parse_overrides(early.set or []))
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    overrides = _parse_overrides(args.set or [])
    if args.env:
        os.environ["ROLEPLAY_ENV"] = args.env
    if getattr(args, "kernel_free", False):
        return int(args.handler(args, overrides) or 0)
    try:
        kernel = Kernel.create(env=args.env, overrides=overrides)
    except (SettingsError, PluginError, ValueError) as exc:
        print(f"roleplay: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(_run(args, kernel))


async def _run(args: argparse.Namespace, kernel: Kernel) -> int:
    from .storage import StorageError

    needs_storage = getattr(args, "needs_storage", True)
    if needs_storage:
        try:
            await kernel.open()
        except StorageError as exc:
            print(f"roleplay: storage: FAILED: {exc}", file=sys.stderr)
            return 1
    try:
        result = args.handler(args, kernel)
        if inspect.isawaitable(result):
            result = await result
        return int(result or 0)
    finally:
        if needs_storage:
            await kernel.stop()


def _global_options(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    parser = parser or argparse.ArgumentParser(add_help=False)
    parser.add_argument("--env", choices=["development", "beta", "production"],
                        help="settings layer (default: $ROLEPLAY_ENV or development)")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE",
                        help="override one setting, e.g. --set storage.backend=memory (repeatable)")
    return parser


def build_parser(env: str | None = None, overrides: dict[str, Any] | None = None) -> argparse.ArgumentParser:
    parser = _global_options(argparse.ArgumentParser(prog="roleplay", description="Roleplay conversation-training server."))
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    # Plugins' commands come from the hook; to know which plugins are enabled we
    # need the settings layers, so build a throwaway manager from the same discovery.
    pm = _command_plugin_manager(env, overrides or {})
    pm.hook.register_commands(subparsers=subparsers)
    return parser


def _command_plugin_manager(env: str | None, overrides: dict[str, Any]):
    try:
        return bootstrap(env=env, overrides=overrides, strict=False).pm
    except Exception as exc:  # the command that needs the plugin reports it properly
        print(f"roleplay: warning: {exc}", file=sys.stderr)
        # The kernel's own commands, from no file and no plugin, so that they still parse and report.
        return bootstrap(env="development", load_entry_points=False, settings_files=[], strict=False).pm


def _hoist_global_options(argv: list[str]) -> list[str]:
    """Accept ``--env`` and ``--set`` anywhere (``roleplay check --env production``)."""
    hoisted: list[str] = []
    rest: list[str] = []
    items = iter(argv)
    for item in items:
        if item in ("--env", "--set"):
            hoisted += [item, next(items, "")]
        elif item.startswith(("--env=", "--set=")):
            hoisted.append(item)
        else:
            rest.append(item)
    return hoisted + rest


def _parse_overrides(items: list[str]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep:
            raise SystemExit(f"roleplay: --set expects KEY=VALUE, got {item!r}")
        try:
            overrides[key.strip()] = json.loads(raw)
        except ValueError:
            overrides[key.strip()] = raw
    return overrides


# -- the kernel's commands --------------------------------------------------


def add_kernel_commands(subparsers: Any) -> None:
    serve = subparsers.add_parser("serve", help="run the HTTP server (uvicorn)")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--reload", action="store_true", help="restart on code changes (development)")
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(handler=cmd_serve, kernel_free=True)

    plugins = subparsers.add_parser("plugins", help="list discovered plugins")
    plugins.add_argument("--json", action="store_true")
    plugins.set_defaults(handler=cmd_plugins, needs_storage=False)

    openapi = subparsers.add_parser("openapi", help="print the OpenAPI 3.1 document of the HTTP API (JSON)")
    openapi.add_argument("--asyncapi", action="store_true", help="print the AsyncAPI 3.0 document of the sockets instead")
    openapi.set_defaults(handler=cmd_openapi, needs_storage=False)

    settings = subparsers.add_parser("settings", help="print the effective settings, secrets masked")
    settings.set_defaults(handler=cmd_settings, needs_storage=False)

    check = subparsers.add_parser("check", help="validate the settings of a layer without starting")
    check.set_defaults(handler=cmd_check, kernel_free=True)

    storage = subparsers.add_parser("storage", help="storage tools")
    storage_commands = storage.add_subparsers(title="storage commands", metavar="COMMAND")
    storage_check = storage_commands.add_parser("check", help="write, read and delete a probe record")
    storage_check.set_defaults(handler=cmd_storage_check)
    storage_fsck = storage_commands.add_parser(
        "fsck", help="check stored data (event logs, session snapshots, indexes); --repair fixes what it can",
        description="Walk every record: event logs must have no gaps, session snapshots must match their logs, "
        "indexes must match their records. Objects that are not Roleplay records are reported, never deleted. "
        "Exit code 1 when a problem is left.")
    storage_fsck.add_argument("--repair", action="store_true",
                              help="fix what other data determines (head hints, snapshots, missing index entries)")
    storage_fsck.add_argument("--no-progress", action="store_true", help="no progress lines on stderr")
    storage_fsck.set_defaults(handler=cmd_storage_fsck)
    storage_migrate = storage_commands.add_parser(
        "migrate", help="move records written in an older layout of the backend to the current one (resumable)",
        description="Rename records that an older version stored under another name (the s3 backend: objects named "
        "by their key alone, before key + '!'). Stop the servers first. Interrupted runs resume when run again.")
    storage_migrate.add_argument("--no-progress", action="store_true", help="no progress lines on stderr")
    storage_migrate.set_defaults(handler=cmd_storage_migrate, needs_storage=False)
    storage_copy = storage_commands.add_parser(
        "copy",
        help="copy every record from one backend to another (resumable, verified)",
        description="Copy every record from one storage backend to another, e.g. --from file --to s3. "
        "Each side uses the normal settings with storage.backend set to its name, plus --from-set/--to-set "
        "overrides. Interrupted copies resume from the state file. Exits 1 when the verification fails.",
    )
    storage_copy.add_argument("--from", dest="source", required=True, metavar="BACKEND",
                              help="source backend name (file, s3, ...)")
    storage_copy.add_argument("--to", dest="destination", required=True, metavar="BACKEND",
                              help="destination backend name")
    storage_copy.add_argument("--from-set", action="append", default=[], metavar="KEY=VALUE",
                              help="setting for the source only, e.g. --from-set storage.file.root=/srv/old")
    storage_copy.add_argument("--to-set", action="append", default=[], metavar="KEY=VALUE",
                              help="setting for the destination only, e.g. --to-set storage.s3.bucket=roleplay")
    storage_copy.add_argument("--prefix", default="", help="copy only keys starting with this prefix")
    storage_copy.add_argument("--state", default=None, metavar="FILE",
                              help="resume file (default: var/storage-copy-FROM-to-TO.json)")
    storage_copy.add_argument("--restart", action="store_true", help="ignore an existing state file")
    storage_copy.add_argument("--concurrency", type=int, default=8, help="records in flight at once (default 8)")
    storage_copy.add_argument("--page-size", type=int, default=500, help="keys per listing page and checkpoint")
    storage_copy.add_argument("--skip-identical", action="store_true",
                              help="compare every record first and skip those already identical")
    storage_copy.add_argument("--verify-checksums", action="store_true",
                              help="after copying, compare every record's bytes, not only the keys")
    storage_copy.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    storage_copy.set_defaults(handler=cmd_storage_copy, needs_storage=False)


def cmd_serve(args: argparse.Namespace, overrides: dict[str, Any]) -> int:
    import uvicorn

    from .logs import log_config

    # Workers build their own app from the environment, so pass overrides as env vars.
    for key, value in overrides.items():
        os.environ["ROLEPLAY_" + key.upper().replace(".", "__")] = value if isinstance(value, str) else json.dumps(value)
    try:
        kernel = Kernel.create(env=args.env)  # validate once, in the parent, before forking workers
    except (SettingsError, PluginError, ValueError) as exc:
        print(f"roleplay: {exc}", file=sys.stderr)
        return 2
    host = args.host or kernel.settings.get("server.host", "127.0.0.1")
    port = args.port or int(kernel.settings.get("server.port", 8000))
    if uses_development_secret(kernel.settings) and not is_loopback(host):
        # Anyone can sign an admin token with the public development secret: never serve it to a network.
        print(f"roleplay: refusing to serve {host}: the {kernel.settings.env} settings use the built-in development "
              "JWT secret, with which anyone can sign an admin token. Set security.jwt_secret "
              "(ROLEPLAY_SECURITY__JWT_SECRET) to a random secret, set ROLEPLAY_ENV=production (or beta), or serve "
              "127.0.0.1 only.", file=sys.stderr)
        return 2
    if kernel.settings.get("metrics.enabled", False):
        from . import metrics

        folder = kernel.settings.get("metrics.multiprocess_dir") or None
        # Several processes record (workers, or --reload's child beside this one serving the metrics
        # port): before any starts, point them all at one folder, and a scrape adds the files up. One
        # process keeps the ordinary registry in memory, with no mmapped files to write.
        if args.reload or args.workers > 1 or folder or metrics.multiprocess_dir():
            metrics.prepare_multiprocess(folder)
        metrics_port = int(kernel.settings.get("metrics.port", 0) or 0)
        if metrics_port:
            metrics.serve_port(kernel.settings.get("metrics.host", "127.0.0.1"), metrics_port)
    print(f"roleplay: environment {kernel.settings.env}"
          f"{'' if os.environ.get('ROLEPLAY_ENV') or args.env else ' (ROLEPLAY_ENV is not set)'}; "
          f"tokens signed with {secret_source(kernel.settings)}", file=sys.stderr)
    level = str(kernel.settings.get("server.log_level", "info")).lower()
    log_format = kernel.settings.get("server.log_format", "text")
    uvicorn.run(
        "roleplay_core.app:create_app",
        factory=True,
        host=host,
        port=port,
        reload=args.reload,
        workers=None if args.reload else args.workers,
        log_level=level,
        log_config=log_config(level, log_format),
        # uvicorn builds its access line's fields on every request, even when the level drops it:
        # ask for the line only where it is written (text format, info or more verbose; in json
        # the kernel writes its own access line).
        access_log=access_lines(level, log_format),
        proxy_headers=True,
        # No "server: uvicorn" on every answer: it tells a scanner what runs here and nothing to a
        # client, and each header costs uvicorn two regular-expression checks per response.
        server_header=False,
        # uvicorn buffers a whole frame before the app sees it: never more than the app accepts.
        ws_max_size=int(kernel.settings.get("security.websocket_max_frame_bytes", 1_048_576)),
        # After the drain (see app._drain_on_sigterm): requests in flight get this long to finish.
        timeout_graceful_shutdown=int(float(kernel.settings.get("server.drain_seconds", 35.0))),
    )
    return 0


def access_lines(level: str, log_format: str) -> bool:
    """Whether uvicorn's access lines are written at ``server.log_level`` in ``server.log_format``."""
    return log_format == "text" and level in ("trace", "debug", "info")


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or a name) only listens on this machine."""
    import ipaddress

    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def cmd_plugins(args: argparse.Namespace, kernel: Kernel) -> int:
    kernel.collect_routes()  # fills in each plugin's routes
    infos = [info.to_dict() for info in kernel.plugins]
    if args.json:
        print(json.dumps(infos, indent=2))
        return 0
    for info in infos:
        state = "enabled" if info["enabled"] and info["status"] == "enabled" else info["status"]
        print(f"{info['name']:<12} {info['distribution'] or '-'} {info['version'] or ''}  [{state}]")
        if info["hooks"]:
            print(f"    hooks:  {', '.join(info['hooks'])}")
        if info["routes"]:
            print(f"    routes: {', '.join(info['routes'])}")
    return 0


def cmd_openapi(args: argparse.Namespace, kernel: Kernel) -> int:
    """What ``/openapi.json`` (or ``/asyncapi.json``) serves with these settings, whatever ``docs.enabled`` says."""
    from .apidocs import asyncapi_document
    from .openapi import openapi_document

    kernel.collect_routes()
    document = asyncapi_document(kernel) if args.asyncapi else openapi_document(kernel)
    print(json.dumps(document, indent=2, ensure_ascii=False))
    return 0


def cmd_settings(args: argparse.Namespace, kernel: Kernel) -> int:
    print(f"# environment: {kernel.settings.env}")
    print(json.dumps(kernel.settings.masked(), indent=2, sort_keys=True, default=str))
    return 0


def cmd_check(args: argparse.Namespace, overrides: dict[str, Any]) -> int:
    from .settings import current_env

    env = current_env(args.env)
    try:
        problems = bootstrap(env=env, overrides=overrides, strict=True).problems
    except Exception as exc:
        print(f"{env}: cannot load: {exc}", file=sys.stderr)
        return 2
    if problems:
        print(f"{env}: {len(problems)} problem(s):", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    print(f"{env}: settings are valid")
    return 0


async def cmd_storage_check(args: argparse.Namespace, kernel: Kernel) -> int:
    from .storage import StorageError

    try:
        await kernel.storage.check()
    except StorageError as exc:
        print(f"storage: FAILED: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        print(f"storage: FAILED: {kernel.storage.describe()}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    try:
        namespace = await kernel.storage.namespace()
    except Exception as exc:  # informational only: the check itself passed
        namespace = f"unknown ({type(exc).__name__}: {exc})"
    print(f"storage: ok ({kernel.storage.describe()}); namespace: {namespace}")
    return 0


async def cmd_storage_fsck(args: argparse.Namespace, kernel: Kernel) -> int:
    """Walk the stored data; report (and with --repair fix) inconsistencies; exit 1 if any is left."""
    from .storage import StorageError
    from .storage.fsck import run

    def progress(line: str) -> None:
        if not args.no_progress or not line.startswith(("listed ", "read ")):
            print(f"fsck: {line}", file=sys.stderr, flush=True)

    print(f"fsck: {kernel.storage.describe()}{' (repairing)' if args.repair else ''}", file=sys.stderr)
    try:
        result = await run(kernel, repair=args.repair, progress=progress)
    except StorageError as exc:
        print(f"fsck: FAILED: {exc}", file=sys.stderr)
        return 1
    print(f"fsck: {result.summary()}")
    return 1 if result.unrepaired else 0


async def cmd_storage_migrate(args: argparse.Namespace, kernel: Kernel) -> int:
    """Move records of an older layout to the backend's current one (resumable)."""
    from .storage import StorageError

    storage = kernel.storage
    print(f"migrate: {storage.describe()}", file=sys.stderr)

    def progress(line: str) -> None:
        if not args.no_progress:
            print(f"migrate: {line}", file=sys.stderr, flush=True)

    try:
        counts = await storage.migrate(progress)
    except StorageError as exc:
        print(f"migrate: FAILED: {exc} (run the command again to resume)", file=sys.stderr)
        return 1
    finally:
        await storage.close()
    if not counts:
        print(f"migrate: nothing to do: {storage.name} storage has one layout")
        return 0
    print("migrate: done: " + ", ".join(f"{value} {name.replace('_', ' ')}" for name, value in counts.items()))
    return 0


def _side_settings(kernel: Kernel, backend: str, items: list[str]):
    """The kernel's settings with ``storage.backend = backend`` and one side's ``--from-set``/``--to-set``."""
    from .settings import Settings, deep_merge, expand_dotted

    overrides = {"storage.backend": backend, **_parse_overrides(items)}
    return Settings(deep_merge(kernel.settings.as_dict(), expand_dotted(overrides)), kernel.settings.env)


class ProgressBar:
    """A plain-text progress bar redrawn in place with ``\\r`` on a stream (stderr)."""

    def __init__(self, stream: Any = None, width: int = 30, interval: float = 0.1) -> None:
        import time

        self.stream = stream or sys.stderr
        self.width = width
        self.interval = interval
        self._clock = time.monotonic
        self._started = self._clock()
        self._last = 0.0
        self._shown = False

    def __call__(self, done: int, total: int) -> None:
        now = self._clock()
        if done < total and now - self._last < self.interval:
            return
        self._last = now
        filled = self.width if total == 0 else int(self.width * done / total)
        percent = 100 if total == 0 else int(100 * done / total)
        rate = done / max(now - self._started, 1e-6)
        self.stream.write(f"\r[{'#' * filled}{'.' * (self.width - filled)}] {done}/{total} {percent:3d}% "
                          f"{rate:,.0f} rec/s")
        self.stream.flush()
        self._shown = True

    def finish(self) -> None:
        if self._shown:
            self.stream.write("\n")
            self.stream.flush()


async def cmd_storage_copy(args: argparse.Namespace, kernel: Kernel) -> int:
    from .storage import StorageError
    from .storage.copy import CopyError, copy_storage, describe_result

    sides = []
    for role, name, items in (("source", args.source, args.from_set), ("destination", args.destination, args.to_set)):
        factory = kernel.storage_backends.get(name)
        if factory is None:
            print(f"storage copy: no installed plugin provides the {role} backend {name!r}; available: "
                  f"{', '.join(sorted(kernel.storage_backends))}", file=sys.stderr)
            return 2
        try:
            sides.append(factory(_side_settings(kernel, name, items)))
        except (StorageError, ValueError, TypeError) as exc:
            print(f"storage copy: cannot configure the {role} ({name}): {exc}", file=sys.stderr)
            return 2
    source, destination = sides
    state = args.state or os.path.join("var", f"storage-copy-{args.source}-to-{args.destination}.json")
    bar = None if args.no_progress else ProgressBar()
    print(f"storage copy: {source.describe()} -> {destination.describe()} (state file {state}; "
          "if interrupted, run the same command again to resume)", file=sys.stderr)
    opened = []
    try:
        for storage in (source, destination):
            await storage.open()
            opened.append(storage)
        result = await copy_storage(
            source, destination, prefix=args.prefix, state_path=state, restart=args.restart,
            concurrency=args.concurrency, page_size=args.page_size, skip_identical=args.skip_identical,
            verify_checksums=args.verify_checksums, progress=bar,
        )
    except (CopyError, StorageError, ValueError) as exc:
        if bar:
            bar.finish()
        print(f"storage copy: FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        for storage in opened:
            await storage.close()
    if bar:
        bar.finish()
    for line in describe_result(result):
        print(f"storage copy: {line}")
    if not result.ok:
        print(f"storage copy: FAILED verification; fix the cause and rerun (state kept in {state})", file=sys.stderr)
        return 1
    print("storage copy: ok, counts verified" + (" and checksums" if result.checksums_verified else ""))
    return 0


__all__ = ["main", "maybe_await"]
