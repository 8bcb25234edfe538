"""Recognising a Craft CMS project: the ``craft`` console script beside a ``composer.json`` requiring
``craftcms/cms`` (or Craft's own ``config/project/`` folder), and the version Composer installed."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from synco_core import MAX_CONFIG_BYTES, MAX_LOCK_FILE_BYTES, ConfigError, read_config_text
from synco_craftcms.environment import parse_env
from synco_craftcms.volumes import project_items

PACKAGE = "craftcms/cms"


def _json(path: Path, kind: str, limit: int = MAX_CONFIG_BYTES) -> Any:
    try:
        text = read_config_text(path, kind=kind, limit=limit)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or type(exc).__name__}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} line {exc.lineno} is not valid JSON") from None


def craft_reason(project_dir: Path) -> str | None:
    """Why ``project_dir`` is a Craft project, or None when it is not one."""
    if not (project_dir / "craft").is_file():
        return None
    composer_file = project_dir / "composer.json"
    # exists(), not is_file(): a device or a pipe in its place is refused in one line, not taken for no file.
    composer = _json(composer_file, "Composer file") if composer_file.exists() else None
    requires = composer.get("require") if isinstance(composer, dict) else None
    if isinstance(requires, dict) and PACKAGE in requires:
        return f"craft and composer.json requiring {PACKAGE} found"
    if (project_dir / "config" / "project").is_dir() or (project_dir / "config" / "project.yaml").is_file():
        return "craft and config/project found"
    return None


def craft_version(project_dir: Path) -> str | None:
    """The ``craftcms/cms`` version ``composer.lock`` pins, when there is one."""
    path = project_dir / "composer.lock"
    # composer.lock lists every package with its metadata: several MiB in a large project.
    lock = _json(path, "Composer lock file", MAX_LOCK_FILE_BYTES) if path.exists() else None
    packages = lock.get("packages") if isinstance(lock, dict) else None
    for package in packages if isinstance(packages, list) else []:
        if isinstance(package, dict) and package.get("name") == PACKAGE and isinstance(package.get("version"), str):
            return str(package["version"]).lstrip("v")
    return None


def primary_site_url(project_dir: Path, environ: Mapping[str, str]) -> str | None:
    """The primary site's base URL from the project config (``$PRIMARY_SITE_URL`` resolved), if absolute."""
    for item in project_items(project_dir, "sites").values():
        url = item.get("baseUrl")
        if item.get("primary") and isinstance(url, str):
            resolved = parse_env(environ, url.strip())
            if resolved.startswith(("http://", "https://")):
                return resolved.rstrip("/") + "/"
    return None
