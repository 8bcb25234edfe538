"""The plugin manager: built-in plugins and entry points of the group ``synco``, registered alike.

Built-in behaviour (the database engines, the default file installer) is written as ordinary plugin
modules listed in :data:`DEFAULT_PLUGINS`. Third-party plugins are found through the ``synco``
entry-point group. Each is loaded on its own: one that fails to import, or whose hook implementations
do not match the specifications, is recorded in :attr:`SyncoPluginManager.failures` and left out, so a
broken plugin never takes synco down.

Which entry points are loaded can be chosen, as datasette's ``DATASETTE_LOAD_PLUGINS`` and llm's
``LLM_LOAD_PLUGINS`` do: ``SYNCO_LOAD_PLUGINS`` names the only ones to load (empty: none), and
``SYNCO_DISABLE_PLUGINS`` names ones to leave out. Both take plugin names (``neos``) or distribution names
(``synco-neos``), comma-separated; the built-ins are always loaded. Under ``--debug`` every hook call is
traced (pluggy's tracing) through the logger ``synco_core.hooks``, whose records are redacted like all others.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import os
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import entry_points, version
from typing import Any

import pluggy

from synco_core import hookspecs
from synco_core.errors import SyncoError
from synco_core.limits import raise_if_out_of_memory
from synco_core.pluginanswers import CHECKS, FIRSTRESULT_TYPES, WrongAnswer, kind
from synco_core.pluginguard import plugin_code
from synco_core.redaction import HOOK_LOGGER, error_line, mask_passwords, message_of, one_line

log = logging.getLogger(__name__)
#: Hook calls are traced here under ``--debug``.
hook_log = logging.getLogger(HOOK_LOGGER)

#: The entry-point group and pluggy project name.
PROJECT = "synco"
#: Only these entry-point plugins are loaded (comma-separated names; empty: none).
LOAD_PLUGINS_ENV = "SYNCO_LOAD_PLUGINS"
#: These entry-point plugins are not loaded (comma-separated names).
DISABLE_PLUGINS_ENV = "SYNCO_DISABLE_PLUGINS"

#: A hook that should answer quickly (QUICK_HOOKS) and has not after this long is named in a warning.
SLOW_HOOK_SECONDS = 15.0
#: Hooks documented to read a few files or settings: blocking in one is a hang, not work.
QUICK_HOOKS = frozenset({"detect_framework", "amend_framework", "default_dump_options", "source_settings",
                         "value_rewriter"})

#: Built-in plugins: (name, module). Registered exactly as an entry point would be.
DEFAULT_PLUGINS: tuple[tuple[str, str], ...] = (
    ("mysql", "synco_core.engines.mysql"),
    ("postgresql", "synco_core.engines.postgresql"),
    ("sqlite", "synco_core.engines.sqlite"),
    ("default-files", "synco_core.engines.default_files"),
)


class PluginError(SyncoError):
    """A third-party plugin's hook raised something other than a :class:`SyncoError` (the cause is chained)."""


class PluginExit(Exception):
    """Plugin code raised :class:`SystemExit` or :class:`GeneratorExit`, now an ordinary failure (the cause is
    chained).

    ``sys.exit()`` in a plugin would otherwise end synco on the spot with the plugin's status (0 says success
    after doing nothing), skipping every cleanup that only catches ``Exception``, and in a worker thread would
    end that thread without a word. ``KeyboardInterrupt`` is left alone: Ctrl-C while a plugin runs must
    still stop synco. So are other ``BaseException`` subclasses, which are other frameworks' control flow
    (a test runner's failed check, a cancellation) that their caller owns.
    """

    def __init__(self, exc: SystemExit | GeneratorExit) -> None:
        what = f"called sys.exit({exc.code!r})" if isinstance(exc, SystemExit) else "raised GeneratorExit"
        super().__init__(what)


#: The BaseExceptions plugin code may raise that are turned into a :class:`PluginExit`.
PLUGIN_EXITS = (SystemExit, GeneratorExit)


