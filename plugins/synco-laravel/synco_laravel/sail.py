"""Laravel Sail (and any Docker Compose project): the database as the host reaches it.

Sail's ``.env`` names the database by its Compose service (``DB_HOST=mysql``, ``pgsql``, ``mariadb``): a
name only the containers resolve. synco runs on the host, where Sail publishes the database's port on
``127.0.0.1`` (``ports: ['${FORWARD_DB_PORT:-3306}:3306']``). So when the configured host is a service of the
project's Compose file that publishes the database port, and synco itself is not running in a container,
the database is reached at ``127.0.0.1`` and the published port, said in the framework's notes.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from synco_core import DatabaseConfig, read_config_text

log = logging.getLogger(__name__)

#: Compose files in the order ``docker compose`` looks for them.
COMPOSE_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
#: Files that exist inside a Docker or Podman container.
CONTAINER_MARKERS = (Path("/.dockerenv"), Path("/run/.containerenv"))
#: The port each engine listens on inside its container.
CONTAINER_PORTS = {"mysql": 3306, "postgresql": 5432}
_VARIABLE = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}|\$(\w+)")


def in_container() -> bool:
    return any(marker.exists() for marker in CONTAINER_MARKERS)


def _compose(project_dir: Path) -> dict[str, Any] | None:
    for name in COMPOSE_FILES:
        path = project_dir / name
        if path.is_file():
            try:
                data = yaml.safe_load(read_config_text(path, kind="Compose file"))
            except (OSError, yaml.YAMLError) as exc:
                log.debug("%s not read: %s", path, type(exc).__name__)
                return None
            return data if isinstance(data, dict) else None
    return None


def _expand(text: str, environ: Mapping[str, str]) -> str:
    """Compose's interpolation: ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``, ``$VAR``."""
    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3)
        value = environ.get(name)
        if value in (None, "") and match.group(2) is not None:
            return match.group(2)
        return value or ""
    return _VARIABLE.sub(replace, text)


def published_port(ports: Any, container_port: int, environ: Mapping[str, str]) -> int | None:
    """The host port a service's ``ports`` publish for ``container_port`` (short or long syntax)."""
    for entry in ports if isinstance(ports, list) else []:
        if isinstance(entry, dict):
            if str(entry.get("target")) == str(container_port) and entry.get("published") is not None:
                published = _expand(str(entry["published"]), environ)
                return int(published) if published.isdigit() else None
            continue
        parts = _expand(str(entry), environ).split("/")[0].rsplit(":", 2)
        if len(parts) >= 2 and parts[-1] == str(container_port) and parts[-2].isdigit():
            return int(parts[-2])
    return None


def host_reachable(database: DatabaseConfig, project_dir: Path,
                   environ: Mapping[str, str]) -> tuple[DatabaseConfig, str]:
    """``database`` as this machine reaches it, and a note when it was changed (else "")."""
    container_port = CONTAINER_PORTS.get(database.engine)
    if container_port is None or not database.host or database.socket or in_container():
        return database, ""
    compose = _compose(project_dir)
    services = compose.get("services") if compose else None
    service = services.get(database.host) if isinstance(services, dict) else None
    if not isinstance(service, dict):
        return database, ""
    port = published_port(service.get("ports"), container_port, environ)
    if port is None:
        return database, ""
    note = (f"DB_HOST {database.host} is a service of the Compose file (Laravel Sail): reached at "
            f"127.0.0.1:{port}, the port it publishes")
    log.info("%s", note)
    source = f"{database.source}; {database.host} is a Compose service, published at 127.0.0.1:{port}"
    return database.replace(host="127.0.0.1", port=port, source=source), note
