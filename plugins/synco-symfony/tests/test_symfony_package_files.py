"""synco-symfony: a bundle's configuration is read from whichever package file holds it, as the kernel loads
``config/packages/*`` and ``config/packages/<env>/*`` (every file, ``.yaml`` and Symfony 4's ``.yml``, in
name order, the environment's folder after), not only from the file named after the bundle."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from synco_symfony.plugin import detect_framework

from synco_core import FileSetOptions
from synco_core.testing import list_file_sets

Make = Callable[..., Path]

DOCTRINE = "doctrine:\n  dbal:\n    url: '%env(resolve:SHOP_DATABASE_URL)%'\n"
ENV = ("APP_ENV=prod\nDATABASE_URL=postgresql://recipe:recipe-pw@recipe-db/recipe\n"
       "SHOP_DATABASE_URL=mysql://shop:shop-pw@shop-db/shop\n")

#: Where projects keep doctrine's settings besides doctrine.yaml.
LAYOUTS = {
    "symfony4_yml": {"config/packages/doctrine.yml": DOCTRINE},
    "other_name": {"config/packages/database.yaml": DOCTRINE},
    "env_folder_other_name": {"config/packages/prod/orm.yml": DOCTRINE},
    "when_env_in_other_file": {"config/packages/zz_overrides.yaml":
                               "when@prod:\n  " + DOCTRINE.replace("\n  ", "\n    ")},
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_doctrine_settings_in_any_package_file_are_read(make_project: Make, no_php: None, layout: str) -> None:
    """synco read doctrine.yaml alone: settings in doctrine.yml (Symfony 4), or in another package file,
    left the recipe's DATABASE_URL taken for the application's database, silently."""
    project = make_project("symfony7", {".env.local": ENV, **LAYOUTS[layout]})
    if layout != "when_env_in_other_file":
        (project / "config/packages/doctrine.yaml").unlink()
    framework = detect_framework(project)
    assert framework is not None and framework.database is not None
    assert (framework.database.host, framework.database.name) == ("shop-db", "shop")


def test_later_package_files_win_in_name_order(make_project: Make, no_php: None) -> None:
    project = make_project("symfony7", {
        ".env.local": ENV + "LATE_DATABASE_URL=mysql://late:pw@late-db/late\n",
        "config/packages/a_database.yaml": DOCTRINE,
        "config/packages/prod/doctrine.yml": "doctrine:\n  dbal:\n    url: '%env(resolve:LATE_DATABASE_URL)%'\n"})
    framework = detect_framework(project)
    assert framework is not None and framework.database is not None
    assert framework.database.name == "late"


def test_upload_mappings_in_a_yml_file_are_file_sets(make_project: Make, no_php: None) -> None:
    project = make_project("symfony7")
    text = (project / "config/packages/vich_uploader.yaml").read_text()
    (project / "config/packages/vich_uploader.yaml").unlink()
    (project / "config/packages/vich_uploader.yml").write_text(text)
    framework = detect_framework(project)
    assert framework is not None
    assert {s.name for s in list_file_sets(framework, FileSetOptions()) or []} == {"products", "media", "invoices"}


def test_doctrine_configured_in_php_is_said(make_project: Make, no_php: None,
                                            caplog: pytest.LogCaptureFixture) -> None:
    project = make_project("symfony7", {"config/packages/doctrine.php": (
        "<?php\nuse Symfony\\Config\\DoctrineConfig;\nuse function Symfony\\Component\\DependencyInjection\\"
        "Loader\\Configurator\\env;\nreturn static function (DoctrineConfig $doctrine): void {\n"
        "    $doctrine->dbal()->connection('default')->url(env('SHOP_DATABASE_URL')->resolve());\n};\n")})
    (project / "config/packages/doctrine.yaml").unlink()
    detect_framework(project)
    assert "doctrine.php" in caplog.text and "not read" in caplog.text
