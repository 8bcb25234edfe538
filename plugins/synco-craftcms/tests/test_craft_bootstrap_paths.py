"""synco-craftcms: what Craft's bootstrap takes from the environment, or from a PHP constant of the same name
an entry script defines (``App::env()`` falls back to one): ``CRAFT_WEB_ROOT`` (set as ``@webroot`` after
config/general.php's aliases), ``CRAFT_STORAGE_PATH`` / ``CRAFT_TEMPLATES_PATH`` (``@storage``,
``@templates``) and ``CRAFT_ENVIRONMENT``."""

from __future__ import annotations

from pathlib import Path

import pytest
import synco_craftcms.plugin
from craft_support import make_craft4, set_env

from synco_core import ConfigError, FileSet, FileSetOptions
from synco_core.testing import SyncoPluginManager, detect, list_file_sets

#: Craft 4's starter bootstrap.php, with a constant of the project's own.
BOOTSTRAP = ("<?php\ndefine('CRAFT_BASE_PATH', __DIR__);\ndefine('CRAFT_VENDOR_PATH', CRAFT_BASE_PATH . '/vendor');\n"
             "require_once CRAFT_VENDOR_PATH . '/autoload.php';\n"
             "if (class_exists(Dotenv\\Dotenv::class)) {\n"
             "    Dotenv\\Dotenv::createUnsafeImmutable(CRAFT_BASE_PATH)->safeLoad();\n}\n{define}")


def sets_of(project: Path, manager: SyncoPluginManager) -> dict[str, FileSet]:
    return {s.name: s for s in list_file_sets(detect(project, manager=manager), FileSetOptions(), manager=manager)}


def public_project(base: Path, how: str) -> Path:
    """A project served from public/ with a stale web/ beside it (what a site had before a move); ``how`` says
    where CRAFT_WEB_ROOT is set."""
    project = make_craft4(base, {"public/index.php": "<?php\nrequire dirname(__DIR__) . '/bootstrap.php';\n",
                                 "public/uploads/images/new.jpg": "served"})
    if how == "dotenv":
        set_env(project, CRAFT_WEB_ROOT=str(project / "public"))
    elif how == "bootstrap_constant":
        (project / "bootstrap.php").write_text(BOOTSTRAP.replace(
            "{define}", "define('CRAFT_WEB_ROOT', CRAFT_BASE_PATH . '/public');\n"))
    elif how == "over_general_aliases":
        set_env(project, CRAFT_WEB_ROOT="@root/public")
        (project / "config/general.php").write_text("<?php\nreturn ['aliases' => ['@webroot' => dirname(__DIR__)"
                                                    " . '/web']];\n")
    return project


