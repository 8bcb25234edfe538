"""The plugin manager: built-in plugins and entry points of the group ``synco``, registered alike.

Built-in behaviour (the database engines, the default file installer) is written as ordinary plugin
modules listed in :data:`DEFAULT_PLUGINS`. Third-party plugins are found through the ``synco``
entry-point group. Each is loaded on its own: one that fails to import, or whose hook implementations
do not match the specifications, is recorded in :attr:`SyncoPluginManager.failures` and left out, so a
broken plugin never takes synco down.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib.metadata import entry_points, version
from typing import Any

import pluggy

from synco_core import hookspecs
from synco_core.errors import SyncoError
from synco_core.redaction import error_line

log = logging.getLogger(__name__)

#: The entry-point group and pluggy project name.
PROJECT = "synco"

#: Built-in plugins: (name, module). Registered exactly as an entry point would be.
DEFAULT_PLUGINS: tuple[tuple[str, str], ...] = (
    ("mysql", "synco_core.engines.mysql"),
    ("postgresql", "synco_core.engines.postgresql"),
    ("sqlite", "synco_core.engines.sqlite"),
    ("default-files", "synco_core.engines.default_files"),
)


@dataclass
class PluginFailure:
    """A plugin that could not be loaded, and why."""

    name: str
    distribution: str
    reason: str


@dataclass
class PluginInfo:
    """What ``synco plugins`` shows for one loaded plugin."""

    name: str
    distribution: str
    version: str
    hooks: list[str]
    builtin: bool
    module: str = ""


@dataclass
class SyncoPluginManager:
    """A pluggy manager plus the bookkeeping ``synco plugins`` needs."""

    pm: pluggy.PluginManager
    failures: list[PluginFailure] = field(default_factory=list)
    infos: dict[str, PluginInfo] = field(default_factory=dict)

    @property
    def hook(self) -> Any:
        return self.pm.hook

    def register(self, plugin: object, name: str, *, distribution: str = "", builtin: bool = False) -> bool:
        """Register ``plugin``; on a mismatch with the specs, record the failure and return False."""
        try:
            self.pm.register(plugin, name=name)
        except Exception as exc:  # pluggy raises PluginValidationError or ValueError (duplicate name)
            if isinstance(exc, pluggy.PluginValidationError) and self.pm.is_registered(plugin):
                # pluggy validates hook by hook and leaves the plugin, and the hooks it had already added,
                # registered when a later one fails; a failed plugin must not be called at all.
                self.pm.unregister(plugin)
            self.failures.append(PluginFailure(name, distribution or name, error_line(exc)))
            return False
        unknown = [
            hook_name
            for hook_name, caller in vars(self.pm.hook).items()
            if isinstance(caller, pluggy.HookCaller)
            and not caller.has_spec()
            # optionalhook=True marks an implementation of a hook a newer synco may add; pluggy's own
            # check_pending accepts those, and so does this check.
            and any(impl.plugin is plugin and not impl.optionalhook for impl in caller.get_hookimpls())
        ]
        if unknown:
            self.pm.unregister(plugin)
            reason = "implements unknown hook(s): " + ", ".join(sorted(unknown))
            self.failures.append(PluginFailure(name, distribution or name, reason))
            return False
        hooks = sorted(impl_caller.name for impl_caller in self.pm.get_hookcallers(plugin) or [])
        dist_version = _distribution_version(distribution) if distribution else ""
        self.infos[name] = PluginInfo(
            name=name,
            distribution=distribution or "synco",
            version=dist_version or _distribution_version("synco"),
            hooks=hooks,
            builtin=builtin,
            module=getattr(plugin, "__name__", type(plugin).__name__),
        )
        return True

    def unregister(self, name: str) -> None:
        plugin = self.pm.get_plugin(name)
        if plugin is not None:
            self.pm.unregister(plugin)
        self.infos.pop(name, None)

    def call_each(self, hook_name: str, **kwargs: Any) -> Iterator[tuple[str, Any]]:
        """Call every implementation of a collecting hook on its own, yielding (plugin name, result).

        A plugin that raises is reported once as a warning and skipped, so one broken plugin cannot
        stop detection or file listing for the others.
        """
        caller: pluggy.HookCaller = getattr(self.pm.hook, hook_name)
        for impl in reversed(caller.get_hookimpls()):
            args = {name: kwargs[name] for name in impl.argnames}
            try:
                result = impl.function(**args)
            except SyncoError:
                raise
            except Exception as exc:
                log.warning("plugin %s failed in %s: %s", impl.plugin_name, hook_name, error_line(exc))
                log.debug("plugin failure", exc_info=True)
                continue
            if result is not None:
                yield impl.plugin_name, result


def _distribution_version(distribution: str) -> str:
    try:
        return version(distribution)
    except Exception:
        return ""


def build_plugin_manager(*, load_entrypoints: bool = True, builtins: bool = True) -> SyncoPluginManager:
    """A fresh manager with the hook specs, the built-ins and (optionally) every entry point."""
    manager = SyncoPluginManager(pluggy.PluginManager(PROJECT))
    manager.pm.add_hookspecs(hookspecs)
    if builtins:
        for name, module_name in DEFAULT_PLUGINS:
            try:
                module = importlib.import_module(module_name)
            except Exception as exc:
                manager.failures.append(PluginFailure(name, "synco", error_line(exc)))
                continue
            manager.register(module, name, distribution="synco", builtin=True)
    if load_entrypoints:
        for ep in entry_points(group=PROJECT):
            dist = ep.dist.name if ep.dist is not None else ep.value.split(":")[0]
            if manager.pm.is_blocked(ep.name):
                continue
            if manager.pm.get_plugin(ep.name) is not None:
                # Another distribution already answers to this name; say so instead of dropping it silently.
                taken_by = manager.infos[ep.name].distribution if ep.name in manager.infos else "another plugin"
                if taken_by != dist:
                    manager.failures.append(
                        PluginFailure(ep.name, dist, f"plugin name {ep.name!r} is already used by {taken_by}")
                    )
                continue
            try:
                plugin = ep.load()
            except Exception as exc:
                manager.failures.append(PluginFailure(ep.name, dist, error_line(exc)))
                continue
            manager.register(plugin, ep.name, distribution=dist)
    return manager


_manager: SyncoPluginManager | None = None


def get_plugin_manager(*, report_failures: bool = True) -> SyncoPluginManager:
    """The process-wide manager, built on first use (importing synco_core loads no plugin).

    Plugins that failed to load are logged as warnings once, when the manager is built. ``synco plugins``
    passes ``report_failures=False`` because it lists the failures itself, and each is reported only once.
    """
    global _manager
    if _manager is None:
        _manager = build_plugin_manager()
        if report_failures:
            for failure in _manager.failures:
                log.warning("plugin %s (%s) failed to load: %s", failure.name, failure.distribution, failure.reason)
    return _manager


def set_plugin_manager(manager: SyncoPluginManager | None) -> None:
    """Replace the process-wide manager (tests; None rebuilds it on next use)."""
    global _manager
    _manager = manager
