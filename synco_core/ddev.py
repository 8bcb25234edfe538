"""DDEV projects seen from the laptop itself, outside DDEV's containers.

DDEV writes the database settings a site reads inside its web container (WordPress's ``wp-config-ddev.php``,
Drupal's ``settings.ddev.php``) and includes them only when ``IS_DDEV_PROJECT`` is ``true``, which DDEV sets in
its containers. synco started on the laptop finds a project whose settings name no database, or the
container's host ``db``. DDEV publishes that database on the host (a port of 127.0.0.1), so an install from
the laptop goes there (:func:`host_database`); without a published port, the place to run synco is DDEV's web
container.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from synco_core.errors import ConfigError
from synco_core.frameworkutil.commands import run_command
from synco_core.values import DatabaseConfig

log = logging.getLogger(__name__)

#: The database's host name inside DDEV's containers (its compose service).
CONTAINER_HOST = "db"
#: DDEV's fixed credentials and database (``ddev describe``: db / db / db).
DDEV_CREDENTIALS = ("db", "db", "db")
#: The port the database listens on inside its container, by DDEV's ``database.type``.
INNER_PORTS = {"mariadb": 3306, "mysql": 3306, "postgres": 5432}
#: ``ddev describe`` asks the Docker daemon; a stopped daemon makes it wait.
DESCRIBE_TIMEOUT = 30.0

#: How many folders above the project synco looks for ``.ddev/`` (synco may start in the docroot, ``web/``).
MAX_LEVELS = 3


def ddev_config(project_dir: Path) -> Path | None:
    """The ``.ddev/config.yaml`` of the DDEV project ``project_dir`` belongs to, or None."""
    folder = project_dir.absolute()
    for _ in range(MAX_LEVELS + 1):
        candidate = folder / ".ddev" / "config.yaml"
        if candidate.is_file():
            return candidate
        if folder.parent == folder:
            break
        folder = folder.parent
    return None


def outside_ddev_hint(project_dir: Path, environ: Mapping[str, str]) -> str:
    """``: <why and what to do>`` for an error about a missing database, when ``project_dir`` is a DDEV project
    and synco runs outside its containers; else the empty string."""
    if environ.get("IS_DDEV_PROJECT") == "true":
        return ""
    config = ddev_config(project_dir)
    if config is None:
        return ""
    return (f": {config.parent.parent} is a DDEV project ({config.relative_to(config.parent.parent)}) and synco runs "
            "outside its containers, where DDEV's database settings are not loaded; run synco in the web container "
            "(`ddev exec synco ...`)")


def _engine(database_type: str) -> str:
    return "postgresql" if database_type == "postgres" else "mysql"


def _port(value: Any) -> int | None:
    text = str(value).strip() if value is not None else ""
    if re.fullmatch(r"\d{1,5}", text) and 0 < int(text) < 65536:
        return int(text)
    return None


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        log.debug("%s unreadable (%s)", path, exc)
        return None


def _database_type(config: Path) -> str:
    settings = _read_yaml(config)
    database = settings.get("database") if isinstance(settings, dict) else None
    kind = database.get("type") if isinstance(database, dict) else None
    return kind if isinstance(kind, str) and kind in INNER_PORTS else "mariadb"


def _described(root: Path, run: Callable[[Path], str | None]) -> tuple[str, int] | None:
    """(database type, published port) from ``ddev describe -j``: its last JSON line carries ``raw.dbinfo``
    (the lines before are log records, also JSON)."""
    output = run(root)
    for line in reversed((output or "").splitlines()):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        raw = record.get("raw") if isinstance(record, dict) else None
        info = raw.get("dbinfo") if isinstance(raw, dict) else None
        if isinstance(info, dict):
            port = _port(info.get("published_port"))
            kind = str(info.get("database_type") or "mariadb")
            return (kind, port) if port is not None and kind in INNER_PORTS else None
    return None


def _composed_port(root: Path, database_type: str) -> int | None:
    """The db service's published port in ``.ddev/.ddev-docker-compose-full.yaml`` (written by ``ddev start``)."""
    compose = _read_yaml(root / ".ddev" / ".ddev-docker-compose-full.yaml")
    services = compose.get("services") if isinstance(compose, dict) else None
    service = services.get(CONTAINER_HOST) if isinstance(services, dict) else None
    ports = service.get("ports") if isinstance(service, dict) else None
    for entry in ports if isinstance(ports, list) else []:
        if isinstance(entry, dict) and _port(entry.get("target")) == INNER_PORTS[database_type]:
            published = _port(entry.get("published"))
            if published is not None:
                return published
    return None


def _configured_port(config: Path) -> int | None:
    settings = _read_yaml(config)
    return _port(settings.get("host_db_port")) if isinstance(settings, dict) else None


def describe_with_ddev(root: Path) -> str | None:
    """``ddev describe -j`` in the project, or None where ``ddev`` is missing or fails."""
    try:
        return run_command(["ddev", "describe", "-j"], cwd=root, timeout=DESCRIBE_TIMEOUT).stdout
    except ConfigError as exc:
        log.debug("ddev describe unavailable (%s)", exc)
        return None


def host_database(project_dir: Path, database: DatabaseConfig | None, environ: Mapping[str, str],
                  run: Callable[[Path], str | None] = describe_with_ddev) -> DatabaseConfig | None:
    """The DDEV database as the laptop reaches it (127.0.0.1 and the published port), for a project under DDEV
    whose settings, read outside its containers, name no database or DDEV's container host ``db``; None
    elsewhere (inside the containers, not a DDEV project, a database of its own, no published port known).

    The port comes from ``ddev describe -j`` (the running project), else ``.ddev-docker-compose-full.yaml``,
    else ``host_db_port`` in ``.ddev/config.yaml``. The name and credentials the settings give are kept
    (another database on DDEV's server), else DDEV's ``db``/``db``/``db``."""
    if environ.get("IS_DDEV_PROJECT") == "true":
        return None
    if database is not None and database.host != CONTAINER_HOST:
        return None
    config = ddev_config(project_dir)
    if config is None:
        return None
    root = config.parent.parent
    described = _described(root, run)
    if described is not None:
        database_type, port = described
        origin = "ddev describe"
    else:
        database_type = _database_type(config)
        found = _composed_port(root, database_type) or _configured_port(config)
        if found is None:
            log.warning("%s is a DDEV project but its database's published port is unknown (ddev describe, "
                        ".ddev/.ddev-docker-compose-full.yaml, host_db_port): start it with `ddev start`", root)
            return None
        port, origin = found, ".ddev/ (published port)"
    name, user, password = DDEV_CREDENTIALS
    if database is not None:
        name, user, password = database.name or name, database.user or user, database.password or password
    return DatabaseConfig(engine=_engine(database_type), name=name, host="127.0.0.1", port=port, user=user,
                          password=password, source=f"DDEV's database on the host ({origin})")
