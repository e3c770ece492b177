"""Plugin discovery (entry points in the group ``roleplay``, toggled by settings) and :func:`bootstrap`.

:func:`bootstrap` is the one way a plugin manager is built: ``Kernel.create``, the CLI's
command list and ``roleplay check`` all use it, so they agree on which plugins exist, in
which order, and which settings they see.
"""

from __future__ import annotations

import importlib.metadata
import logging
import re
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any

import attrs
import pluggy

from . import builtin, hookspecs
from .settings import Settings, build_settings, current_env, kernel_problems, load_layers

logger = logging.getLogger("roleplay.plugins")
ENTRY_POINT_GROUP = "roleplay"


class PluginError(Exception):
    """A plugin failed to import, register or start. The message names the plugin and the cause."""


@attrs.define
class PluginInfo:
    name: str
    distribution: str | None = None
    version: str | None = None
    enabled: bool = True
    #: "enabled", "disabled in settings", or "failed: <cause>".
    status: str = "enabled"
    hooks: list[str] = attrs.field(factory=list)
    routes: list[str] = attrs.field(factory=list)

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


def new_plugin_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager("roleplay")
    pm.add_hookspecs(hookspecs)
    return pm


def is_enabled(settings_layers: Any, name: str) -> bool:
    """``plugins.<name>.enabled``: only ``false`` switches a plugin off. A boolean setting is true or
    false and nothing else (docs/configuration.md); any other value is a problem :func:`kernel_problems`
    reports, and leaves the plugin as it is by default, on."""
    return settings_layers.get(f"plugins.{name}.enabled", True) is not False


def discover(
    pm: pluggy.PluginManager, settings: Any, *, strict: bool, load_entry_points: bool = True
) -> list[PluginInfo]:
    """Load and register every enabled plugin from entry points; return what happened to each.

    A disabled plugin is not imported. A plugin that fails to import is skipped
    with a warning unless ``strict`` (beta, production), where it raises
    :class:`PluginError`.
    """
    infos: list[PluginInfo] = []
    if not load_entry_points:
        return infos
    seen: set[str] = set()
    for entry_point in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        if entry_point.name in seen:
            continue  # the same distribution found twice on sys.path
        seen.add(entry_point.name)
        dist = entry_point.dist
        info = PluginInfo(
            name=entry_point.name,
            distribution=dist.metadata["Name"] if dist else None,
            version=dist.version if dist else None,
        )
        infos.append(info)
        if not is_enabled(settings, entry_point.name):
            info.enabled = False
            info.status = "disabled in settings"
            continue
        try:
            plugin = entry_point.load()
            pm.register(plugin, name=entry_point.name)
        except Exception as exc:
            cause = f"failed to load: {type(exc).__name__}: {exc}"
            if strict:
                raise PluginError(f"plugin {entry_point.name!r} ({info.distribution}) {cause}") from exc
            logger.warning("skipping plugin %r (%s): %s", entry_point.name, info.distribution, cause)
            info.enabled = False
            info.status = cause
    return infos


def register_extra(pm: pluggy.PluginManager, plugins: list[Any]) -> list[PluginInfo]:
    """Register plugin objects passed in directly (tests, embedding)."""
    infos = []
    for plugin in plugins:
        name = getattr(plugin, "name", None) or getattr(plugin, "__name__", None) or type(plugin).__name__
        if isinstance(plugin, ModuleType):
            name = plugin.__name__
        pm.register(plugin, name=str(name))
        infos.append(PluginInfo(name=str(name), distribution=None, version=None))
    return infos


def hooks_of(pm: pluggy.PluginManager, name: str) -> list[str]:
    plugin = pm.get_plugin(name)
    if plugin is None:
        return []
    return sorted(caller.name for caller in pm.get_hookcallers(plugin) or [])


