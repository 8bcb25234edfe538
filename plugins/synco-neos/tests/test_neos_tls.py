"""Flow's PDO driverOptions carry the MySQL TLS settings into the dump's connection (verify when asked)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from synco_neos import plugin
from synco_neos.database import database_from_backend_options


def test_driver_options_become_tls_options(tmp_path: Path) -> None:
    options = {"driver": "pdo_mysql", "host": "db.example.com", "dbname": "neos", "user": "neos",
               "driverOptions": {1009: "/etc/ssl/db-ca.pem", "PDO::MYSQL_ATTR_SSL_VERIFY_SERVER_CERT": True,
                                 1002: "SET NAMES utf8mb4"}}
    database = database_from_backend_options(options, tmp_path, "test")
    assert dict(database.options) == {"ssl_ca": "/etc/ssl/db-ca.pem", "ssl_verify_cert": "true"}
    # PostgreSQL's driverOptions are not PDO MySQL attributes: nothing is taken from them.
    postgres = database_from_backend_options({**options, "driver": "pdo_pgsql"}, tmp_path, "test")
    assert dict(postgres.options) == {}


def test_tls_settings_read_from_the_files(make_project: Callable[[str], Path], no_php: None,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    project = make_project("neos8")
    for name, value in {"DB_HOST": "db.example.com", "DB_PORT": "3306", "DB_NAME": "neos_dev", "DB_USER": "dev",
                        "DB_PASSWORD": "dev-pass-1234"}.items():
        monkeypatch.setenv(name, value)
    (project / "Configuration" / "Development" / "Settings.Tls.yaml").write_text(
        "Neos:\n  Flow:\n    persistence:\n      backendOptions:\n        driverOptions:\n"
        "          1009: '/etc/ssl/db-ca.pem'\n          1014: false\n")
    framework = plugin.detect_framework(project)
    assert framework is not None and framework.database is not None
    assert framework.config_source == "files"
    assert framework.database.options["ssl_ca"] == "/etc/ssl/db-ca.pem"
    assert framework.database.options["ssl_verify_cert"] == "false"
