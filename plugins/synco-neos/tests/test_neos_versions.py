"""Which Neos a distribution runs, from composer.lock, the installed packages or composer.json.

Real distributions install Neos.Neos under ``Packages/Application/`` (the Flow installer), ``Packages/Neos/``
(the development collection) or next to Flow in ``Packages/Framework/``; the version must be found in each.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from synco_neos import plugin
from synco_neos.resourcedb import EVENTLOG_TABLE, THUMBNAIL_TABLE
from synco_neos.versions import has_neos_media, neos_major_version

from synco_core.testing import configured_dump_options

GROUPS = ("Application", "Neos", "Framework")


def install_package(project: Path, group: str, key: str, composer: dict[str, object] | None = None) -> Path:
    """A package folder as Composer's Flow installer leaves it: ``Packages/<group>/<key>/composer.json``."""
    folder = project / "Packages" / group / key
    folder.mkdir(parents=True)
    name = key.lower().replace(".", "/", 1)
    (folder / "composer.json").write_text(json.dumps({"name": name, "type": "neos-package", **(composer or {})}))
    return folder


def packages_only(project: Path) -> Path:
    """The project without composer.json/composer.lock (deployed without them, as some builds do)."""
    for name in ("composer.json", "composer.lock"):
        (project / name).unlink(missing_ok=True)
    return project


@pytest.mark.parametrize("group", GROUPS)
def test_packages_only_neos8(tmp_path: Path, group: str) -> None:
    install_package(tmp_path, "Framework", "Neos.Flow")
    install_package(tmp_path, group, "Neos.Neos")
    install_package(tmp_path, group, "Neos.Media")
    assert neos_major_version(tmp_path) == 8
    assert has_neos_media(tmp_path)


@pytest.mark.parametrize("group", GROUPS)
def test_packages_only_neos9_by_its_content_repository(tmp_path: Path, group: str) -> None:
    install_package(tmp_path, group, "Neos.Neos")
    install_package(tmp_path, group, "Neos.ContentRepository.Core")
    assert neos_major_version(tmp_path) == 9
    assert has_neos_media(tmp_path), "Neos always brings Neos.Media"


@pytest.mark.parametrize(("version", "major"), [("9.0.2", 9), ("v8.3.9", 8), ("7.3.0", 7)])
def test_packages_only_version_of_neos_neos_composer_json(tmp_path: Path, version: str, major: int) -> None:
    install_package(tmp_path, "Neos", "Neos.Neos", {"version": version})
    # The package's own version wins over guessing from what is installed beside it.
    install_package(tmp_path, "Neos", "Neos.ContentRepository.Core")
    assert neos_major_version(tmp_path) == major


@pytest.mark.parametrize("layout", ["composer2", "composer1"])
def test_packages_only_version_from_installed_json(tmp_path: Path, layout: str) -> None:
    install_package(tmp_path, "Application", "Neos.Neos")
    packages = [{"name": "neos/flow", "version": "9.0.3"}, {"name": "neos/neos", "version": "v9.0.3"}]
    installed = tmp_path / "Packages/Libraries/composer/installed.json"
    installed.parent.mkdir(parents=True)
    installed.write_text(json.dumps({"packages": packages, "dev": False} if layout == "composer2" else packages))
    assert neos_major_version(tmp_path) == 9


def test_flow_application_without_neos(tmp_path: Path) -> None:
    install_package(tmp_path, "Framework", "Neos.Flow")
    install_package(tmp_path, "Application", "Acme.Shop")
    assert neos_major_version(tmp_path) is None
    assert not has_neos_media(tmp_path)


def test_flow_application_with_neos_media_only(tmp_path: Path) -> None:
    install_package(tmp_path, "Application", "Neos.Media")
    assert neos_major_version(tmp_path) is None
    assert has_neos_media(tmp_path)


@pytest.mark.parametrize(("constraint", "major"), [("^9.0", 9), ("~8.3.0", 8), ("9.0.*", 9), ("^8.3 || ^9.0", 8)])
def test_composer_json_constraint(tmp_path: Path, constraint: str, major: int) -> None:
    """Only composer.json (no lock, nothing installed yet): its constraint decides; several majors count as 8."""
    (tmp_path / "composer.json").write_text(json.dumps({"require": {"neos/neos": constraint}}))
    assert neos_major_version(tmp_path) == major
    assert has_neos_media(tmp_path)


def test_composer_lock_wins_over_installed_packages(tmp_path: Path) -> None:
    (tmp_path / "composer.lock").write_text(json.dumps({"packages": [{"name": "neos/neos", "version": "8.3.9"}]}))
    install_package(tmp_path, "Neos", "Neos.Neos", {"version": "9.0.0"})
    assert neos_major_version(tmp_path) == 8


def _copy(fixture: str, tmp_path: Path) -> Path:
    target = tmp_path / fixture
    shutil.copytree(Path(__file__).parent / "fixtures" / fixture, target, symlinks=True)
    return packages_only(target)


@pytest.mark.parametrize("group", GROUPS)
def test_detect_framework_packages_only_neos8(tmp_path: Path, no_php: None, group: str) -> None:
    """The smart transfer of a Packages/-only Neos 8: thumbnails and the event log are left out."""
    project = _copy("neos8", tmp_path)
    install_package(project, group, "Neos.Neos")
    install_package(project, group, "Neos.Media")
    framework = plugin.detect_framework(project)
    assert framework is not None
    assert framework.settings["neos_version"] == 8 and "(Neos 8)" in framework.reason
    assert set(configured_dump_options(framework).smart_exclude_tables) == {THUMBNAIL_TABLE, EVENTLOG_TABLE}


def test_detect_framework_packages_only_neos9(tmp_path: Path, no_php: None) -> None:
    project = _copy("neos9", tmp_path)
    for key in ("Neos.Neos", "Neos.Media", "Neos.ContentRepository.Core"):
        install_package(project, "Neos", key)
    framework = plugin.detect_framework(project)
    assert framework is not None
    assert framework.settings["neos_version"] == 9 and "(Neos 9)" in framework.reason
    assert configured_dump_options(framework).smart_exclude_tables == (THUMBNAIL_TABLE,)


def test_fixture_without_any_record_is_plain_flow(make_project: Callable[[str], Path], no_php: None) -> None:
    framework = plugin.detect_framework(packages_only(make_project("neos8")))
    assert framework is not None
    assert framework.settings["neos_version"] is None and "(Neos" not in framework.reason
    assert configured_dump_options(framework).smart_exclude_tables == ()
