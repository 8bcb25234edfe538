"""Drupal as deploy tools lay it out (Deployer, Capistrano): a release folder whose ``sites/<site>/files`` and
``settings.local.php`` are links into a ``shared/`` folder beside the releases, relative or absolute.

The web server follows those links, so they are part of the site: the public files are served at
``/sites/<site>/files/`` and the shared settings are read, wherever the links lead.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from drupal_support import copy_project

from synco_core import FileSetOptions
from synco_core.testing import SyncoPluginManager, detect, list_file_sets

LOCAL_SETTINGS = "<?php\n$databases['default']['default']['database'] = 'drupal_from_shared';\n"


def deployed(base: Path, absolute: bool, site: str = "default") -> Path:
    """``base/releases/1`` (returned) with its site's files folder and settings.local.php in ``base/shared``."""
    release = copy_project(base / "releases" / "1")
    site_dir = release / "web" / "sites" / site
    site_dir.mkdir(parents=True, exist_ok=True)
    shared = base / "shared" / "web" / "sites" / site
    shared.mkdir(parents=True)
    if (site_dir / "files").exists():
        shutil.move(site_dir / "files", shared / "files")
    else:
        (shared / "files").mkdir()
    (shared / "files" / "2024").mkdir(exist_ok=True)
    (shared / "files" / "2024" / "photo.jpg").write_bytes(b"jpeg")
    (shared / "settings.local.php").write_text(LOCAL_SETTINGS)
    for name in ("files", "settings.local.php"):
        target = shared / name
        (site_dir / name).symlink_to(target if absolute else os.path.relpath(target, site_dir))
    return release


@pytest.mark.parametrize("absolute", [False, True], ids=["relative", "absolute"])
@pytest.mark.parametrize("start", ["releases/1", "current"])
def test_shared_files_folder_is_the_public_set(tmp_path: Path, drupal_manager: SyncoPluginManager, no_php: None,
                                               absolute: bool, start: str) -> None:
    release = deployed(tmp_path / "srv", absolute)
    (tmp_path / "srv" / "current").symlink_to("releases/1")
    framework = detect(tmp_path / "srv" / start)
    [public] = [item for item in list_file_sets(framework, FileSetOptions()) if item.name == "public"]
    assert public.skipped_reason is None
    assert public.url_prefix == "sites/default/files/"
    assert public.relative_base_path == "web/sites/default/files"
    assert Path(os.path.realpath(str(public.root))) == (tmp_path / "srv" / "shared/web/sites/default/files").resolve()
    assert framework.project_dir == release.resolve()


@pytest.mark.parametrize("absolute", [False, True], ids=["relative", "absolute"])
def test_shared_settings_local_is_read(tmp_path: Path, drupal_manager: SyncoPluginManager, no_php: None,
                                       absolute: bool) -> None:
    release = deployed(tmp_path / "srv", absolute)
    database = detect(release).database
    assert database is not None
    assert database.name == "drupal_from_shared"
