"""Drupal project trees as they are in the wild: drupal-composer/drupal-project's .env loaded by Composer's
autoloader, settings.local.php overriding prefix, port and the private files path, broken settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from drupal_support import copy_project

from synco_core import ConfigError, FileSetOptions, redact
from synco_core.testing import SyncoPluginManager, detect, list_file_sets

GETENV_SETTINGS = """<?php
$databases['default']['default'] = [
  'database' => getenv('MYSQL_DATABASE'),
  'driver' => 'mysql',
  'host' => getenv('MYSQL_HOSTNAME'),
  'password' => getenv('MYSQL_PASSWORD'),
  'port' => getenv('MYSQL_PORT'),
  'prefix' => '',
  'username' => getenv('MYSQL_USER'),
];
"""

# drupal-composer/drupal-project's load.environment.php, which composer.json's autoload.files runs first.
LOAD_ENVIRONMENT = """<?php

use Dotenv\\Dotenv;

$dotenv = Dotenv::createUnsafeImmutable(__DIR__);
$dotenv->safeLoad();
"""

DOTENV = ("MYSQL_DATABASE=drupal_from_env\nMYSQL_HOSTNAME=db.env.internal\nMYSQL_PASSWORD=env-pw-7d1c\n"
          "MYSQL_PORT=3307\nMYSQL_USER=drupal_env\n")


def drupal_project(target: Path, *, autoload: bool) -> Path:
    project = copy_project(target)
    (project / "web/sites/default/settings.local.php").write_text(GETENV_SETTINGS)
    (project / ".env").write_text(DOTENV)
    (project / "load.environment.php").write_text(LOAD_ENVIRONMENT)
    if autoload:
        manifest = json.loads((project / "composer.json").read_text())
        manifest.setdefault("autoload", {})["files"] = ["load.environment.php"]
        (project / "composer.json").write_text(json.dumps(manifest, indent=4))
    return project


@pytest.mark.parametrize("start", [".", "web"])
def test_drupal_project_env_is_loaded_as_composer_does(tmp_path: Path, drupal_manager: SyncoPluginManager,
                                                       no_php: None, monkeypatch: pytest.MonkeyPatch,
                                                       start: str) -> None:
    for name in ("MYSQL_DATABASE", "MYSQL_HOSTNAME", "MYSQL_PASSWORD", "MYSQL_PORT", "MYSQL_USER"):
        monkeypatch.delenv(name, raising=False)
    project = drupal_project(tmp_path / "site", autoload=True)
    database = detect(project / start).database
    assert database is not None
    assert (database.name, database.host, database.port, database.user, database.password) == (
        "drupal_from_env", "db.env.internal", 3307, "drupal_env", "env-pw-7d1c")
    assert "env-pw-7d1c" not in redact("password env-pw-7d1c")
    # The real environment wins over .env, as phpdotenv's immutable loader keeps it.
    monkeypatch.setenv("MYSQL_DATABASE", "from_the_environment")
    database = detect(project).database
    assert database is not None and database.name == "from_the_environment"


def test_env_without_the_autoloaded_loader_is_not_read(tmp_path: Path, drupal_manager: SyncoPluginManager,
                                                       no_php: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MYSQL_DATABASE", raising=False)
    project = drupal_project(tmp_path / "site", autoload=False)
    # Nothing loads .env for Drupal here, so getenv() finds nothing and the database is unusable (files stay).
    framework = detect(project)
    assert framework.database is None


def test_local_overrides_prefix_port_and_private_path(tmp_path: Path, drupal_manager: SyncoPluginManager,
                                                      no_php: None) -> None:
    project = copy_project(tmp_path / "site")
    (project / "secure").mkdir()
    (project / "web/sites/default/settings.local.php").write_text(
        "<?php\n$databases['default']['default']['prefix'] = 'd10_';\n"
        "$databases['default']['default']['port'] = 3310;\n"
        "$settings['file_private_path'] = $app_root . '/../secure';\n")
    framework = detect(project)
    assert framework.database is not None and framework.database.port == 3310
    assert framework.settings["table_prefix"] == "d10_"
    sets = {s.name: s for s in list_file_sets(framework, FileSetOptions())}
    assert sets["private"].root == project / "secure" and sets["private"].skipped_reason is None
    assert sets["public"].url_prefix == "sites/default/files/"


@pytest.mark.parametrize(("text", "message"), [
    ("<?php\n$databases['default']['default'] = [\n  'database' => 'x',\n", "settings.local.php:4: unexpected"),
    ("<?php\n$databases['default']['default'] = ['driver' => 'mysql', 'password' => 'pw-9a1f'];\n",
     "names no database"),
])
def test_broken_settings_are_one_line(tmp_path: Path, drupal_manager: SyncoPluginManager, no_php: None,
                                      caplog: pytest.LogCaptureFixture, text: str, message: str) -> None:
    project = copy_project(tmp_path / "site")
    (project / "web/sites/default/settings.local.php").write_text(text)
    try:
        framework = detect(project)
    except ConfigError as exc:
        error = str(exc)
    else:
        assert framework.database is None
        error = " ".join(r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    assert message in error and "\n" not in error and "pw-9a1f" not in error


@pytest.mark.parametrize("text", ["", "<?php\n$settings['hash_salt'] = 'x';\n", "not php at all\n"])
def test_settings_without_a_database_say_so(tmp_path: Path, drupal_manager: SyncoPluginManager, no_php: None,
                                            caplog: pytest.LogCaptureFixture, text: str) -> None:
    """A settings.php that defines no database (truncated, or a site not installed yet): one warning line
    naming it, never a silent 'Database: none'."""
    project = copy_project(tmp_path / "site")
    settings = project / "web/sites/default/settings.php"
    settings.write_text(text)
    framework = detect(project)
    assert framework.database is None
    [warning] = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert f"{settings} defines no $databases['default']['default']" in warning
