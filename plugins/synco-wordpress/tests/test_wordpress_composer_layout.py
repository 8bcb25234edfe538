"""synco-wordpress: a Composer-managed WordPress (johnpbloch/wordpress, roots/wordpress without Bedrock) whose
composer.json installs the core into ``extra.wordpress-install-dir`` (``public/wp``) is found from the
project's folder, where composer.json is, with its web root the folder that serves it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import synco_wordpress.plugin
from wp_support import configure, copy_site

from synco_core.testing import SyncoPluginManager, detect


def composer_project(base: Path, install_dir: str | dict[str, str], core: str) -> Path:
    """``base``: composer.json, and the web root (the folder above the core) holding wp-config.php, index.php
    and wp-content/, as WordPress in its own directory is laid out."""
    project = base / "project"
    copy_site(project / core)
    configure(project / core, "composer_wp")
    web = (project / core).parent
    (project / core / "wp-config.php").rename(web / "wp-config.php")
    shutil.move(str(project / core / "wp-content"), web / "wp-content")
    (web / "index.php").write_text(f"<?php\nrequire __DIR__ . '/{Path(core).name}/wp-blog-header.php';\n")
    (project / "composer.json").write_text(json.dumps({
        "require": {"johnpbloch/wordpress": "^6.5"}, "extra": {"wordpress-install-dir": install_dir}}))
    return project


@pytest.mark.parametrize(("install_dir", "core"), [
    ("public/wp", "public/wp"), ("web/wordpress", "web/wordpress"), ("htdocs/cms", "htdocs/cms"),
    ({"johnpbloch/wordpress-core": "public/wp"}, "public/wp"),
])
def test_the_core_composer_json_installs_is_found_from_the_project(
        tmp_path: Path, wordpress_manager: SyncoPluginManager, no_php: None, install_dir: str | dict[str, str],
        core: str) -> None:
    """Run where composer.json is, such a project was not WordPress to synco (no framework detected)."""
    project = composer_project(tmp_path, install_dir, core)
    framework = detect(project)
    assert framework.plugin == "wordpress"
    assert framework.database is not None and framework.database.name == "composer_wp"
    assert framework.settings["root"] == str(project / core)
    assert framework.web_root == (project / core).parent


def test_an_install_dir_outside_the_project_is_not_followed(tmp_path: Path, no_php: None) -> None:
    project = composer_project(tmp_path, "public/wp", "public/wp")
    (project / "composer.json").write_text(json.dumps({"extra": {"wordpress-install-dir": "../elsewhere/wp"}}))
    assert synco_wordpress.plugin.detect_framework(project) is None
