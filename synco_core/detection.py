"""Choosing the framework of a project directory from the answers of every plugin."""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Iterator
from pathlib import Path

from synco_core import leftout
from synco_core.ddev import host_database
from synco_core.errors import ConfigError, SyncoError
from synco_core.hookspecs import Side
from synco_core.names import receiver_refusal
from synco_core.pluginanswers import framework_problem, kind
from synco_core.plugins import PLUGIN_EXITS, PluginError, SyncoPluginManager, failure_reason, get_plugin_manager
from synco_core.values import FileSet, FileSetOptions, Framework, PublicFile

log = logging.getLogger(__name__)

#: Framework.priority: -1 a fallback (DATABASE_URL in the environment), 0 a framework's guess, 1 explicit
#: configuration (a .synco.yml naming a database).
MIN_PRIORITY, MAX_PRIORITY = -1, 1


#: Plugins already warned that their Framework.plugin is not their entry-point name (once per process).
_MISNAMED: set[tuple[str, str]] = set()


def detect_candidates(project_dir: Path, manager: SyncoPluginManager | None = None,
                      side: Side = "source") -> list[Framework]:
    """Every framework some plugin recognises in ``project_dir``, best first (``side``: see
    :func:`synco_core.hookspecs.detect_framework`)."""
    return [framework for _, framework in _answers(project_dir, manager, side)]


def _answers(project_dir: Path, manager: SyncoPluginManager | None, side: Side) -> list[tuple[str, Framework]]:
    """(the answering plugin's registered name, its framework), best first."""
    manager = manager or get_plugin_manager()
    project_dir = project_dir.resolve()
    if not project_dir.is_dir():
        raise ConfigError(f"project directory does not exist: {project_dir}")
    found = []
    for plugin, framework in manager.call_each("detect_framework", project_dir=project_dir, side=side):
        if not MIN_PRIORITY <= framework.priority <= MAX_PRIORITY:
            # A plugin must not outrank explicit configuration (or sink below the fallbacks) by a big number:
            # at the end of the scale it ties with it, and the tie error names both.
            counted = min(max(framework.priority, MIN_PRIORITY), MAX_PRIORITY)
            log.warning("plugin %s answered detect_framework with priority %s; counted as %d (the scale is %d to %d)",
                        plugin, framework.priority, counted, MIN_PRIORITY, MAX_PRIORITY)
            framework.priority = counted
        if framework.plugin != plugin and (plugin, framework.plugin) not in _MISNAMED:
            # The entry-point name is the one `synco plugins` shows and users type; Framework.plugin stays as the
            # plugin wrote it, since its own hooks compare against it.
            _MISNAMED.add((plugin, framework.plugin))
            log.warning("plugin %s answered detect_framework with Framework.plugin=%r; it should be its entry-point "
                        "name %r (--framework accepts both)", plugin, framework.plugin, plugin)
        found.append((plugin, framework))
    return sorted(found, key=lambda answer: -answer[1].priority)


def _framework_plugins(manager: SyncoPluginManager) -> list[str]:
    """The names of the plugins that answer ``detect_framework``, sorted."""
    return sorted(name for name, info in manager.infos.items() if "detect_framework" in info.hooks)


