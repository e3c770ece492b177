"""Plugin discovery: entry points in the group ``roleplay``, toggled by settings."""

from __future__ import annotations

import importlib.metadata
import logging
from types import ModuleType
from typing import Any

import attrs
import pluggy

from . import hookspecs

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
    value = settings_layers.get(f"plugins.{name}.enabled", True)
    if isinstance(value, str):
        return value.strip().lower() not in ("false", "0", "no", "off")
    return bool(value)


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
