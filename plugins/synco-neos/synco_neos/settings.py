"""Reading Flow settings, with ``./flow`` when PHP is there and from the YAML files when it is not.

Flow is the source of truth: ``./flow configuration:show --type Settings --path <path>`` prints a title
line and then the settings below ``<path>`` as YAML, with every ``%env:NAME%`` and ``%FLOW_PATH_*%``
placeholder already resolved and every package's settings merged in. Without PHP this module merges the
project's own files the way Flow's ConfigurationManager does for the global configuration:

1. ``Configuration/Settings.yaml``, then ``Configuration/Settings.*.yaml`` in sorted order;
2. the same for ``Configuration/<Context>/``, then ``Configuration/<Context>/<SubContext>/`` and so on
   (``FLOW_CONTEXT=Production/Live`` reads ``Production`` then ``Production/Live``);

on top of the defaults Flow's own packages ship for the settings synco needs. At each level the project's
own packages (``Packages/Application``, ``Packages/Plugins``, ``Packages/Sites``: a site package's
``Configuration/Production/Settings.yaml``) are read before ``Configuration/``, as Flow reads them; the
framework's and libraries' packages are not read (their defaults are :data:`FLOW_DEFAULTS`).
"""

from __future__ import annotations

import copy
import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from synco_core import ConfigError, find_php, read_config_text, run_command

log = logging.getLogger(__name__)

#: Flow's root contexts; a FLOW_CONTEXT must start with one of them.
ROOT_CONTEXTS = ("Development", "Production", "Testing")

_WRITABLE_STORAGE = "Neos\\Flow\\ResourceManagement\\Storage\\WritableFileSystemStorage"
_SYMLINK_TARGET = "Neos\\Flow\\ResourceManagement\\Target\\FileSystemSymlinkTarget"

#: The defaults Neos.Flow (and Neos.Neos) ship for the settings synco reads, used in file mode only.
FLOW_DEFAULTS: dict[str, Any] = {
    "Neos": {
        "Flow": {
            "persistence": {
                "backendOptions": {
                    "driver": "pdo_mysql",
                    "host": "127.0.0.1",
                    "dbname": None,
                    "user": None,
                    "password": None,
                    "charset": "utf8mb4",
                }
            },
            "resource": {
                "storages": {
                    "defaultPersistentResourcesStorage": {
                        "storage": _WRITABLE_STORAGE,
                        "storageOptions": {"path": "%FLOW_PATH_DATA%Persistent/Resources/"},
                    }
                },
                "collections": {
                    "persistent": {
                        "storage": "defaultPersistentResourcesStorage",
                        "target": "localWebDirectoryPersistentResourcesTarget",
                    }
                },
                "targets": {
                    "localWebDirectoryPersistentResourcesTarget": {
                        "target": _SYMLINK_TARGET,
                        "targetOptions": {
                            "path": "%FLOW_PATH_WEB%_Resources/Persistent/",
                            "baseUri": "_Resources/Persistent/",
                            "subdivideHashPathSegment": True,
                        },
                    }
                },
            },
        }
    }
}

# Flow replaces %CONSTANT%, %Class::CONSTANT% and %env:NAME% in settings; synco knows the path constants.
_PLACEHOLDER = re.compile(r"%(?:env:(?P<env>[A-Za-z_][A-Za-z0-9_]*)|(?P<const>FLOW_[A-Z_]+))%")


def flow_context(environ: Mapping[str, str] | None = None) -> str:
    """``FLOW_CONTEXT`` from the environment (Flow's default is ``Development``), validated."""
    env = os.environ if environ is None else environ
    context = env.get("FLOW_CONTEXT", "").strip().strip("/") or "Development"
    if context.split("/", 1)[0] not in ROOT_CONTEXTS:
        raise ConfigError(f"FLOW_CONTEXT={context!r}: the root context must be one of {', '.join(ROOT_CONTEXTS)}")
    return context