class _PluginManager(pluggy.PluginManager):
    """pluggy's manager, running every hook implementation with its prints sent to stderr, and naming the
    third-party plugin whose firstresult hook failed unexpectedly."""

    def __init__(self, project_name: str) -> None:
        super().__init__(project_name)
        #: Names of the built-in plugins: their exceptions are the core's own and pass unchanged.
        self.builtin_names: set[str] = set()

    def _hookexec(self, hook_name: str, methods: Any, kwargs: Any, firstresult: bool) -> Any:
        # Every HookCaller (and call_each) executes through here, so no hook call escapes the redirection.
        plugins = list(dict.fromkeys(impl.plugin_name for impl in methods))
        with plugin_code(plugins, f"in {hook_name}", third_party=not set(plugins) <= self.builtin_names):
            try:
                try:
                    result = super()._hookexec(hook_name, methods, kwargs, firstresult)
                except PLUGIN_EXITS as exc:
                    raise PluginExit(exc) from exc
            except SyncoError:
                raise
            except Exception as exc:
                raise_if_out_of_memory(exc)
                # A PluginExit's own traceback starts here; the plugin's frames are on its cause's.
                origin = exc.__cause__ or exc if isinstance(exc, PluginExit) else exc
                culprit = _raised_by(origin, methods) if firstresult else None
                if culprit is None or culprit in self.builtin_names:
                    raise
                # A KeyError from deep inside a plugin otherwise reaches the user as "Error: KeyError: 'x'",
                # with nothing saying which of the installed plugins to blame.
                raise PluginError(f"plugin {culprit} failed in {hook_name}: {failure_reason(exc)}") from origin
        expected = FIRSTRESULT_TYPES.get(hook_name) if firstresult else None
        if expected is not None and result is not None and not isinstance(result, expected):
            # pluggy does not say which implementation answered; the built-in ones answer with the right type.
            suspects = [name for name in plugins if name not in self.builtin_names] or plugins
            who = f"plugin {suspects[0]}" if len(suspects) == 1 else f"one of the plugins {', '.join(suspects)}"
            raise PluginError(f"{who} answered {hook_name} with {kind(result)}, not a {expected.__name__}")
        return result


@dataclass
class PluginFailure:
    """A plugin that could not be loaded, and why."""

    name: str
    distribution: str
    reason: str


