"""File sets of synco-symfony (VichUploader, LiipImagine, public/uploads), installing them, and the CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import pytest
import synco_symfony.plugin
from click.testing import CliRunner
from synco_symfony.plugin import detect_framework, install_files, list_file_sets

from synco_core import FileSet, FileSetOptions, Framework, ReceivedFileSet
from synco_core.testing import FrameworkPluginContract, SyncoPluginManager, cli
from synco_core.testing.services import needs_php

Make = Callable[..., Path]


def sets_of(project: Path) -> dict[str, FileSet]:
    framework = detect_framework(project)
    assert framework is not None
    sets = list_file_sets(framework, FileSetOptions())
    assert sets is not None
    return {s.name: s for s in sets}


def test_vich_mappings(make_project: Make, php_mode: str) -> None:
    project = make_project("symfony7")
    sets = sets_of(project)
    assert set(sets) == {"products", "media", "invoices"}
    products = sets["products"]
    assert (products.kind, products.root, products.relative_base_path, products.url_prefix) == (
        "public", project / "public/images/products", "public/images/products", "images/products/")
    framework = detect_framework(project)
    assert framework is not None and framework.public_prefixes == ("/images/products", "/media")
    invoices = sets["invoices"]
    assert (invoices.kind, invoices.root, invoices.relative_base_path) == (
        "private", project / "private/invoices", "private/invoices")


def test_liip_cache_never_transferred(make_project: Make, php_mode: str) -> None:
    project = make_project("symfony7")
    media = sets_of(project)["media"]
    assert (media.kind, media.url_prefix) == ("public", "media/")
    # LiipImagine makes the thumbnails again: regenerated, so a laptop's stale copies go on install.
    assert media.regenerated == ("/cache",) and media.exclude == ()


def test_liip_custom_cache_prefix(make_project: Make, no_php: None) -> None:
    project = make_project("symfony7", {"config/packages/liip_imagine.yaml": (
        "liip_imagine:\n  resolvers:\n    default:\n      web_path:\n        cache_prefix: media/thumbs\n"
    )})
    assert sets_of(project)["media"].regenerated == ("/thumbs",)


def test_public_uploads_when_nothing_configured(make_project: Make, php_mode: str) -> None:
    project = make_project("symfony6")
    uploads = sets_of(project)["uploads"]
    assert (uploads.kind, uploads.root, uploads.url_prefix, uploads.relative_base_path) == (
        "public", project / "public/uploads", "uploads/", "public/uploads")
    shutil.rmtree(project / "public/uploads")
    # Still listed, so a laptop without the folder yet has a place to install a received set; serve skips it.
    missing = sets_of(project)["uploads"]
    assert missing.root == project / "public/uploads" and missing.skipped_reason is not None


VICH_ON_FLYSYSTEM = (
    "vich_uploader:\n  db_driver: orm\n  storage: flysystem\n  mappings:\n"
    "    products:\n      uri_prefix: /images/products\n      upload_destination: products.storage\n"
    "    contracts:\n      uri_prefix: /contracts\n      upload_destination: contracts.storage\n"
    "    avatars:\n      uri_prefix: /avatars\n      upload_destination: avatars.storage\n"
)
#: config/packages/flysystem.yaml as league/flysystem-bundle's recipe writes it, with more storages.
FLYSYSTEM = (
    "flysystem:\n  storages:\n"
    "    products.storage:\n      adapter: 'local'\n"
    "      options:\n        directory: '%kernel.project_dir%/public/images/products'\n"
    "    contracts.storage:\n      adapter: 'local'\n"
    "      options:\n        directory: '%kernel.project_dir%/%env(CONTRACTS_DIR)%'\n"
    "    avatars.storage:\n      adapter: 'aws'\n"
    "      options:\n        client: 'aws_client_service'\n        bucket: 'avatars'\n"
)


def test_vich_on_flysystem_local_storages_are_folders(make_project: Make, no_php: None) -> None:
    """Vich on the flysystem storage names a FlysystemBundle storage: a local adapter keeps the files in its
    directory (public inside the web root, private outside), a cloud adapter's are skipped, saying so."""
    project = make_project("symfony6", {"config/packages/vich_uploader.yaml": VICH_ON_FLYSYSTEM,
                                        "config/packages/flysystem.yaml": FLYSYSTEM,
                                        ".env.local": "CONTRACTS_DIR=var/storage/contracts\n"})
    (project / "public/images/products").mkdir(parents=True)
    (project / "var/storage/contracts").mkdir(parents=True)
    sets = sets_of(project)
    products, contracts, avatars = sets["products"], sets["contracts"], sets["avatars"]
    assert (products.kind, products.root, products.url_prefix, products.skipped_reason) == (
        "public", project / "public/images/products", "images/products/", None)
    assert (contracts.kind, contracts.root, contracts.skipped_reason) == (
        "private", project / "var/storage/contracts", None)
    assert avatars.root is None and avatars.skipped_reason is not None and "adapter aws" in avatars.skipped_reason
    assert "uploads" not in sets, "a configured bundle replaces the public/uploads guess"


def test_flysystem_storage_flysystem_yaml_does_not_define_is_skipped(make_project: Make, no_php: None) -> None:
    project = make_project("symfony6", {"config/packages/vich_uploader.yaml": VICH_ON_FLYSYSTEM})
    products = sets_of(project)["products"]
    assert products.skipped_reason is not None and "flysystem.yaml does not define" in products.skipped_reason
    assert "uploads" not in sets_of(project), "a configured bundle replaces the public/uploads guess"


