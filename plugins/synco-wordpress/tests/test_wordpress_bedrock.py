"""Bedrock (roots.io): settings in .env, config/application.php with roots/wp-config's Config::define(),
WordPress in web/wp, the content folder web/app, web/ served at WP_HOME."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import synco_wordpress.plugin
from wp_support import FIXTURES

from synco_core import FileSetOptions, redact
from synco_core.testing import SyncoPluginManager, detect

CORE = ("index.php", "wp-settings.php", "wp-load.php", "wp-includes", "wp-admin")


def bedrock_site(target: Path, env: str | None) -> Path:
    """A Bedrock project as `composer create-project roots/bedrock` lays it out, with ``env`` as its .env."""
    shutil.copytree(FIXTURES / "bedrock", target, symlinks=True)
    core = target / "web" / "wp"
    core.mkdir()
    for name in CORE:
        source = FIXTURES / "wordpress" / name
        if source.is_dir():
            shutil.copytree(source, core / name)
        else:
            shutil.copy(source, core / name)
    if env is not None:
        (target / ".env").write_text(env)
    return target


ENV = """DB_NAME='bedrock_shop'
DB_USER='shop'
DB_PASSWORD='s3cr3t-bedrock-pw'
DB_HOST='db.internal:3307'
DB_PREFIX='bsx_'

WP_ENV='production'
WP_HOME='https://www.bedrock-example.com'
WP_SITEURL="${WP_HOME}/wp"

AUTH_KEY='bedrock-auth-key-5e1d'
NONCE_SALT='bedrock-nonce-salt-88aa'
"""


@pytest.mark.parametrize("where", [".", "web", "web/wp"])
def test_bedrock_is_detected_from_its_env(tmp_path: Path, wordpress_manager: SyncoPluginManager, no_php: None,
                                          where: str) -> None:
    project = bedrock_site(tmp_path / "site", ENV)
    framework = detect(project / where)
    assert framework.plugin == "wordpress" and "Bedrock" in framework.reason
    database = framework.database
    assert database is not None
    assert (database.engine, database.name, database.user, database.host, database.port) == (
        "mysql", "bedrock_shop", "shop", "db.internal", 3307)
    assert database.password == "s3cr3t-bedrock-pw" and database.options == {"charset": "utf8mb4"}
    assert database.source == f"{project / '.env'} and config/application.php (read without PHP)"
    assert framework.settings["table_prefix"] == "bsx_"
    assert framework.settings["root"] == str(project / "web" / "wp")
    assert framework.web_root == project / "web"
    # web/ is served at WP_HOME; WordPress itself (WP_SITEURL) below it, in /wp.
    assert (framework.site_url, framework.base_url, framework.base_url_source) == (
        "https://www.bedrock-example.com", "https://www.bedrock-example.com", "WP_HOME")
    uploads = {s.name: s for s in synco_wordpress.plugin.list_file_sets(framework, FileSetOptions()) or []}
    assert uploads["uploads"].root == project / "web" / "app" / "uploads"
    assert uploads["uploads"].url_prefix == "app/uploads/" and uploads["uploads"].skipped_reason is None
    assert framework.public_prefixes == ("/app/uploads",)
    for secret in ("s3cr3t-bedrock-pw", "bedrock-auth-key-5e1d", "bedrock-nonce-salt-88aa"):
        assert secret not in redact(f"value {secret}")
    # Neither Composer's autoloader nor WordPress's bootstrap was read.
    notes = " ".join(framework.settings["notes"])
    assert "vendor/autoload.php" in notes and "wp-settings.php" in notes


@pytest.mark.parametrize(("url", "name", "user", "password", "host", "port"), [
    ("mysql://app:p4ss@db.example:3308/from_url", "from_url", "app", "p4ss", "db.example", 3308),
    ("mysql://app@db.example/no_password", "no_password", "app", None, "db.example", None),
])
def test_database_url_wins_over_db_variables(tmp_path: Path, wordpress_manager: SyncoPluginManager, no_php: None,
                                             url: str, name: str, user: str, password: str | None, host: str,
                                             port: int | None) -> None:
    project = bedrock_site(tmp_path / "site", ENV + f"DATABASE_URL='{url}'\n")
    database = detect(project).database
    assert database is not None
    assert (database.name, database.user, database.password, database.host, database.port) == (
        name, user, password, host, port)


def test_environment_wins_and_env_local_overrides(tmp_path: Path, wordpress_manager: SyncoPluginManager,
                                                  no_php: None, monkeypatch: pytest.MonkeyPatch) -> None:
    project = bedrock_site(tmp_path / "site", ENV)
    (project / ".env.local").write_text("DB_NAME=from_env_local\nDB_PREFIX=loc_\n")
    monkeypatch.setenv("DB_USER", "from_environment")
    framework = detect(project)
    assert framework.database is not None
    assert (framework.database.name, framework.database.user) == ("from_env_local", "from_environment")
    assert framework.settings["table_prefix"] == "loc_"


def test_wp_env_selects_the_environment_file(tmp_path: Path, no_php: None) -> None:
    from synco_wordpress.config import read_config

    project = bedrock_site(tmp_path / "site", ENV.replace("WP_ENV='production'", "WP_ENV='development'"))
    config = read_config(project, environ={})
    assert config is not None
    assert config.constants["WP_ENV"] == "development"
    assert config.constants["SAVEQUERIES"] is True and config.constants["DISALLOW_FILE_MODS"] is False
    production = read_config(project, environ={"WP_ENV": "production"})
    assert production is not None and "SAVEQUERIES" not in production.constants


def test_missing_setting_names_the_env_file(tmp_path: Path, wordpress_manager: SyncoPluginManager, no_php: None,
                                            caplog: pytest.LogCaptureFixture) -> None:
    project = bedrock_site(tmp_path / "site", ENV.replace("DB_NAME='bedrock_shop'\n", ""))
    framework = detect(project)
    assert framework.database is None
    warning = [r.getMessage() for r in caplog.records if "unusable" in r.getMessage()]
    assert len(warning) == 1 and "\n" not in warning[0]
    assert f"{project / '.env'}: DB_NAME is not set" in warning[0]
    assert "s3cr3t-bedrock-pw" not in caplog.text


def test_malformed_env_is_one_line(tmp_path: Path, wordpress_manager: SyncoPluginManager, no_php: None) -> None:
    from synco_core import ConfigError

    project = bedrock_site(tmp_path / "site", "DB_NAME=ok\nDB_PASSWORD='s3cr3t-unterminated\n")
    with pytest.raises(ConfigError) as caught:
        detect(project)
    message = str(caught.value)
    assert str(project / ".env") in message and "\n" not in message and "s3cr3t" not in message


def test_no_env_file_yet(tmp_path: Path, wordpress_manager: SyncoPluginManager, no_php: None) -> None:
    project = bedrock_site(tmp_path / "site", None)
    framework = detect(project)
    assert framework.plugin == "wordpress" and framework.database is None
    assert framework.web_root == project / "web"


def test_application_php_alone_is_not_wordpress(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "application.php").write_text("<?php\n")
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "wp-config.php").write_text("<?php\n")
    assert synco_wordpress.plugin.detect_framework(tmp_path) is None