def detect(
    project_dir: Path, framework_name: str | None = None, manager: SyncoPluginManager | None = None,
    side: Side = "source",
) -> Framework:
    """The one framework of ``project_dir``, amended by every plugin.

    ``side`` is ``"destination"`` where received content is installed into the project (the plugins may
    then read another environment's settings, see :func:`synco_core.hookspecs.detect_framework`).
    Raises :class:`ConfigError` naming the candidates when none or several match equally well.
    """
    manager = manager or get_plugin_manager()
    answers = _answers(project_dir, manager, side)
    candidates = [framework for _, framework in answers]
    if framework_name:
        wanted = framework_name.lower()
        chosen = [f for plugin, f in answers if wanted in (plugin.lower(), f.plugin.lower(), f.name.lower())]
        if not chosen:
            names = ", ".join(f"{plugin} ({f.reason})" for plugin, f in answers) or "none"
            installed = _framework_plugins(manager)
            if wanted not in (name.lower() for name in installed):
                # A misspelt or uninstalled name is not the project's fault: say which names exist.
                raise ConfigError(f"no installed plugin detects a framework named {framework_name!r} "
                                  f"(framework plugins: {', '.join(installed) or 'none installed'}); "
                                  f"detected in {project_dir.resolve()}: {names}")
            raise ConfigError(f"framework {framework_name!r} not detected in {project_dir.resolve()}; found: {names}")
        framework = chosen[0]
    else:
        if not candidates:
            # Only the plugins that recognise frameworks were asked; the database engines were not.
            plugins = ", ".join(_framework_plugins(manager)) or "none installed"
            raise ConfigError(
                f"no framework detected in {project_dir.resolve()} (framework plugins asked: {plugins}); "
                "add a .synco.yml (synco-generic) or pass --framework"
            )
        best = [f for f in candidates if f.priority == candidates[0].priority]
        if len(best) > 1:
            names = "; ".join(f"{plugin}: {f.reason}" for plugin, f in answers[:len(best)])
            raise ConfigError(f"several frameworks match ({names}); choose one with --framework NAME")
        framework = best[0]
        for other in candidates[len(best):]:
            if framework.priority > other.priority >= 0:
                # A framework's guess outranked by explicit configuration (a .synco.yml naming the database):
                # that framework's sanitising rules are not applied, which nobody should learn from the dump.
                log.warning("%s also matches (%s) but %s was chosen (%s): %s's sanitising rules and settings "
                            "are not applied; --framework %s applies them, with this database", other.name,
                            other.reason, framework.name, framework.reason, other.name, other.plugin)
            else:
                log.debug("also matched, with a lower priority: %s (%s)", other.plugin, other.reason)
    log.debug("framework %s detected by %s (%s), settings from %s", framework.name, framework.plugin,
              framework.reason, framework.config_source or "files")
    def amended(plugin: str) -> None:
        # Checked after each plugin (also one that raised half-way): the core reads these fields next, and an
        # AttributeError there would name neither the plugin nor the hook.
        problem = framework_problem(framework)
        if problem is not None:
            raise PluginError(f"plugin {plugin} left Framework.{problem.replace(' is ', ' holding ', 1)} "
                              "after amend_framework")

    for _ in manager.call_each("amend_framework", framework=framework, after_each=amended):
        pass
    if side == "destination":
        ddev = host_database(framework.project_dir, framework.database, os.environ)
        if ddev is not None:
            log.info("installing into DDEV's database from the host: %s", ddev.url(mask_password=True))
            framework.database = ddev
    return framework


def list_file_sets(
    framework: Framework, options: FileSetOptions, manager: SyncoPluginManager | None = None
) -> list[FileSet]:
    """The file sets of ``framework`` from every plugin; a later set with the same name replaces one."""
    manager = manager or get_plugin_manager()
    by_name: dict[str, FileSet] = {}
    for plugin, sets in manager.call_each("list_file_sets", framework=framework, options=options):
        for file_set in sets:
            by_name[file_set.name] = guarded_entries(plugin, file_set)
    result = list(by_name.values())
    if options.only:
        unknown = set(options.only) - set(by_name)
        if unknown:
            raise ConfigError(
                f"unknown file set(s): {', '.join(sorted(unknown))}; available: {', '.join(by_name) or 'none'}"
            )
        result = [s for s in result if s.name in options.only]
    return result


def guarded_entries(plugin: str, file_set: FileSet) -> FileSet:
    """``file_set`` with its ``entries`` (plugin code the core runs long after the hook returned) failing in the
    plugin's name.

    Without it a generator that raised half-way stopped ``serve`` with ``Error: KeyError: 'x'``, naming no
    plugin, one yielding something else than a :class:`PublicFile` with an ``AttributeError``, and one calling
    ``sys.exit(0)`` ended ``serve`` with status 0 after publishing nothing. Only exceptions are caught here, at
    the cost of a ``try`` per entry: a set may list millions.
    """
    entries = file_set.entries
    if entries is None:
        return file_set
    where = f"plugin {plugin} failed in the entries of file set {file_set.name!r}"

    def guarded() -> Iterator[PublicFile]:
        try:
            iterator = iter(entries())
        except SyncoError:
            raise
        except (Exception, *PLUGIN_EXITS) as exc:
            raise PluginError(f"{where}: {failure_reason(exc)}") from exc
        while True:
            try:
                entry = next(iterator)
            except StopIteration:
                return
            except SyncoError:
                raise
            except (Exception, *PLUGIN_EXITS) as exc:
                raise PluginError(f"{where}: {failure_reason(exc)}") from exc
            if not isinstance(entry, PublicFile):
                raise PluginError(f"{where}: it yielded {kind(entry)}, not a PublicFile")
            refusal = receiver_refusal(entry.path) if isinstance(entry.path, str) else "not a string"
            if refusal is not None:
                # Said here, where the plugin is known: the entry is left out (counted in leftOutCount), and
                # left to the set's filters a "../" path went as a dotfile, without a word.
                leftout.skipped(log, "plugin %s listed %r in file set %r, which receivers refuse (%s): left out",
                                plugin, entry.path, file_set.name, refusal)
                continue
            yield entry

    return dataclasses.replace(file_set, entries=guarded)