@dataclass
class SkippedPlugin:
    """An installed plugin left out on purpose (``SYNCO_LOAD_PLUGINS`` / ``SYNCO_DISABLE_PLUGINS``)."""

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
    skipped: list[SkippedPlugin] = field(default_factory=list)
    _tracing: bool = field(default=False, repr=False)

    @property
    def hook(self) -> Any:
        return self.pm.hook

    def register(self, plugin: object, name: str, *, distribution: str = "", builtin: bool = False) -> bool:
        """Register ``plugin``; on a mismatch with the specs, record the failure and return False."""
        unbound = _methods_needing_an_instance(plugin)
        if unbound:
            # pluggy registers such a class and drops "self" from each method's arguments, so every call then
            # fails with "missing 1 required positional argument", far from the mistake in the entry point.
            reason = (f"is the class {getattr(plugin, '__qualname__', plugin)!r}, whose hook methods "
                      f"({', '.join(unbound)}) need an instance: point the entry point at an instance "
                      "(module:plugin, with plugin = TheClass()) or at a module")
            self.failures.append(PluginFailure(name, distribution or name, reason))
            return False
        try:
            self.pm.register(plugin, name=name)
        except Exception as exc:  # pluggy raises PluginValidationError or ValueError (duplicate name)
            if isinstance(exc, pluggy.PluginValidationError) and self.pm.is_registered(plugin):
                # pluggy validates hook by hook and leaves the plugin, and the hooks it had already added,
                # registered when a later one fails; a failed plugin must not be called at all.
                self.pm.unregister(plugin)
            self.failures.append(PluginFailure(name, distribution or name, failure_reason(exc)))
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
        wrapped = sorted(
            caller.name
            for caller in self.pm.get_hookcallers(plugin) or []
            if not _is_firstresult(caller)
            and any(impl.plugin is plugin and (impl.wrapper or impl.hookwrapper) for impl in caller.get_hookimpls())
        )
        if wrapped:
            # Their answers are collected plugin by plugin (see call_each), so a wrapper would have nothing to wrap
            # and its generator would be taken for an answer; refusing it is clearer than half working.
            self.pm.unregister(plugin)
            reason = (f"implements {', '.join(wrapped)} as a wrapper; synco asks every plugin for these on its own "
                      "and joins the answers, so wrappers are only supported on the firstresult hooks")
            self.failures.append(PluginFailure(name, distribution or name, reason))
            return False
        if builtin and isinstance(self.pm, _PluginManager):
            self.pm.builtin_names.add(name)
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

    def call_each(self, hook_name: str, after_each: Callable[[str], None] | None = None, *,
                  fail_closed: bool = False, **kwargs: Any) -> Iterator[tuple[str, Any]]:
        """Call every plugin's implementation of a collecting hook on its own, yielding (plugin name, result).

        Each plugin is called through pluggy's hook execution (the one ``manager.hook.<name>(...)`` uses, with
        that plugin's implementations only), so ``--debug`` traces it like any hook call. A plugin that raises
        is reported once as a warning and skipped, so one broken plugin cannot stop detection or file listing
        for the others; a :class:`SyncoError` is the user's answer and is raised. An answer of the wrong type
        (:data:`synco_core.pluginanswers.CHECKS`) is refused the same way, whole, naming the plugin and the hook.
        ``after_each(plugin name)`` runs after each plugin's call, whether it answered, failed or was refused.
        With ``fail_closed`` a plugin that raises stops the command instead (a :class:`ConfigError` naming it and
        the hook): for answers that protect data, such as a sanitising profile, skipping one would send what
        it was meant to keep back.
        """
        check = CHECKS.get(hook_name)
        caller: pluggy.HookCaller = getattr(self.pm.hook, hook_name)
        if _is_firstresult(caller):
            raise ValueError(f"{hook_name} is a firstresult hook; call it through manager.hook")
        impls = caller.get_hookimpls()
        # pluggy calls the last implementation of its list first (tryfirst ones are at the end). Plugins are
        # told apart by name: a plugin object need not be hashable.
        for plugin_name in dict.fromkeys(impl.plugin_name for impl in reversed(impls)):
            own = [impl for impl in impls if impl.plugin_name == plugin_name]
            results = self._call_one(hook_name, plugin_name, own, kwargs, check, fail_closed)
            if after_each is not None:
                after_each(plugin_name)
            for result in results:
                yield plugin_name, result

    def _call_one(self, hook_name: str, plugin_name: str, own: list[pluggy.HookImpl], kwargs: dict[str, Any],
                  check: Callable[[Any], Any] | None, fail_closed: bool = False) -> list[Any]:
        """One plugin's answers to a collecting hook, checked; [] when it failed or answered wrongly (warned)."""
        watchdog = _slow_hook_warning(plugin_name, hook_name) if hook_name in QUICK_HOOKS else None
        try:
            # pluggy has no public call for one plugin's implementations (subset_hook_caller needs hashable
            # plugins); _hookexec is what every HookCaller calls, tracing included.
            results = self.pm._hookexec(hook_name, own, kwargs, False)
            assert isinstance(results, list)
            if check is not None:
                # Inside the try: a generator answer runs (and may fail) while it is checked.
                results = [check(result) for result in results]
            return results
        except SyncoError:
            raise
        except WrongAnswer as exc:
            log.warning("plugin %s answered %s with %s; ignored", plugin_name, hook_name, exc)
            return []
        except Exception as exc:
            raise_if_out_of_memory(exc)
            log.debug("plugin failure", exc_info=True)
            if fail_closed:
                raise PluginError(f"plugin {plugin_name} failed in {hook_name}: {failure_reason(exc)} "
                                  f"({DISABLE_PLUGINS_ENV}={plugin_name} leaves it out)") from exc
            log.warning("plugin %s failed in %s: %s", plugin_name, hook_name, failure_reason(exc))
            return []
        finally:
            if watchdog is not None:
                # Joined, not only cancelled: its thread ends with the call, so a command stopped right after
                # leaves none running (a cancelled timer's thread may not have been scheduled yet).
                watchdog.cancel()
                watchdog.join()

    def trace_hooks(self) -> None:
        """Log every hook call, its arguments and its result at DEBUG level to ``synco_core.hooks``."""
        if self._tracing:
            return
        self._tracing = True
        self.pm.trace.root.setwriter(_write_trace)
        self.pm.enable_tracing()


