"""A project under DDEV, installed into from the laptop: DDEV's database through its port published on the host.

A fake ``ddev`` on PATH (a shim, named so in each test) stands in for DDEV: it answers ``ddev describe -j`` as
DDEV does (log records, then the description with ``raw.dbinfo``) and notes where it ran.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from synco_core import DatabaseConfig, Framework, hookimpl
from synco_core.ddev import host_database
from synco_core.detection import detect


class DdevSite:
    """A test framework whose settings, read outside DDEV's containers, give ``database`` (None: none)."""

    def __init__(self, database: DatabaseConfig | None) -> None:
        self.database = database

    @hookimpl
    def detect_framework(self, project_dir: Path) -> Framework | None:
        return Framework(name="DdevSite", plugin="ddevsite", project_dir=project_dir, database=self.database,
                         reason="test")


def ddev_project(base: Path, database_type: str | None = None, host_db_port: str | None = None) -> Path:
    project = base / "shop"
    (project / ".ddev").mkdir(parents=True)
    config = "name: shop\ntype: php\n"
    if database_type:
        config += f"database:\n  type: {database_type}\n  version: '15'\n"
    if host_db_port:
        config += f"host_db_port: \"{host_db_port}\"\n"
    (project / ".ddev" / "config.yaml").write_text(config)
    return project


def fake_ddev(base: Path, monkeypatch: pytest.MonkeyPatch, description: dict[str, Any] | None,
              status: int = 0) -> Path:
    """A ``ddev`` shim on PATH answering ``describe -j`` with ``description``; returns the file it logs to."""
    shims = base / "shims"
    shims.mkdir()
    calls = base / "ddev-calls.txt"
    lines = [json.dumps({"level": "info", "msg": "starting"})]
    if description is not None:
        lines.append(json.dumps({"level": "info", "msg": "", "raw": description}))
    script = shims / "ddev"
    script.write_text("#!/bin/sh\n"
                      f"echo \"$PWD $*\" >> '{calls}'\n"
                      f"cat <<'JSON'\n" + "\n".join(lines) + "\nJSON\n"
                      f"exit {status}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{shims}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("IS_DDEV_PROJECT", raising=False)
    return calls


def description(port: object, database_type: str = "mariadb") -> dict[str, Any]:
    return {"name": "shop", "status": "running", "dbinfo": {
        "username": "db", "password": "db", "dbname": "db", "host": "db", "dbPort": "3306",
        "published_port": port, "database_type": database_type, "database_version": "10.11"}}


@pytest.mark.parametrize("settings", [
    None,
    DatabaseConfig(engine="mysql", name="db", host="db", port=3306, user="db", password="db"),
])
def test_fake_ddev_shim_install_goes_to_the_published_port(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, plugin_manager: Any, register_plugin: Any,
        settings: DatabaseConfig | None) -> None:
    """On the laptop, WordPress's wp-config-ddev.php is not included (no IS_DDEV_PROJECT) and Laravel's .env says
    DB_HOST=db: the destination is DDEV's database on 127.0.0.1 at the port `ddev describe` publishes, asked in
    the project's root, also from its docroot."""
    project = ddev_project(tmp_path)
    (project / "web").mkdir()
    calls = fake_ddev(tmp_path, monkeypatch, description(32801))
    register_plugin(DdevSite(settings), "ddevsite")
    found = detect(project / "web", side="destination").database
    assert found is not None
    assert (found.engine, found.host, found.port, found.name, found.user, found.password) == (
        "mysql", "127.0.0.1", 32801, "db", "db", "db")
    assert found.is_local(())
    assert calls.read_text().split() == [str(project), "describe", "-j"]
    # The source side (serve in the container, detect) is left as the settings say.
    assert detect(project, side="source").database == settings


def test_fake_ddev_shim_keeps_the_settings_database_and_credentials(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A second database on DDEV's server (DB_DATABASE=shop_test, its own user): only the host and port change."""
    fake_ddev(tmp_path, monkeypatch, description("32802", "postgres"))
    settings = DatabaseConfig(engine="postgresql", name="shop_test", host="db", port=5432, user="app",
                              password="app-pw")
    found = host_database(ddev_project(tmp_path, "postgres"), settings, os.environ)
    assert found is not None
    assert (found.engine, found.host, found.port, found.name, found.user, found.password) == (
        "postgresql", "127.0.0.1", 32802, "shop_test", "app", "app-pw")


@pytest.mark.parametrize(("database_type", "inner"), [("mariadb", 3306), ("postgres", 5432)])
def test_fake_ddev_shim_failing_falls_back_to_the_composed_port(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               database_type: str, inner: int) -> None:
    """`ddev describe` failing (Docker down, an old DDEV): the port `ddev start` wrote into
    .ddev-docker-compose-full.yaml, then host_db_port in config.yaml."""
    fake_ddev(tmp_path, monkeypatch, None, status=1)
    project = ddev_project(tmp_path, database_type if database_type != "mariadb" else None, host_db_port="33066")
    assert host_database(project, None, os.environ).port == 33066  # type: ignore[union-attr]
    (project / ".ddev" / ".ddev-docker-compose-full.yaml").write_text(
        "services:\n  web:\n    ports:\n      - {target: 80, published: '32000'}\n"
        f"  db:\n    ports:\n      - mode: ingress\n        host_ip: 127.0.0.1\n        target: {inner}\n"
        "        published: \"32777\"\n        protocol: tcp\n")
    found = host_database(project, None, os.environ)
    assert found is not None
    assert (found.engine, found.port) == ("postgresql" if database_type == "postgres" else "mysql", 32777)


def test_fake_ddev_shim_is_not_asked_where_the_settings_are_not_ddevs(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Inside DDEV's containers (IS_DDEV_PROJECT=true), for a database of the project's own, or outside a DDEV
    project, the settings stand and ddev is not run."""
    calls = fake_ddev(tmp_path, monkeypatch, description(32801))
    project = ddev_project(tmp_path)
    own = DatabaseConfig(engine="mysql", name="shop", host="127.0.0.1", port=3306, user="u")
    assert host_database(project, own, os.environ) is None
    assert host_database(tmp_path / "elsewhere", None, os.environ) is None
    assert host_database(project, None, {**os.environ, "IS_DDEV_PROJECT": "true"}) is None
    assert not calls.exists()


@pytest.mark.parametrize("port", [0, "", "99999", "3306; rm -rf /", None])
def test_fake_ddev_shim_without_a_published_port_leaves_the_refusal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   caplog: pytest.LogCaptureFixture,
                                                                   port: object) -> None:
    """A stopped project (no published port, nothing under .ddev/ either): no database is made up; the
    install's refusal names DDEV (tests/test_install.py) and a warning says to start it."""
    fake_ddev(tmp_path, monkeypatch, description(port))
    assert host_database(ddev_project(tmp_path), None, os.environ) is None
    assert "ddev start" in caplog.text
