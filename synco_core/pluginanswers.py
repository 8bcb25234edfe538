"""What a plugin's answer to a collecting hook must be, checked before the core uses any of it.

A plugin built against another synco (a value type of another version), or one with a plain bug (a string
where a list is expected, a generator that fails half-way), must be refused in one line naming it and the
hook, not crash the command far from the plugin with an AttributeError.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from synco_core.errors import UnsafePathError
from synco_core.fsutil import safe_relative_path
from synco_core.values import (
    DatabaseConfig,
    DatabaseInventory,
    DatabaseReader,
    DumpOptions,
    DumpResult,
    FileSet,
    FilesInstallResult,
    Framework,
    InstallResult,
    SanitizeRule,
)


class WrongAnswer(Exception):
    """A plugin answered a hook with something of the wrong type (the message says what it was)."""


def kind(value: object) -> str:
    return f"a {type(value).__module__}.{type(value).__qualname__}" if type(value).__module__ != "builtins" \
        else f"a {type(value).__name__}"


#: The Framework fields the core reads, with what they must hold (None allowed where the type says so).
_FRAMEWORK_FIELDS: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "plugin": (str,),
    "project_dir": (Path,),
    "database": (DatabaseConfig, type(None)),
    "web_root": (Path, type(None)),
    "public_prefixes": (tuple, list),
    "reason": (str,),
    "dump_options": (DumpOptions,),
    "post_install": (list, tuple),
    "post_install_env": (dict,),
    "priority": (int,),
    "settings": (dict,),
    "config_source": (str,),
    "base_url": (str, type(None)),
    "base_url_source": (str,),
    "site_url": (str, type(None)),
    "databases": (dict,),
}


def framework_problem(framework: Framework) -> str | None:
    """The first field of ``framework`` holding something of the wrong type, as ``NAME is a TYPE``; None if none."""
    for name, allowed in _FRAMEWORK_FIELDS.items():
        value = getattr(framework, name, None)
        if not isinstance(value, allowed) or (name == "priority" and isinstance(value, bool)):
            return f"{name} is {kind(value)}"
    # The core resolves these against no directory of its own: a relative one would name a folder below
    # wherever synco was started (serve would publish the session there).
    for name in ("project_dir", "web_root"):
        value = getattr(framework, name)
        if value is not None and not value.is_absolute():
            return f"{name} is a relative path ({str(value)!r})"
    problem = _strings_in("public_prefixes", framework.public_prefixes)
    if problem is not None:
        return problem
    for index, argv in enumerate(framework.post_install):
        # A command line as one string would be started as a program of that whole name.
        if isinstance(argv, str) or not isinstance(argv, (list, tuple)) or not argv:
            return f"post_install[{index}] is {kind(argv) if argv else 'empty'}, not an argv list"
        problem = _strings_in(f"post_install[{index}]", argv)
        if problem is not None:
            return problem
    for variable, value in framework.post_install_env.items():
        if not isinstance(variable, str) or not isinstance(value, str):
            return f"post_install_env[{variable!r}] is {kind(value)}, not text"
    if framework.database is not None:
        problem = database_problem(framework.database)
        if problem is not None:
            return f"database.{problem}"
    for set_name, database in framework.databases.items():
        if not isinstance(set_name, str) or not isinstance(database, DatabaseConfig):
            return f"databases[{set_name!r}] is {kind(database)}"
        problem = database_problem(database)
        if problem is not None:
            return f"databases[{set_name!r}].{problem}"
    problem = dump_options_problem(framework.dump_options)
    return None if problem is None else f"dump_options.{problem}"


def database_problem(database: DatabaseConfig) -> str | None:
    """The first field of ``database`` holding the wrong type, as ``NAME is a TYPE``; None if none.

    A configuration file gives every value as text: a port of ``"3306"`` reached the MySQL driver, whose
    "ValueError: port should be of type int" named neither the plugin nor the setting.
    """
    if not isinstance(database.engine, str) or not database.engine:
        return f"engine is {kind(database.engine) if database.engine else 'empty'}"
    if not isinstance(database.name, str):
        return f"name is {kind(database.name)}"
    if database.port is not None and (not isinstance(database.port, int) or isinstance(database.port, bool)):
        return f"port is {kind(database.port)}, not an int"
    for name in ("host", "user", "password", "socket"):
        value = getattr(database, name)
        if value is not None and not isinstance(value, str):
            # The value itself is never shown: it may be the password.
            return f"{name} is {kind(value)}"
    problem = _mapping_of_strings("options", database.options)
    if problem is not None:
        return problem
    if not isinstance(database.source, str):
        return f"source is {kind(database.source)}"
    return None


def _strings_in(name: str, values: object) -> str | None:
    """``NAME is a TYPE`` unless ``values`` is a list or tuple of strings (a lone string is iterable too, and
    would be taken character by character)."""
    if not isinstance(values, (list, tuple)):
        return f"{name} is {kind(values)}"
    wrong = next((value for value in values if not isinstance(value, str)), None)
    return None if wrong is None else f"{name} holds {kind(wrong)}"


def _mapping_of_strings(name: str, values: object) -> str | None:
    if not isinstance(values, Mapping):
        return f"{name} is {kind(values)}"
    wrong = next(((key, value) for key, value in values.items()
                  if not isinstance(key, str) or not isinstance(value, str)), None)
    return None if wrong is None else f"{name}[{wrong[0]!r}] is {kind(wrong[1])}"


def dump_options_problem(options: DumpOptions) -> str | None:
    """The first field of ``options`` holding the wrong type, as ``NAME is a TYPE``; None if none.

    These are a sanitising profile: ``exclude_tables="sessions"`` would be read as the tables ``s``, ``e`` ...,
    which no database has, so the core dropped them all and the sessions' rows were dumped.
    """
    for name in ("exclude_tables", "smart_exclude_tables", "keep"):
        problem = _strings_in(name, getattr(options, name))
        if problem is not None:
            return problem
    for name in ("where", "smart_where"):
        problem = _mapping_of_strings(name, getattr(options, name))
        if problem is not None:
            return problem
    if not isinstance(options.keep_newest, Mapping):
        return f"keep_newest is {kind(options.keep_newest)}"
    for table, spec in options.keep_newest.items():
        if not (isinstance(table, str) and isinstance(spec, (tuple, list)) and len(spec) == 2
                and isinstance(spec[0], str) and isinstance(spec[1], int) and not isinstance(spec[1], bool)):
            return f"keep_newest[{table!r}] is {kind(spec)}, not a (column, count) pair"
    if not isinstance(options.sanitize, (list, tuple)):
        return f"sanitize is {kind(options.sanitize)}, not a tuple of SanitizeRule"
    for rule in options.sanitize:
        if not isinstance(rule, SanitizeRule):
            return f"sanitize holds {kind(rule)}, not only SanitizeRule"
        for name in ("table", "column", "expression", "label"):
            if not isinstance(getattr(rule, name), str):
                return f"sanitize rule {name} is {kind(getattr(rule, name))}"
        if rule.transform is not None and not isinstance(rule.transform, str):
            return f"sanitize rule transform is {kind(rule.transform)}"
    for name in ("routines", "events", "owners", "skip_unsupported", "secrets", "strict"):
        if not isinstance(getattr(options, name), bool):
            return f"{name} is {kind(getattr(options, name))}"
    if options.format not in ("native", "sql"):
        return f"format is {options.format!r}, not 'native' or 'sql'"
    if not isinstance(options.extra, dict):
        return f"extra is {kind(options.extra)}"
    return None


def one_framework(answer: object) -> Framework:
    if not isinstance(answer, Framework):
        raise WrongAnswer(f"{kind(answer)}, not a Framework")
    problem = framework_problem(answer)
    if problem is not None:
        raise WrongAnswer(f"a Framework whose {problem}")
    return answer


#: The most file sets one plugin may answer ``list_file_sets`` with. Frameworks have a handful; a generator that
#: never ends (or a loop gone wrong) would otherwise be read until the memory runs out.
MAX_FILE_SETS = 10_000


def file_sets(answer: object) -> list[FileSet]:
    # A str, bytes or mapping is iterable but never a list of sets; a lone FileSet is a forgotten [...].
    if isinstance(answer, (str, bytes, Mapping, FileSet)) or not isinstance(answer, Iterable):
        raise WrongAnswer(f"{kind(answer)}, not a list of FileSet")
    # Read a generator to its end here, where its failure is still this plugin's.
    sets = list(itertools.islice(answer, MAX_FILE_SETS + 1))
    if len(sets) > MAX_FILE_SETS:
        raise WrongAnswer(f"more than {MAX_FILE_SETS:,} file sets")
    wrong = [item for item in sets if not isinstance(item, FileSet)]
    if wrong:
        raise WrongAnswer(f"a list holding {kind(wrong[0])}, not only FileSet")
    for file_set in sets:
        problem = file_set_problem(file_set)
        if problem is not None:
            name = file_set.name if isinstance(file_set.name, str) else "?"
            raise WrongAnswer(f"a FileSet {name!r} whose {problem}")
    return sets


def file_set_problem(file_set: FileSet) -> str | None:
    """The first field of ``file_set`` holding the wrong type, as ``NAME is a TYPE``; None if none.

    Read far from the plugin, they failed there or did the wrong thing without a word: ``exclude="*.log"`` is
    the patterns ``*``, ``.``, ``l`` ..., and ``*`` excludes every file, so the set was published empty.
    """
    if not isinstance(file_set.name, str) or not file_set.name:
        return f"name is {kind(file_set.name) if file_set.name else 'empty'}"
    if file_set.kind not in ("public", "private"):
        return f"kind is {file_set.kind!r}, not 'public' or 'private'"
    if file_set.root is not None:
        if not isinstance(file_set.root, Path):
            return f"root is {kind(file_set.root)}, not a Path"
        if not file_set.root.is_absolute():
            return f"root is a relative path ({str(file_set.root)!r})"
    for name in ("relative_base_path", "url_prefix", "description"):
        if not isinstance(getattr(file_set, name), str):
            return f"{name} is {kind(getattr(file_set, name))}"
    if file_set.relative_base_path:
        try:
            safe_relative_path(file_set.relative_base_path)
        except UnsafePathError as exc:
            return f"relative_base_path is unsafe: {exc}"
    for name in ("exclude", "regenerated"):
        problem = _strings_in(name, getattr(file_set, name))
        if problem is not None:
            return problem
    if file_set.entries is not None and not callable(file_set.entries):
        return f"entries is {kind(file_set.entries)}, not a function returning PublicFile entries"
    for name in ("dotfiles", "smart_skip"):
        if not isinstance(getattr(file_set, name), bool):
            return f"{name} is {kind(getattr(file_set, name))}"
    if file_set.skipped_reason is not None and not isinstance(file_set.skipped_reason, str):
        return f"skipped_reason is {kind(file_set.skipped_reason)}"
    return None


#: The check of each collecting hook's answers; hooks not named here are checked where they are used.
CHECKS: dict[str, Callable[[object], Any]] = {
    "detect_framework": one_framework,
    "list_file_sets": file_sets,
}


#: What each firstresult hook must answer when it answers at all (None passes the call on).
FIRSTRESULT_TYPES: dict[str, type] = {
    "dump_database": DumpResult,
    "install_database": InstallResult,
    "rollback_database": InstallResult,
    "inspect_database": DatabaseInventory,
    "connect_database": DatabaseReader,
    "check_install_target": bool,
    "check_dump_requirements": list,
    "discard_kept_database": bool,
    "install_files": FilesInstallResult,
}