@attrs.frozen
class Bootstrap:
    """What :func:`bootstrap` found: the plugins, their effective settings and the problems with them."""

    env: str
    settings: Settings
    pm: pluggy.PluginManager
    plugins: list[PluginInfo]
    #: Every problem ``validate_settings`` found (and the kernel's own); empty when valid.
    problems: list[str]

    @property
    def strict(self) -> bool:
        return self.env != "development"


def bootstrap(
    *,
    env: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    plugins: Sequence[Any] = (),
    load_entry_points: bool = True,
    settings_files: list[str] | None = None,
    strict: bool | None = None,
) -> Bootstrap:
    """Load the settings layers, register the kernel's hooks and every enabled plugin, validate.

    Registration order, which is also the order hooks run in reverse (see ``hookspecs``):
    ``core`` (the kernel's own hooks), entry-point plugins by name, then ``plugins``.
    ``strict`` (default: any environment but development) makes a plugin that fails to
    import an error instead of a warning. Settings problems are returned, not raised: the
    caller decides (the kernel refuses to start on them outside development).
    """
    env = current_env(env)
    strict = env != "development" if strict is None else strict
    layers = load_layers(env, settings_files)
    preliminary = build_settings(env, layers=layers, overrides=overrides)
    pm = new_plugin_manager()
    pm.register(builtin, name="core")
    infos = [PluginInfo(name="core", distribution="roleplay-core", version=_version())]
    infos += discover(pm, preliminary, strict=strict, load_entry_points=load_entry_points)
    infos += register_extra(pm, list(plugins))
    try:
        pm.check_pending()  # a misspelt hook implementation fails here, loudly
    except pluggy.PluginValidationError as exc:
        raise PluginError(str(exc)) from exc
    defaults = [d for d in pm.hook.settings_defaults(env=env) if d]
    # Hook answers come last-registered first; the first registered plugin's defaults go lowest.
    settings = build_settings(env, layers=layers, plugin_defaults=list(reversed(defaults)), overrides=overrides)
    for info in infos:
        info.hooks = hooks_of(pm, info.name)
    return Bootstrap(env=env, settings=settings, pm=pm, plugins=infos, problems=validate(settings, pm))


def validate(settings: Settings, pm: pluggy.PluginManager) -> list[str]:
    """The kernel's problems with ``settings``, every typed table's (``settings_schema``) and every
    plugin's own (``validate_settings``)."""
    problems = kernel_problems(settings)
    for schemas in pm.hook.settings_schema():
        for table, cls in (schemas or {}).items():
            problems.extend(typed_problems(settings, table, cls))
    for found in pm.hook.validate_settings(settings=settings):
        problems.extend(found or [])
    return problems


def typed_problems(settings: Settings, table: str, cls: type) -> list[str]:
    """``table.key: message`` for each way ``settings.section(table)`` does not fit ``cls``.

    A key inside a table of tables reads as settings are written: ``auth.oidc.google.client_id``,
    not cattrs' ``oidc['google'].client_id``. Every validator runs once the types fit, so every
    problem is reported at once, not only attrs' first.
    """
    from .serialization import converter, field_errors, validator_errors

    section = settings.section(table)
    try:
        # Validators off first: attrs stops at the first validator that refuses, so when every type
        # fits, the kernel runs each validator itself and reports them all.
        with attrs.validators.disabled():
            value = converter.structure(section, cls)
        errors = validator_errors(value)
    except Exception:
        try:  # a type is wrong: cattrs reports each, with the validators of the tables that fit
            converter.structure(section, cls)
            errors = []
        except Exception as exc:
            errors = field_errors(exc)
    found = []
    for error in errors:
        key = re.sub(r"\['([^']*)'\]", r".\1", error.field).lstrip(".")
        found.append(f"{table}.{key}: {error.message}" if key != "$" else f"{table}: {error.message}")
    return found


def _version() -> str | None:
    try:
        return importlib.metadata.version("roleplay-core")
    except importlib.metadata.PackageNotFoundError:
        return None