@pytest.mark.parametrize("how", ["dotenv", "environment", "bootstrap_constant", "over_general_aliases"])
def test_craft_web_root_is_the_web_root(tmp_path: Path, craft_manager: SyncoPluginManager, how: str,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """CRAFT_WEB_ROOT sets @webroot: synco took web/, so the @webroot volume was web/'s stale copy, silently."""
    project = public_project(tmp_path, how)
    if how == "environment":
        monkeypatch.setenv("CRAFT_WEB_ROOT", str(project / "public"))
    assert detect(project, manager=craft_manager).web_root == project / "public"
    images = sets_of(project, craft_manager)["volume-images"]
    assert (images.root, images.relative_base_path) == (project / "public/uploads/images", "public/uploads/images")


@pytest.mark.parametrize("value", ["", "false", "0"])
def test_a_craft_web_root_craft_takes_as_false_is_no_web_root(tmp_path: Path, craft_manager: SyncoPluginManager,
                                                               value: str) -> None:
    project = make_craft4(tmp_path)
    set_env(project, CRAFT_WEB_ROOT=value)
    assert detect(project, manager=craft_manager).web_root == project / "web"


@pytest.mark.parametrize("value", ["shared/storage", "./shared/storage"])
def test_a_relative_bootstrap_path_is_the_projects(tmp_path: Path, craft_manager: SyncoPluginManager,
                                                   value: str) -> None:
    """A relative CRAFT_STORAGE_PATH or CRAFT_WEB_ROOT is where craft runs, the project: synco took it below
    the web root (web/shared/storage), as it takes a volume's relative path."""
    project = make_craft4(tmp_path, {"shared/storage/documents/current.pdf": "current",
                                     "public/uploads/images/new.jpg": "served"})
    set_env(project, CRAFT_STORAGE_PATH=value, CRAFT_WEB_ROOT="public")
    assert detect(project, manager=craft_manager).web_root == project / "public"
    sets = sets_of(project, craft_manager)
    assert sets["volume-documents"].root == project / "shared/storage/documents"
    assert sets["volume-images"].root == project / "public/uploads/images"


@pytest.mark.parametrize("where", ["dotenv", "index_constant"])
def test_craft_storage_path_moves_storage_volumes(tmp_path: Path, craft_manager: SyncoPluginManager,
                                                  where: str) -> None:
    """@storage follows CRAFT_STORAGE_PATH (a shared storage folder of a deployment): the documents volume was
    the project's storage/ (here an old copy), silently."""
    project = make_craft4(tmp_path, {"shared/storage/documents/current.pdf": "current"})
    if where == "dotenv":
        set_env(project, CRAFT_STORAGE_PATH=str(project / "shared/storage"))
    else:
        (project / "web/index.php").write_text("<?php\ndefine('CRAFT_STORAGE_PATH', dirname(__DIR__) . "
                                               "'/shared/storage');\nrequire dirname(__DIR__) . '/bootstrap.php';\n")
    documents = sets_of(project, craft_manager)["volume-documents"]
    assert documents.root == project / "shared/storage/documents"


def test_craft3_environment_constant_of_index_php_picks_the_environment(tmp_path: Path,
                                                                       craft_manager: SyncoPluginManager) -> None:
    """Craft 3's web/index.php defines CRAFT_ENVIRONMENT (getenv('ENVIRONMENT') ?: 'production'): with no
    ENVIRONMENT set, a multi-environment config/db.php's 'production' key applies; synco merged '*' alone
    and took the development database, silently."""
    db_php = ("<?php\nreturn [\n    '*' => ['driver' => 'mysql', 'server' => 'localhost', 'database' => 'craft_dev',"
              " 'user' => 'dev'],\n    'production' => ['server' => 'db.internal', 'database' => 'craft_live',"
              " 'user' => 'live'],\n];\n")
    index = ("<?php\ndefine('CRAFT_BASE_PATH', dirname(__DIR__));\n"
             "define('CRAFT_ENVIRONMENT', getenv('ENVIRONMENT') ?: 'production');\n"
             "$app = require CRAFT_VENDOR_PATH . '/craftcms/cms/bootstrap/web.php';\n$app->run();\n")
    project = make_craft4(tmp_path, {".env": "DB_PASSWORD=x\n", "config/db.php": db_php, "web/index.php": index,
                                     "bootstrap.php": None})
    database = detect(project, manager=craft_manager).database
    assert database is not None
    assert (database.name, database.host, database.user) == ("craft_live", "db.internal", "live")


def test_an_entry_script_synco_cannot_read_is_said_and_left_out(tmp_path: Path, craft_manager: SyncoPluginManager,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    project = make_craft4(tmp_path, {"bootstrap.php": "<?php\ndefine('CRAFT_WEB_ROOT', \n"})
    assert detect(project, manager=craft_manager).web_root == project / "web"
    assert "bootstrap.php is not read" in caplog.text


SECRETS = ("<?php\nreturn [\n    'CRAFT_DB_DATABASE' => 'craft_live',\n    'CRAFT_DB_PASSWORD' => 'vault secret',\n"
           "    'CRAFT_DB_PORT' => 3307,\n    'UNUSED' => null,\n];\n")


@pytest.mark.parametrize("where", ["absolute", "relative", "bootstrap_constant"])
def test_the_secrets_file_wins_over_the_environment(tmp_path: Path, craft_manager: SyncoPluginManager,
                                                    where: str) -> None:
    """Craft 4.4+'s CRAFT_SECRETS_PATH: App::env() reads the secrets file first. synco took .env's values
    (here another database and an old password), silently."""
    project = make_craft4(tmp_path, {"config/secrets.php": SECRETS})
    if where == "absolute":
        set_env(project, CRAFT_SECRETS_PATH=str(project / "config/secrets.php"))
    elif where == "relative":
        set_env(project, CRAFT_SECRETS_PATH="config/secrets.php")
    else:
        (project / "bootstrap.php").write_text(BOOTSTRAP.replace(
            "{define}", "define('CRAFT_SECRETS_PATH', CRAFT_BASE_PATH . '/config/secrets.php');\n"))
    database = detect(project, manager=craft_manager).database
    assert database is not None
    assert (database.name, database.password, database.port, database.user) == (
        "craft_live", "vault secret", 3307, "craft")


@pytest.mark.parametrize("text", ["<?php\nreturn ['CRAFT_DB_PASSWORD' => file_get_contents('/run/pw')];\n",
                                  "<?php\nreturn require '/etc/craft/secrets.php';\n", "<?php\n"])
def test_a_secrets_file_synco_cannot_read_is_one_line(tmp_path: Path, text: str) -> None:
    project = make_craft4(tmp_path, {"secrets.php": text})
    set_env(project, CRAFT_SECRETS_PATH="secrets.php")
    with pytest.raises(ConfigError, match=r"secrets file .*secrets\.php \(CRAFT_SECRETS_PATH\)") as caught:
        synco_craftcms.plugin.detect_framework(project)
    assert "\n" not in str(caught.value)


def test_a_secrets_path_naming_no_file_is_what_craft_ignores(tmp_path: Path,
                                                             craft_manager: SyncoPluginManager) -> None:
    project = make_craft4(tmp_path)
    set_env(project, CRAFT_SECRETS_PATH="/nonexistent/secrets.php")
    database = detect(project, manager=craft_manager).database
    assert database is not None and database.name == "craft"


@pytest.mark.parametrize(("name", "value", "said"), [
    ("CRAFT_CONFIG_PATH", "/srv/shared/config", True), ("CRAFT_DOTENV_PATH", "/srv/shared/.env", True),
    ("CRAFT_CONFIG_PATH", "config", False), ("CRAFT_CONFIG_PATH", "{project}/config", False),
])
def test_a_moved_config_folder_or_dotenv_is_said(tmp_path: Path, caplog: pytest.LogCaptureFixture, name: str,
                                                  value: str, said: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """synco reads the project's config/ and .env; a bootstrap path moving them was ignored, silently."""
    project = make_craft4(tmp_path)
    monkeypatch.setenv(name, value.format(project=project))
    synco_craftcms.plugin.detect_framework(project)
    assert (f"{name} moves Craft's" in caplog.text) is said
