"""synco-craftcms: Craft 4 and 5's fluent config files (``DbConfig::create()->...``,
``GeneralConfig::create()->aliases(...)``) are read as their array forms are, whatever way they are spelt."""

from __future__ import annotations

from pathlib import Path

import pytest
import synco_craftcms.plugin
from craft_support import make_craft4

from synco_core import ConfigError, DatabaseConfig, FileSetOptions, Framework
from synco_core.testing import SyncoPluginManager, detect, list_file_sets

#: The older DB_* names a fluent config/db.php reads through App::env (no CRAFT_DB_* override).
LEGACY_ENV = ("CRAFT_ENVIRONMENT=production\nDB_DRIVER=pgsql\nDB_SERVER=pg.internal\nDB_PORT=5433\n"
              "DB_DATABASE=legacy\nDB_USER=legacy_user\nDB_PASSWORD='legacy secret'\nDB_TABLE_PREFIX=craft\n")
LEGACY = DatabaseConfig(engine="postgresql", name="legacy", host="pg.internal", port=5433, user="legacy_user",
                        password="legacy secret", source="config/db.php")

CHAIN = ("->driver(App::env('DB_DRIVER'))\n    ->server(App::env('DB_SERVER'))\n    ->port(App::env('DB_PORT'))\n"
         "    ->database(App::env('DB_DATABASE'))\n    ->user(App::env('DB_USER'))\n"
         "    ->password(App::env('DB_PASSWORD'))\n    ->tablePrefix(App::env('DB_TABLE_PREFIX'))")

#: The spellings of the fluent form met in projects: imported, aliased, written out, built in a variable.
FLUENT_DB_PHP = {
    "imported": f"<?php\nuse craft\\config\\DbConfig;\nuse craft\\helpers\\App;\n\nreturn DbConfig::create()\n"
                f"    {CHAIN};\n",
    "aliased": f"<?php\nuse craft\\config\\DbConfig as Db;\nuse craft\\helpers\\App;\nreturn Db::create(){CHAIN};\n",
    "written_out": "<?php\nuse craft\\helpers\\App;\nreturn \\craft\\config\\DbConfig::create()"
                   + CHAIN.replace("App::", "\\craft\\helpers\\App::") + ";\n",
    "variable": f"<?php\nuse craft\\config\\DbConfig;\nuse craft\\helpers\\App;\n$db = DbConfig::create();\n"
                f"$db{CHAIN};\nreturn $db;\n",
    "driver_constant": "<?php\nuse craft\\config\\DbConfig;\nuse craft\\db\\Connection;\nuse craft\\helpers\\App;\n"
                       "return DbConfig::create()->driver(Connection::DRIVER_PGSQL)"
                       + CHAIN.replace("->driver(App::env('DB_DRIVER'))\n", "") + ";\n",
    "named_arguments": "<?php\nuse craft\\config\\DbConfig;\nuse craft\\helpers\\App;\n"
                       "return DbConfig::create(['driver' => 'pgsql'])"
                       + CHAIN.replace("->driver(App::env('DB_DRIVER'))\n", "").replace("(App", "(value: App")
                       + ";\n",
    "url": "<?php\nuse craft\\config\\DbConfig;\nuse craft\\helpers\\App;\n"
           "return DbConfig::create()->url(App::env('DB_URL'))->tablePrefix('craft');\n",
}


def craft(project: Path) -> Framework:
    framework = synco_craftcms.plugin.detect_framework(project)
    assert framework is not None
    return framework


@pytest.mark.parametrize("spelling", sorted(FLUENT_DB_PHP))
def test_a_fluent_db_config_is_read_as_its_array_form(tmp_path: Path, spelling: str) -> None:
    """The fluent config/db.php of Craft 4 and 5 names the database with the older DB_* variables: synco
    read none of it (the database was refused as unknown, or CRAFT_DB_* variables left over in .env were
    taken for it). Each setter now sets the setting of its name, as Craft's DbConfig does."""
    env = LEGACY_ENV + "DB_URL='pgsql://legacy_user:legacy%20secret@pg.internal:5433/legacy'\n"
    framework = craft(make_craft4(tmp_path, {".env": env, "config/db.php": FLUENT_DB_PHP[spelling]}))
    assert framework.database is not None
    assert (framework.database.engine, framework.database.name, framework.database.host, framework.database.port,
            framework.database.user, framework.database.password) == (
        LEGACY.engine, LEGACY.name, LEGACY.host, LEGACY.port, LEGACY.user, LEGACY.password)
    assert framework.settings["tablePrefix"] == "craft_"


def test_craft_db_variables_still_win_over_a_fluent_config(tmp_path: Path) -> None:
    env = LEGACY_ENV + "CRAFT_DB_DATABASE=override\nCRAFT_DB_SERVER=other.internal\n"
    found = craft(make_craft4(tmp_path, {".env": env, "config/db.php": FLUENT_DB_PHP["imported"]})).database
    assert found is not None
    assert (found.name, found.host, found.user, found.source) == (
        "override", "other.internal", "legacy_user", "config/db.php and .env (CRAFT_DB_*)")


def test_a_fluent_setting_only_php_knows_is_named(tmp_path: Path) -> None:
    db_php = ("<?php\nuse craft\\config\\DbConfig;\nreturn DbConfig::create()->database('craft')"
              "->password(file_get_contents('/run/secrets/db'));\n")
    with pytest.raises(ConfigError, match=r"'password' .* cannot be read without PHP .*CRAFT_DB_PASSWORD"):
        craft(make_craft4(tmp_path, {".env": "", "config/db.php": db_php}))


GENERAL_FLUENT = ("<?php\nuse craft\\config\\GeneralConfig;\nuse craft\\helpers\\App;\n\n"
                  "return GeneralConfig::create()\n    ->defaultWeekStartDay(1)\n    ->omitScriptNameInUrls()\n"
                  "    ->aliases([\n        '@webroot' => dirname(__DIR__) . '/public',\n"
                  "        '@assetsBasePath' => App::env('ASSETS_PATH') ?: '@webroot/assets',\n    ]);\n")


def test_fluent_general_config_aliases_place_the_web_root_and_volumes(tmp_path: Path,
                                                                      craft_manager: SyncoPluginManager) -> None:
    """The starter's config/general.php is fluent: its @webroot (public/ beside an unused web/) and its own
    aliases were unknown, so the web root was web/ and a volume under an alias of its own was skipped."""
    project = make_craft4(tmp_path, {
        "config/general.php": GENERAL_FLUENT, "public/index.php": "<?php\n", "public/assets/photos/a.jpg": "a",
        "config/project/fs/images.yaml": "hasUrls: true\nname: Images\nsettings:\n  path: '@assetsBasePath/photos'\n"
                                         "type: craft\\fs\\Local\nurl: '@web/assets/photos'\n"})
    framework = detect(project, manager=craft_manager)
    assert framework.web_root == project / "public"
    images = {s.name: s for s in list_file_sets(framework, FileSetOptions(), manager=craft_manager)}["volume-images"]
    assert (images.root, images.kind, images.skipped_reason) == (project / "public/assets/photos", "public", None)