def _methods_needing_an_instance(plugin: object) -> list[str]:
    """The hook implementations of ``plugin`` that are instance methods, when ``plugin`` is a class (sorted)."""
    if not inspect.isclass(plugin):
        return []
    return sorted(
        name for name in dir(plugin)
        if getattr(getattr(plugin, name, None), f"{PROJECT}_impl", None) is not None
        and inspect.isfunction(inspect.getattr_static(plugin, name, None))
    )


def _slow_hook_warning(plugin_name: str, hook_name: str) -> threading.Timer:
    """A started timer that names the plugin if its hook is still running after SLOW_HOOK_SECONDS.

    A thread blocked in a plugin cannot be stopped safely, so there is no timeout; but the user waiting on a
    silent ``synco detect`` learns which plugin holds it up and how to leave that plugin out.
    """
    seconds = SLOW_HOOK_SECONDS
    timer = threading.Timer(seconds, log.warning, args=(
        "plugin %s is still in %s after %s s (%s=%s leaves it out)", plugin_name, hook_name, f"{seconds:g}",
        DISABLE_PLUGINS_ENV, plugin_name))
    timer.daemon = True
    timer.start()
    return timer


def failure_reason(exc: BaseException) -> str:
    """A plugin's exception as one line, passwords masked: a plugin's message may quote its own database's URL
    or connection string (``password=...``), whose password synco never saw to register."""
    if isinstance(exc, PLUGIN_EXITS):
        exc = PluginExit(exc)
    if isinstance(exc, PluginExit):
        return mask_passwords(one_line(message_of(exc)))
    return mask_passwords(error_line(exc))


def _raised_by(exc: BaseException, methods: list[pluggy.HookImpl]) -> str | None:
    """The plugin whose hook implementation ``exc`` came out of (the outermost one on its traceback)."""
    owners: dict[object, str] = {getattr(impl.function, "__code__", None): impl.plugin_name for impl in methods}
    tb = exc.__traceback__
    while tb is not None:
        name = owners.get(tb.tb_frame.f_code)
        if name is not None:
            return name
        tb = tb.tb_next
    return None


def _write_trace(text: str) -> None:
    hook_log.debug("%s", text.rstrip("\n"))


def _is_firstresult(caller: pluggy.HookCaller) -> bool:
    return bool(caller.spec is not None and caller.spec.opts.get("firstresult"))


def _distribution_version(distribution: str) -> str:
    try:
        return version(distribution)
    except Exception:
        return ""


