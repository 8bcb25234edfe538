"""Symfony projects whose database URL is not where the .env files say: kept in the secrets vault, or set
nowhere although Doctrine is configured. Either way one warning line says so (never a silent 'none')."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from synco_symfony.plugin import detect_framework

Make = Callable[..., Path]

# What `bin/console secrets:set DATABASE_URL --env=prod` leaves in the vault (the value sealed with sodium).
VAULT = {
    "config/secrets/prod/prod.encrypt.public.php": '<?php\n\nreturn "\\x8a\\x1f...public key...";\n',
    "config/secrets/prod/prod.DATABASE_URL.8c6f2a.php": '<?php // prod.DATABASE_URL.8c6f2a\n\nreturn "\\x01sealed";\n',
    "config/secrets/prod/prod.list.php": "<?php\n\nreturn [\n    'DATABASE_URL' => null,\n];\n",
}


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]


def test_database_url_in_the_secrets_vault(make_project: Make, no_php: None,
                                           caplog: pytest.LogCaptureFixture) -> None:
    project = make_project("symfony7", {**VAULT, ".env.local": "APP_ENV=prod\n"})
    env = project / ".env"
    env.write_text("".join(line for line in env.read_text().splitlines(keepends=True)
                           if not line.startswith("DATABASE_URL")))
    framework = detect_framework(project)
    assert framework is not None and framework.database is None
    [warning] = warnings_of(caplog)
    assert "DATABASE_URL is kept in the secrets vault" in warning and str(project / "config/secrets/prod") in warning


def test_doctrine_without_its_variable(make_project: Make, no_php: None, caplog: pytest.LogCaptureFixture) -> None:
    project = make_project("symfony7")
    (project / ".env").write_text("APP_ENV=dev\n")
    framework = detect_framework(project)
    assert framework is not None and framework.database is None
    [warning] = warnings_of(caplog)
    assert "DATABASE_URL is not set" in warning and ".env" in warning and "\n" not in warning


def test_no_doctrine_no_warning(make_project: Make, no_php: None, caplog: pytest.LogCaptureFixture) -> None:
    project = make_project("symfony7")
    (project / ".env").write_text("APP_ENV=dev\n")
    (project / "config/packages/doctrine.yaml").unlink()
    framework = detect_framework(project)
    assert framework is not None and framework.database is None and warnings_of(caplog) == []


def test_env_default_from_the_container_parameters(make_project: Make, php_mode: str) -> None:
    """``parameters: env(DATABASE_URL): ...`` is the variable's default when it is set nowhere (the Symfony 4
    recipes wrote it); a variable that is set wins over it."""
    project = make_project("symfony7", {
        ".env": "APP_ENV=dev\n",
        "config/services.yaml": "parameters:\n    env(DATABASE_URL): 'mysql://app:param-pw@param-db:3308/from_param'\n"
                                "services:\n    _defaults:\n        autowire: true\n",
    })
    framework = detect_framework(project)
    assert framework is not None and framework.database is not None
    assert (framework.database.host, framework.database.port, framework.database.name) == (
        "param-db", 3308, "from_param")
    (project / ".env.local").write_text("DATABASE_URL=mysql://app:pw@env-db:3306/from_env\n")
    framework = detect_framework(project)
    assert framework is not None and framework.database is not None and framework.database.name == "from_env"


def test_separate_settings_through_parameters(make_project: Make, php_mode: str) -> None:
    project = make_project("symfony7", {
        "config/services.yaml": "parameters:\n    app.db_host: '%env(DB_HOST)%'\n    app.db_name: catalog\n"
                                "    app.db_port: 5434\n",
        "config/packages/doctrine.yaml": (
            "doctrine:\n  dbal:\n    driver: pdo_pgsql\n    host: '%app.db_host%'\n    port: '%app.db_port%'\n"
            "    dbname: '%app.db_name%'\n    user: app\n    password: '%env(DB_PASSWORD)%'\n"),
        ".env.local": "DB_HOST=pg.internal\nDB_PASSWORD=param-secret\n",
    })
    framework = detect_framework(project)
    assert framework is not None and framework.database is not None
    database = framework.database
    assert (database.engine, database.host, database.port, database.name, database.password) == (
        "postgresql", "pg.internal", 5434, "catalog", "param-secret")
