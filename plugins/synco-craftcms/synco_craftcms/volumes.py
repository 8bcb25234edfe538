"""Craft's asset volumes, read from the project config (``config/project/``), and the folders they keep.

Craft 3.5+ keeps one YAML file per volume in ``config/project/volumes/`` with the file system's settings in
the volume (``type: craft\\volumes\\Local``, ``settings.path``); Craft 4 and 5 split them: the volume names
a file system by handle (``fs: images``) whose ``config/project/fs/<handle>.yaml`` holds ``settings.path``;
Craft 5 adds a volume ``subpath``. Craft 3.1-3.4 keep everything in one ``config/project.yaml``. A path is
an alias (``@webroot/uploads``), an environment variable (``$UPLOADS_PATH``), absolute, or relative to the
web root (where Craft's ``index.php`` runs when a file is uploaded).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from synco_core import ConfigError, read_config_text
from synco_craftcms.environment import parse_env

log = logging.getLogger(__name__)

#: The local file system classes of Craft 3 (volumes) and Craft 4/5 (file systems).
LOCAL_TYPES = {"craft\\volumes\\local", "craft\\fs\\local"}


@dataclass(frozen=True)
class Volume:
    """One asset volume: where its files are on this machine (None when not on a local file system)."""

    handle: str
    name: str
    root: Path | None
    has_urls: bool
    #: Why the volume has no local root (its file system's type, an alias synco cannot resolve).
    problem: str = ""


def _load_yaml(path: Path) -> Any:
    try:
        text = read_config_text(path, kind="Craft project config file")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or type(exc).__name__}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{where} is not valid YAML") from None


def _folder_items(folder: Path) -> dict[str, dict[str, Any]]:
    """``<handle>--<uid>.yaml`` (or ``<handle>.yaml``) files of a project-config folder, by handle."""
    items: dict[str, dict[str, Any]] = {}
    if not folder.is_dir():
        return items
    for path in sorted(folder.glob("*.yaml")):
        data = _load_yaml(path)
        if isinstance(data, dict):
            handle = str(data.get("handle") or path.stem.split("--", 1)[0])
            items[handle] = data
    return items


def project_items(project_dir: Path, key: str) -> dict[str, dict[str, Any]]:
    """The ``key`` section of ``config/project/<key>/`` and of the single-file project configs."""
    items: dict[str, dict[str, Any]] = {}
    for single in (project_dir / "config/project.yaml", project_dir / "config/project/project.yaml"):
        data = _load_yaml(single) if single.exists() else None
        section = data.get(key) if isinstance(data, dict) else None
        if isinstance(section, dict):
            for uid, item in section.items():
                if isinstance(item, dict):
                    items[str(item.get("handle") or uid)] = item
    items.update(_folder_items(project_dir / "config/project" / key))
    return items


def transform_handles(project_dir: Path) -> list[str]:
    """The named image transforms (``imageTransforms``), whose files Craft writes to ``_<handle>/`` folders."""
    return sorted(project_items(project_dir, "imageTransforms"))


class PathResolver:
    """Craft's aliases and ``$VARIABLES`` in a file system path, turned into a folder on this machine."""

    def __init__(self, project_dir: Path, web_root: Path, environ: Mapping[str, str],
                 aliases: Mapping[str, str]) -> None:
        self.environ = environ
        self.web_root = web_root
        self.aliases = {"@root": str(project_dir), "@webroot": str(web_root), "@storage": str(project_dir / "storage"),
                        "@config": str(project_dir / "config"), "@templates": str(project_dir / "templates"),
                        **{name.lower(): value for name, value in aliases.items()}}

    def resolve(self, value: str, depth: int = 0) -> Path | str:
        """The folder ``value`` names, or a string saying why it cannot be known."""
        value = parse_env(self.environ, value.strip())
        if value.startswith("$"):
            return f"{value} is not set"
        if value.startswith("@"):
            alias, _, rest = value.partition("/")
            target = self.aliases.get(alias.lower())
            if target is None:
                return f"the alias {alias} is not known without PHP"
            if depth > 8:
                return f"the alias {alias} refers to itself"
            resolved = self.resolve(target, depth + 1)
            if isinstance(resolved, str):
                return resolved
            return resolved / rest if rest else resolved
        path = Path(value)
        return path if path.is_absolute() else self.web_root / path


def read_volumes(project_dir: Path, resolver: PathResolver) -> list[Volume]:
    """Every volume of the project config, in handle order."""
    file_systems = project_items(project_dir, "fs")
    volumes = []
    for handle, item in sorted(project_items(project_dir, "volumes").items()):
        fs_handle = item.get("fs")
        source: Mapping[str, Any] = item
        if isinstance(fs_handle, str):
            source = file_systems.get(parse_env(resolver.environ, fs_handle), {})
            if not source:
                volumes.append(Volume(handle, str(item.get("name") or handle), None, False,
                                      f"its file system {fs_handle!r} is not in config/project/fs/"))
                continue
        kind = str(source.get("type") or "")
        has_urls = bool(source.get("hasUrls"))
        name = str(item.get("name") or handle)
        if kind.lstrip("\\").lower() not in LOCAL_TYPES:
            problem = f"its file system is {kind or 'of no type'}, not local"
            volumes.append(Volume(handle, name, None, has_urls, problem))
            continue
        settings = source.get("settings")
        path = settings.get("path") if isinstance(settings, dict) else None
        if not isinstance(path, str) or not path.strip():
            volumes.append(Volume(handle, name, None, has_urls, "its file system has no path"))
            continue
        root = resolver.resolve(path)
        if isinstance(root, str):
            volumes.append(Volume(handle, name, None, has_urls, f"its path {path!r} cannot be resolved: {root}"))
            continue
        subpath = item.get("subpath")
        if isinstance(subpath, str) and subpath.strip("/"):
            root = root / subpath.strip("/")
        volumes.append(Volume(handle, name, root, has_urls))
    return volumes