def context_chain(context: str) -> list[str]:
    """``Production/Live/Blue`` -> ``["Production", "Production/Live", "Production/Live/Blue"]``."""
    parts = context.split("/")
    return ["/".join(parts[: index + 1]) for index in range(len(parts))]


def merge_overrule(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Flow's ``Arrays::arrayMergeRecursiveOverrule``: maps merge key by key, anything else replaces."""
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            merge_overrule(base[key], value)
        else:
            base[key] = copy.deepcopy(value) if isinstance(value, (dict, list)) else value
    return base


def _load_yaml(path: Path) -> dict[str, Any]:
    try:
        # Bounded and never waiting on a pipe: a Settings.yaml linked to /dev/zero is a one-line error.
        data = yaml.safe_load(read_config_text(path, kind="YAML configuration file"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}:{where} is not valid YAML") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.__class__.__name__}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


#: The package groups whose settings the file mode reads: the project's own packages (a site package, an
#: application package, a plugin), where a project keeps settings of its own. The framework's and libraries'
#: packages are stood in for by :data:`FLOW_DEFAULTS`.
PROJECT_PACKAGE_GROUPS = ("Application", "Plugins", "Sites")


def project_packages(project_dir: Path) -> list[Path]:
    """The project's own packages (:data:`PROJECT_PACKAGE_GROUPS`), in the order the file mode merges them:
    by group (a site package usually depends on the others, so Flow loads it after them), then by name."""
    packages: list[Path] = []
    for group in PROJECT_PACKAGE_GROUPS:
        folder = project_dir / "Packages" / group
        if folder.is_dir():
            packages += sorted(p for p in folder.iterdir() if (p / "Configuration").is_dir())
    return packages


def settings_files(project_dir: Path, context: str) -> list[Path]:
    """The settings files Flow reads for ``context``, in order: for the base level and then each context level
    (``Production``, ``Production/Live``), the project's packages' files first and ``Configuration/``'s over
    them, as Flow's settings loader merges them (a site package's ``Configuration/Production/Settings.yaml``
    overrides the project's ``Configuration/Settings.yaml``)."""
    bases = [*(package / "Configuration" for package in project_packages(project_dir)), project_dir / "Configuration"]
    folders = list(bases)
    folders += [base / name for name in context_chain(context) for base in bases]
    files: list[Path] = []
    for folder in folders:
        # Anything but a folder is read: a named pipe (a secrets manager's) is a settings file too, and a
        # device is refused with an error when read rather than silently left out.
        main = folder / "Settings.yaml"
        if main.exists() and not main.is_dir():
            files.append(main)
        # Flow sorts the split sources by full path name, after the main file.
        files.extend(sorted(p for p in folder.glob("Settings.*.yaml") if p.exists() and not p.is_dir()))
    return files


def resolve_placeholders(value: Any, project_dir: Path, environ: Mapping[str, str]) -> Any:
    """Resolve ``%env:NAME%`` and ``%FLOW_PATH_*%`` in every string of ``value``, as Flow does.

    A string that is exactly ``%env:NAME%`` becomes the variable's value, or None when it is unset (Flow
    gets ``false`` from ``getenv`` there); inside a longer string an unset variable becomes empty.
    """
    if isinstance(value, dict):
        return {key: resolve_placeholders(item, project_dir, environ) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve_placeholders(item, project_dir, environ) for item in value]
    if not isinstance(value, str) or "%" not in value:
        return value
    root = str(project_dir).rstrip("/") + "/"
    constants = {
        "FLOW_PATH_ROOT": root,
        "FLOW_PATH_WEB": root + "Web/",
        "FLOW_PATH_DATA": root + "Data/",
        "FLOW_PATH_CONFIGURATION": root + "Configuration/",
        "FLOW_PATH_PACKAGES": root + "Packages/",
        "FLOW_PATH_TEMPORARY_BASE": root + "Data/Temporary/",
    }
    whole = _PLACEHOLDER.fullmatch(value)
    if whole and whole.group("env"):
        return environ.get(whole.group("env"))

    def replace(match: re.Match[str]) -> str:
        if match.group("env"):
            return environ.get(match.group("env"), "")
        return constants.get(match.group("const"), match.group(0))

    return _PLACEHOLDER.sub(replace, value)


def get_path(settings: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted ``path`` (``Neos.Flow.resource``), or None."""
    node: Any = settings
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def read_settings_from_files(
    project_dir: Path, context: str, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Flow's defaults merged with the project's ``Configuration/`` files for ``context``, resolved."""
    env = os.environ if environ is None else environ
    merged = copy.deepcopy(FLOW_DEFAULTS)
    for path in settings_files(project_dir, context):
        log.debug("reading Flow settings from %s", path)
        merge_overrule(merged, _load_yaml(path))
    resolved: dict[str, Any] = resolve_placeholders(merged, project_dir, env)
    return resolved


def parse_configuration_show(output: str, command: str) -> Any:
    """The YAML part of ``./flow configuration:show`` output (title line first), or None when empty.

    Anything before the title (deprecation notices) is skipped; ANSI colours are removed in case the
    command believed it wrote to a terminal.
    """
    text = re.sub(r"\x1b\[[0-9;]*m", "", output)
    lines = text.splitlines()
    for index, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("Configuration "):
            if stripped.endswith("was empty!"):
                return None
            body = "\n".join(lines[index + 1 :])
            try:
                return yaml.safe_load(body)
            except yaml.YAMLError:
                raise ConfigError(f"{command} printed output that is not YAML") from None
    raise ConfigError(f"{command} printed no configuration (expected a 'Configuration \"...\":' title line)")


class FlowSettingsReader:
    """Reads settings paths of one Flow project, through ``./flow`` or from the files.

    ``source`` tells which way was used (``php`` or ``files``); with PHP missing, or ``./flow`` failing,
    the files are read instead and the reason is logged.
    """

    def __init__(
        self,
        project_dir: Path,
        *,
        environ: Mapping[str, str] | None = None,
        use_php: bool = True,
        timeout: float = 120.0,
    ) -> None:
        self.project_dir = project_dir
        self.environ = dict(os.environ if environ is None else environ)
        self.context = flow_context(self.environ)
        self.timeout = timeout
        self.php = find_php(self.environ) if use_php else None
        self.source = "php" if self.php else "files"
        self.fallback_reason = "" if self.php else "no PHP interpreter found ($PHP, php, php8.x, php7.4)"
        self._file_settings: dict[str, Any] | None = None

    def _from_files(self, path: str) -> Any:
        if self._file_settings is None:
            self._file_settings = read_settings_from_files(self.project_dir, self.context, self.environ)
        return get_path(self._file_settings, path)

    def get(self, path: str) -> Any:
        """The settings at ``path``; switches to file mode for good if ``./flow`` fails."""
        if self.php:
            argv = [self.php, "flow", "configuration:show", "--type", "Settings", "--path", path]
            display = f"./flow configuration:show --type Settings --path {path}"
            try:
                result = run_command(argv, cwd=self.project_dir, env=self.environ,
                                     extra_env={"FLOW_CONTEXT": self.context}, timeout=self.timeout)
                value = parse_configuration_show(result.stdout, display)
                log.debug("read %s with %s (FLOW_CONTEXT=%s)", path, display, self.context)
                return value
            except ConfigError as exc:
                # A broken ./flow (missing vendor folder, cache permissions) should not stop synco when the
                # files can tell the same; say so, since package settings are then not seen.
                log.warning("%s; reading Configuration/ files instead", exc)
                self.php = None
                self.source = "files"
                self.fallback_reason = str(exc)
        log.debug("read %s from Configuration/ files (FLOW_CONTEXT=%s): %s", path, self.context,
                  self.fallback_reason)
        return self._from_files(path)
