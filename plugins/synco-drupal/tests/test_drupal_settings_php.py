"""settings.php forms synco's reader does not evaluate without PHP (a reference, a loop, a function of the
site's own): run by the PHP CLI where there is one (and no Drush), they give the settings Drupal would read;
without PHP, the refusal is one line naming the file and what was not evaluated, never a guessed database."""

from __future__ import annotations

from pathlib import Path

import pytest
import synco_drupal.plugin
from drupal_support import copy_project
from synco_drupal.settings import default_connection, read_settings
from synco_drupal.site import find_site

from synco_core import ConfigError
from synco_core.testing import SyncoPluginManager

#: settings.local.php bodies as developers write them, and (database, host, username) Drupal then reads.
FORMS = {
    "reference": ("$db = &$databases['default']['default'];\n$db['database'] = 'via_ref';\n$db['host'] = 'db1';\n",
                  ("via_ref", "db1", "drupal")),
    "reference-to-a-level-above": ("$c = &$databases['default'];\n$c['default']['host'] = 'db2';\n",
                                   ("drupal", "db2", "drupal")),
    "loop": ("foreach (['database' => 'from_loop', 'username' => 'looper'] as $k => $v) {\n"
             "  $databases['default']['default'][$k] = $v;\n}\n", ("from_loop", "localhost", "looper")),
    "function-of-the-site": ("function site_env($name, $default) {\n  $value = getenv($name);\n"
                             "  return $value === false ? $default : $value;\n}\n"
                             "$databases['default']['default']['database'] = site_env('SITE_DB', 'fallback_db');\n",
                             ("env_db", "localhost", "drupal")),
    "static-method": ("class SiteConfig { public static function host(): string { return 'db3'; } }\n"
                      "$databases['default']['default']['host'] = SiteConfig::host();\n",
                      ("drupal", "db3", "drupal")),
}


def _project(tmp_path: Path, body: str) -> Path:
    project = copy_project(tmp_path / "site")
    (project / "web/sites/default/settings.local.php").write_text("<?php\n" + body)
    return project


@pytest.mark.parametrize("form", sorted(FORMS))
def test_forms_the_reader_steps_over_are_read_by_php(tmp_path: Path, drupal_manager: SyncoPluginManager,
                                                     php_mode: str, monkeypatch: pytest.MonkeyPatch,
                                                     caplog: pytest.LogCaptureFixture, form: str) -> None:
    monkeypatch.setenv("SITE_DB", "env_db")
    monkeypatch.delenv("SYNCO_DRUPAL_SITE", raising=False)
    body, (name, host, user) = FORMS[form]
    project = _project(tmp_path, body)
    framework = synco_drupal.plugin.detect_framework(project)
    assert framework is not None
    if php_mode == "files":
        # The files are still detected (and sent); the database is none, said in one line.
        assert framework.database is None
        (said,) = [r.getMessage() for r in caplog.records if "cannot be read without PHP" in r.getMessage()]
        assert "settings.local.php" in said and "\n" not in said
        return
    assert framework.database is not None
    database = framework.database
    assert (database.name, database.host, database.user, database.password) == (
        name, host, user, "drupal-db-password")
    assert framework.config_source == "php"


def test_settings_php_failing_under_php_keeps_the_one_line_refusal(
        tmp_path: Path, drupal_manager: SyncoPluginManager, php_mode: str, caplog: pytest.LogCaptureFixture) -> None:
    """settings.php that needs Drupal itself (a class only Drupal loads): PHP fails, and the refusal stands,
    without the file's output (which may quote a password)."""
    project = _project(tmp_path, "$db = &$databases['default']['default'];\n"
                                 "echo 'leaked-password-text';\n"
                                 "$db['host'] = \\Drupal\\Core\\Site\\Settings::get('db_host');\n")
    framework = synco_drupal.plugin.detect_framework(project)
    assert framework is not None and framework.database is None
    assert "cannot be read without PHP" in caplog.text and "leaked-password-text" not in caplog.text
    site = find_site(project)
    assert site is not None
    with pytest.raises(ConfigError, match="cannot be read without PHP") as caught:
        default_connection(read_settings(site, project))
    assert "\n" not in str(caught.value)
