"""WordPress as deploy tools lay it out (Deployer, Capistrano, Envoyer): a release folder whose uploads folder
and local configuration file are links into a ``shared/`` folder beside the releases, relative or absolute.

PHP reads the configuration through the link and the web server serves the uploads through it, so both
are part of the site wherever the links lead.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from test_wordpress_bedrock import ENV, bedrock_site
from wp_support import configure, copy_site

from synco_core import FileSetOptions
from synco_core.testing import SyncoPluginManager, detect, list_file_sets


def link(path: Path, target: Path, absolute: bool) -> None:
    path.symlink_to(target if absolute else os.path.relpath(target, path.parent))


def deployed(base: Path, absolute: bool, fixture: str = "wordpress") -> Path:
    """``base/releases/1`` (returned) with its uploads and its local configuration (wp-config-local.php,
    Bedrock's .env) in ``base/shared``."""
    release = bedrock_site(base / "releases" / "1", None) if fixture == "bedrock" else copy_site(
        base / "releases" / "1", fixture)
    uploads = Path("web/app/uploads" if fixture == "bedrock" else "wp-content/uploads")
    shared = base / "shared"
    (shared / uploads).parent.mkdir(parents=True)
    shutil.move(release / uploads, shared / uploads)
    link(release / uploads, shared / uploads, absolute)
    if fixture == "wordpress":
        configure(release, "db_of_release")
        (shared / "wp-config-local.php").write_text("<?php\n$table_prefix = 'shop_';\n")
        link(release / "wp-config-local.php", shared / "wp-config-local.php", absolute)
    else:
        (shared / ".env").write_text(ENV)
        link(release / ".env", shared / ".env", absolute)
    (base / "current").symlink_to("releases/1")
    return release


@pytest.mark.parametrize("fixture", ["wordpress", "bedrock"])
@pytest.mark.parametrize("absolute", [False, True], ids=["relative", "absolute"])
@pytest.mark.parametrize("start", ["releases/1", "current"])
def test_shared_uploads_are_the_public_set(tmp_path: Path, wordpress_manager: SyncoPluginManager, no_php: None,
                                           absolute: bool, start: str, fixture: str) -> None:
    deployed(tmp_path / "srv", absolute, fixture)
    [uploads] = list_file_sets(detect(tmp_path / "srv" / start), FileSetOptions())
    assert uploads.skipped_reason is None
    prefix = "app/uploads" if fixture == "bedrock" else "wp-content/uploads"
    assert uploads.url_prefix == prefix + "/"
    assert uploads.relative_base_path == ("web/" if fixture == "bedrock" else "") + prefix
    assert uploads.root is not None
    assert Path(os.path.realpath(uploads.root)).is_relative_to((tmp_path / "srv" / "shared").resolve())


@pytest.mark.parametrize("absolute", [False, True], ids=["relative", "absolute"])
def test_shared_local_config_is_read(tmp_path: Path, wordpress_manager: SyncoPluginManager, no_php: None,
                                     absolute: bool) -> None:
    framework = detect(deployed(tmp_path / "srv", absolute))
    assert framework.settings["table_prefix"] == "shop_"
    assert not any("wp-config-local.php" in note for note in framework.settings["notes"])