def build_plugin_manager(*, load_entrypoints: bool = True, builtins: bool = True) -> SyncoPluginManager:
    """A fresh manager with the hook specs, the built-ins and (optionally) every entry point."""
    manager = SyncoPluginManager(_PluginManager(PROJECT))
    manager.pm.add_hookspecs(hookspecs)
    if builtins:
        for name, module_name in DEFAULT_PLUGINS:
            try:
                with plugin_code([name], "while loading", third_party=False):
                    module = importlib.import_module(module_name)
            except (Exception, *PLUGIN_EXITS) as exc:
                raise_if_out_of_memory(exc)
                manager.failures.append(PluginFailure(name, "synco", failure_reason(exc)))
                continue
            manager.register(module, name, distribution="synco", builtin=True)
    if load_entrypoints:
        chosen = _names_from_env(LOAD_PLUGINS_ENV)
        disabled = _names_from_env(DISABLE_PLUGINS_ENV) or set()
        found: set[str] = set()
        for ep in entry_points(group=PROJECT):
            dist = ep.dist.name if ep.dist is not None else ep.value.split(":")[0]
            if manager.pm.is_blocked(ep.name):
                continue
            names = {_normalise(ep.name), _normalise(dist)}
            found |= names
            if chosen is not None and not names & chosen:
                manager.skipped.append(SkippedPlugin(ep.name, dist, f"not named in {LOAD_PLUGINS_ENV}"))
                continue
            if names & disabled:
                manager.skipped.append(SkippedPlugin(ep.name, dist, f"named in {DISABLE_PLUGINS_ENV}"))
                continue
            # Names are told apart as SYNCO_DISABLE_PLUGINS and --framework tell them: "MySQL" or "default_files"
            # is a built-in's name, which the user could neither leave out nor tell from the built-in's warnings.
            taken = next((name for name, _ in manager.pm.list_name_plugin() if _normalise(name) == _normalise(ep.name)),
                         None)
            if taken is not None:
                # Another distribution already answers to this name; say so instead of dropping it silently.
                taken_by = manager.infos[taken].distribution if taken in manager.infos else "another plugin"
                if taken_by != dist or taken != ep.name:
                    spelt = "" if taken == ep.name else f" (as {taken!r})"
                    manager.failures.append(
                        PluginFailure(ep.name, dist, f"plugin name {ep.name!r} is already used by {taken_by}{spelt}")
                    )
                continue
            try:
                with plugin_code([ep.name], "while loading"):
                    plugin = ep.load()
            except (Exception, *PLUGIN_EXITS) as exc:
                raise_if_out_of_memory(exc)
                manager.failures.append(PluginFailure(ep.name, dist, failure_reason(exc)))
                continue
            manager.register(plugin, ep.name, distribution=dist)
        # A name that matches nothing is most likely a typo: say so, as for a plugin that failed to load. Left
        # unsaid in SYNCO_DISABLE_PLUGINS, the plugin the user meant to leave out would run all the same.
        builtin = {_normalise(name) for name, _ in DEFAULT_PLUGINS} | {PROJECT}
        for name in sorted((chosen or set()) - found - builtin):
            manager.failures.append(PluginFailure(name, name, f"named in {LOAD_PLUGINS_ENV} but not installed"))
        for name in sorted(disabled - found):
            reason = (f"named in {DISABLE_PLUGINS_ENV}, but built-in plugins are always loaded" if name in builtin
                      else f"named in {DISABLE_PLUGINS_ENV} but not installed")
            manager.failures.append(PluginFailure(name, name, reason))
    if hook_log.isEnabledFor(logging.DEBUG):
        manager.trace_hooks()
    return manager


def _normalise(name: str) -> str:
    """A plugin or distribution name as compared: case and the ``-``/``_``/``.`` spelling do not matter."""
    return re.sub(r"[-_.]+", "-", name.strip()).lower()


def _names_from_env(variable: str) -> set[str] | None:
    """The comma-separated names in ``variable``, normalised; None when it is not set at all."""
    value = os.environ.get(variable)
    if value is None:
        return None
    return {_normalise(name) for name in value.split(",") if name.strip()}


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
    if hook_log.isEnabledFor(logging.DEBUG):
        # --debug may come after the manager was built (it is an option of every subcommand).
        _manager.trace_hooks()
    return _manager


def set_plugin_manager(manager: SyncoPluginManager | None) -> None:
    """Replace the process-wide manager (tests; None rebuilds it on next use)."""
    global _manager
    _manager = manager