def test_env_in_upload_destination(make_project: Make, no_php: None) -> None:
    project = make_project("symfony6", {
        "config/packages/vich_uploader.yaml": (
            "vich_uploader:\n  db_driver: orm\n  mappings:\n    docs:\n      uri_prefix: /docs\n"
            "      upload_destination: '%kernel.project_dir%/%env(DOCS_DIR)%'\n"
        ),
        ".env.local": "DOCS_DIR=var/docs\n",
    })
    docs = sets_of(project)["docs"]
    assert (docs.kind, docs.root) == ("private", project / "var/docs")
    assert docs.skipped_reason is not None and "does not exist" in docs.skipped_reason


def test_install_into_mapping(make_project: Make, no_php: None, tmp_path: Path) -> None:
    project = make_project("symfony7")
    framework = detect_framework(project)
    assert framework is not None
    source = tmp_path / "received"
    (source / "sub").mkdir(parents=True)
    (source / "sub/new.txt").write_text("new\n")
    result = install_files(framework, ReceivedFileSet("products", "public", "public/images/products"), source)
    assert result is not None and result.destination == project / "public/images/products"
    assert (project / "public/images/products/sub/new.txt").read_text() == "new\n"
    assert not (project / "public/images/products/chair-65f1a2.txt").exists()
    assert install_files(framework, ReceivedFileSet("elsewhere", "private", "var/x"), source) is None
    other = Framework(name="Other", plugin="other", project_dir=project)
    assert install_files(other, ReceivedFileSet("products", "public", "x"), source) is None
    assert list_file_sets(other, FileSetOptions()) is None


@needs_php
def test_post_install_cache_clear(make_project: Make) -> None:
    project = make_project("symfony7")
    (project / "var/cache/dev").mkdir(parents=True)
    framework = detect_framework(project)
    assert framework is not None
    (argv,) = framework.post_install
    output = subprocess.run(argv, cwd=project, capture_output=True, text=True, check=True).stdout
    assert 'Cache for the "dev" environment (debug=true) was successfully cleared' in output
    assert not (project / "var/cache/dev").exists()


def test_detect_json(make_project: Make, php_mode: str, symfony_manager: SyncoPluginManager) -> None:
    project = make_project("symfony7", {".env.local": "DATABASE_URL=mysql://app:json-secret-pw@db:3306/app\n"})
    result = CliRunner().invoke(cli, ["detect", "--json", str(project)])
    assert result.exit_code == 0, result.output
    assert "json-secret-pw" not in result.output
    data = json.loads(result.stdout)
    assert (data["framework"], data["plugin"], data["configSource"]) == ("Symfony", "symfony", php_mode)
    assert data["database"]["url"] == "mysql://app:***@db:3306/app"
    assert {s["name"]: s["kind"] for s in data["fileSets"]} == {
        "products": "public", "media": "public", "invoices": "private"}
    assert data["postInstall"][0].endswith("bin/console cache:clear")
    assert data["otherConnections"] == {}


def test_debug_detect_says_which_way(make_project: Make, php_mode: str,
                                     symfony_manager: SyncoPluginManager) -> None:
    result = CliRunner().invoke(cli, ["--debug", "detect", str(make_project("symfony7"))])
    assert result.exit_code == 0, result.output
    assert "framework Symfony detected by symfony (bin/console and config/bundles.php found" in result.stderr
    assert f"settings from {php_mode}\n" in result.stderr
    expected = "confirmed by bin/console debug:dotenv" if php_mode == "php" else "read from the .env files"
    assert expected in result.stderr


def test_detect_lists_other_connections(make_project: Make, php_mode: str,
                                        symfony_manager: SyncoPluginManager) -> None:
    project = make_project("symfony7", {
        "config/packages/doctrine.yaml": (
            "doctrine:\n  dbal:\n    default_connection: shop\n    connections:\n"
            "      legacy:\n        url: '%env(resolve:LEGACY_DATABASE_URL)%'\n"
            "      shop:\n        url: '%env(resolve:SHOP_DATABASE_URL)%'\n"
        ),
        ".env.local": "SHOP_DATABASE_URL=mysql://shop:shop-pw@shop-db/shop\n"
                      "LEGACY_DATABASE_URL=postgresql://old:old-secret-pw@old-db/old\n",
    })
    result = CliRunner().invoke(cli, ["detect", "--json", str(project)])
    assert result.exit_code == 0, result.output
    assert "old-secret-pw" not in result.output
    data = json.loads(result.stdout)
    assert data["database"]["url"] == "mysql://shop:***@shop-db/shop"
    assert data["otherConnections"] == {"legacy": "postgresql://old:***@old-db/old"}
    text = CliRunner().invoke(cli, ["detect", str(project)])
    assert text.exit_code == 0, text.output
    assert "Not dumped: legacy: postgresql://old:***@old-db/old" in text.output


class TestSymfonyContract(FrameworkPluginContract):
    plugin: ClassVar[object] = synco_symfony.plugin
    plugin_name: ClassVar[str] = "symfony"

    @pytest.fixture
    def project_dir(self, tmp_path: Path) -> Path:
        fixtures = Path(__file__).parent / "fixtures"
        target = tmp_path / "symfony7"
        shutil.copytree(fixtures / "symfony7", target)
        (target / "vendor").mkdir()
        shutil.copy(fixtures / "fake-symfony-runtime.php", target / "vendor" / "autoload_runtime.php")
        return target
