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
    return sets


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
    "discard_kept_database": bool,
    "install_files": FilesInstallResult,
}
