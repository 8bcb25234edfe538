"""The project's own ``config/database.php`` and ``config/filesystems.php``, read without PHP.

Without PHP the plugin starts from the skeleton's configuration for the project's Laravel version. A project
that changed those files (another default connection, a connection of its own, renamed variables, another
disk) would be read wrongly from the skeleton alone, so each file is evaluated with synco's PHP
configuration reader (no PHP runs): ``env()`` sees what Laravel's sees (the real environment, then ``.env``),
and the path helpers (``database_path()``, ``storage_path()`` ...) name the project's folders. What the file
gives wins; a value only PHP could compute (``extension_loaded('pdo_mysql') ? ... : []``) keeps the
skeleton's value for the same key, or is left out when the skeleton has none.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from synco_core import ConfigError, PhpUnknown, read_php_config

log = logging.getLogger(__name__)

#: Laravel's path helpers: each is the project folder joined with the helper's folder and its argument.
_PATH_HELPERS = {"base_path": "", "app_path": "app", "config_path": "config", "database_path": "database",
                 "lang_path": "lang", "public_path": "public", "resource_path": "resources",
                 "storage_path": "storage"}


def _path_helper(base: Path) -> Callable[..., Any]:
    def helper(relative: Any = "") -> Any:
        if not isinstance(relative, str):
            return PhpUnknown("a path helper's argument is not known")
        return str(base / relative) if relative else str(base)
    return helper


def path_helpers(project_dir: Path, public: Path | None = None) -> dict[str, Callable[..., Any]]:
    """Laravel's path helpers for the project; ``public_path()`` names ``public`` when the application moved
    its public folder (:mod:`synco_laravel.publicpath`)."""
    helpers = {name: _path_helper(project_dir / folder if folder else project_dir)
               for name, folder in _PATH_HELPERS.items()}
    if public is not None:
        helpers["public_path"] = _path_helper(public)
    return helpers


def _overlay(read: Any, skeleton: Any, where: str, notes: list[str]) -> Any:
    """``read`` with every unknown value replaced by the skeleton's at the same place (or left out)."""
    if isinstance(read, PhpUnknown):
        notes.append(f"{where}: not known without PHP ({read.reason}); the skeleton's value is used")
        return skeleton
    if isinstance(read, dict):
        base = skeleton if isinstance(skeleton, dict) else {}
        merged: dict[Any, Any] = {}
        for key, value in read.items():
            result = _overlay(value, base.get(key), f"{where}.{key}", notes)
            if result is not None or not isinstance(value, PhpUnknown):
                merged[key] = result
        return merged
    return read


def read_config_file(path: Path, skeleton: dict[str, Any], project_dir: Path, environ: Mapping[str, str],
                     notes: list[str], public: Path | None = None) -> dict[str, Any]:
    """The configuration ``path`` returns, over ``skeleton``; the skeleton alone when the file is missing or
    cannot be read without PHP (with a warning naming the file)."""
    if not path.exists() or path.is_dir():
        return skeleton
    functions = path_helpers(project_dir, public)
    try:
        php = read_php_config(path, environ=environ, functions=functions)
    except ConfigError as exc:
        log.warning("%s cannot be read without PHP (%s); using the skeleton's defaults", path.name, exc)
        notes.append(f"{path}: not read ({exc}); the skeleton's defaults are used")
        return skeleton
    if not isinstance(php.returned, dict):
        # Laravel would fail on such a file; an empty one is taken for the skeleton's without a word.
        if path.stat().st_size:
            log.warning("%s returns no array (read without PHP); using the skeleton's defaults", path)
        notes.append(f"{path}: returns no array without PHP; the skeleton's defaults are used")
        return skeleton
    merged = _overlay(php.returned, skeleton, f"{path.parent.name}/{path.stem}", notes)
    assert isinstance(merged, dict)
    return merged
