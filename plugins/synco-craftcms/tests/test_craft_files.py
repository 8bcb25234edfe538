"""synco-craftcms: asset volumes as file sets, and installing them into the local project."""

from __future__ import annotations

from pathlib import Path

import pytest
import synco_craftcms.plugin
from craft_support import make_craft4

from synco_core import FileSet, FileSetOptions, Framework, ReceivedFileSet, walk_files
from synco_core.testing import SyncoPluginManager, detect, list_file_sets

CRAFT3_VOLUME = ("handle: legacy\nhasUrls: true\nname: Legacy\nsettings:\n  path: $LEGACY_PATH\n"
                 "type: craft\\volumes\\Local\nurl: '@web/legacy'\n")


def sets_of(project: Path, manager: SyncoPluginManager, everything: bool = False) -> dict[str, FileSet]:
    return {s.name: s for s in list_file_sets(detect(project, manager=manager), FileSetOptions(all=everything),
                                              manager=manager)}


def files(file_set: FileSet) -> list[str]:
    assert file_set.root is not None
    return [relative for relative, _ in walk_files(file_set.root, file_set.left_out)]


def test_craft4_volumes(tmp_path: Path, craft_manager: SyncoPluginManager) -> None:
    sets = sets_of(make_craft4(tmp_path), craft_manager)
    images, documents = sets["volume-images"], sets["volume-documents"]
    assert (images.kind, images.relative_base_path, images.url_prefix) == ("public", "web/uploads/images",
                                                                            "uploads/images/")
    assert (documents.kind, documents.relative_base_path) == ("private", "storage/documents")
    # Transforms (named and ad hoc) are generated again by Craft: left out unless --all.
    assert files(images) == ["2024/dog.jpg", "cat.jpg"]
    assert files(documents) == ["contract.pdf"]
    everything = sets_of(tmp_path, craft_manager, everything=True)["volume-images"]
    assert len(files(everything)) == 4
    # Craft makes the transforms again from the originals: a laptop's stale copies go on install; the junk
    # files and nested volumes are the laptop's own (kept).
    assert images.regenerated == ("_thumb", "_*x*_*_*") and everything.regenerated == ()
    assert images.exclude == ("**/.DS_Store", "**/Thumbs.db")


def test_aliases_environment_and_subpath(tmp_path: Path, craft_manager: SyncoPluginManager) -> None:
    project = make_craft4(tmp_path, {
        "config/general.php": "<?php\nuse craft\\helpers\\App;\nreturn ['*' => ['aliases' => ["
                              "'@assets' => App::env('ASSETS_PATH')]], 'dev' => []];\n",
        ".env": "ASSETS_PATH=@webroot/files\nLEGACY_PATH=@root/legacy-files\n",
        "config/project/fs/images.yaml": "hasUrls: true\nsettings:\n  path: '@assets'\ntype: craft\\fs\\Local\n",
        "config/project/volumes/images--6f2a0b1c-aaaa-4bbb-8ccc-000000000002.yaml": "fs: images\nhandle: images\n"
                                                                                     "subpath: photos\n",
        "config/project/volumes/legacy--6f2a0b1c-aaaa-4bbb-8ccc-000000000009.yaml": CRAFT3_VOLUME,
        "web/files/photos/a.jpg": "a", "legacy-files/b.pdf": "b",
    })
    sets = sets_of(project, craft_manager)
    assert sets["volume-images"].relative_base_path == "web/files/photos"
    assert sets["volume-images"].url_prefix == "files/photos/"
    # Outside the web root: private, whatever hasUrls says.
    assert (sets["volume-legacy"].kind, sets["volume-legacy"].relative_base_path) == ("private", "legacy-files")


@pytest.mark.parametrize(("fs", "reason"), [
    ("type: craft\\awss3\\Fs\nsettings:\n  bucket: b\n", "not local"),
    ("type: craft\\fs\\Local\nsettings:\n  path: '@unknownAlias/x'\n", "@unknownAlias is not known"),
    ("type: craft\\fs\\Local\nsettings:\n  path: /srv/shared/uploads\n", "not inside the project"),
    ("type: craft\\fs\\Local\nsettings:\n  path: $UNSET_PATH\n", "$UNSET_PATH is not set"),
])
def test_volumes_synco_cannot_copy_are_shown_skipped(tmp_path: Path, craft_manager: SyncoPluginManager, fs: str,
                                                     reason: str) -> None:
    project = make_craft4(tmp_path, {"config/project/fs/images.yaml": fs})
    images = sets_of(project, craft_manager)["volume-images"]
    assert images.skipped_reason is not None and reason in images.skipped_reason


def test_nested_volume_is_its_own_set_and_survives_the_outer_install(tmp_path: Path,
                                                                     craft_manager: SyncoPluginManager) -> None:
    nested = {"config/project/fs/documents.yaml": "hasUrls: true\nsettings:\n  path: '@webroot/uploads'\n"
                                                  "type: craft\\fs\\Local\n", "web/uploads/readme.txt": "top"}
    source = make_craft4(tmp_path / "source", nested)
    sets = sets_of(source, craft_manager)
    assert files(sets["volume-documents"]) == ["readme.txt"]
    local = make_craft4(tmp_path / "local", {**nested, "web/uploads/images/local-only.jpg": "local"})
    framework = detect(local, manager=craft_manager)
    received = tmp_path / "received"
    (received / "new.txt").parent.mkdir(parents=True)
    (received / "new.txt").write_text("new")
    result = synco_craftcms.plugin.install_files(
        framework, ReceivedFileSet("volume-documents", "public", "web/uploads"), received)
    assert result is not None and result.destination == local / "web/uploads"
    assert (local / "web/uploads/new.txt").read_text() == "new"
    assert not (local / "web/uploads/readme.txt").exists()
    assert (local / "web/uploads/images/local-only.jpg").read_text() == "local"


def test_other_frameworks_sets_are_not_installed(tmp_path: Path) -> None:
    other = Framework(name="X", plugin="other", project_dir=tmp_path)
    assert synco_craftcms.plugin.install_files(other, ReceivedFileSet("volume-images", "public", "x"), tmp_path) is None


def test_default_uploads_folder_without_volumes(tmp_path: Path, craft_manager: SyncoPluginManager) -> None:
    project = make_craft4(tmp_path)
    for path in (project / "config/project/volumes").iterdir():
        path.unlink()
    (project / "web/uploads/x.txt").write_text("x")
    sets = sets_of(project, craft_manager)
    assert list(sets) == ["volume-uploads"] and sets["volume-uploads"].relative_base_path == "web/uploads"


@pytest.mark.parametrize("path", ["@webroot", "@webroot/", "@root/web/../web", "@root/config/..", "@config",
                                  "@root"])
def test_volume_holding_the_site_itself_is_skipped(tmp_path: Path, craft_manager: SyncoPluginManager,
                                                   path: str) -> None:
    # Installing such a set would replace web/index.php, the config or the whole project with the upload folder.
    project = make_craft4(tmp_path, {"config/project/fs/images.yaml": f"hasUrls: true\nsettings:\n  path: '{path}'\n"
                                                                      "type: craft\\fs\\Local\n"})
    images = sets_of(project, craft_manager)["volume-images"]
    assert images.root is None and images.skipped_reason is not None, images


def test_craft31_single_project_yaml(tmp_path: Path, craft_manager: SyncoPluginManager) -> None:
    # Craft 3.1-3.4 keep the whole project config in config/project.yaml, volumes and transforms by UID.
    project = make_craft4(tmp_path, {"config/project.yaml": (
        "volumes:\n"
        "  0b1f3c3e-aaaa-4bbb-8ccc-000000000011:\n"
        "    handle: media\n    name: Media\n    hasUrls: true\n    type: craft\\volumes\\Local\n"
        "    settings:\n      path: '@webroot/media'\n"
        "imageTransforms:\n"
        "  0b1f3c3e-aaaa-4bbb-8ccc-000000000012:\n    handle: hero\n    width: 1600\n"),
        "web/media/a.jpg": "a", "web/media/_hero/a.jpg": "hero of a"})
    for folder in ("volumes", "fs", "imageTransforms"):
        for path in (project / "config/project" / folder).iterdir():
            path.unlink()
    sets = sets_of(project, craft_manager)
    assert list(sets) == ["volume-media"]
    assert (sets["volume-media"].kind, files(sets["volume-media"])) == ("public", ["a.jpg"])


WEB_FILES = ("web/index.php", "web/uploads/images/cat.jpg", "web/uploads/images/2024/dog.jpg",
             "web/uploads/images/_thumb/cat.jpg", "web/uploads/images/_200x200_crop_center-center_none/cat.jpg")


@pytest.mark.parametrize("folder", ["public", "public_html", "www", "html", "htdocs"])
@pytest.mark.parametrize("relative", [False, True])
def test_a_web_root_renamed_from_web_is_where_index_php_runs(tmp_path: Path, craft_manager: SyncoPluginManager,
                                                              folder: str, relative: bool) -> None:
    """Craft sets @webroot to the folder of the index.php that runs it: a project whose web/ was renamed
    (public/, as hosting panels want) and whose config/general.php does not say so in a form synco reads
    (the fluent GeneralConfig::create()) has its web root and @webroot volumes there, not in a web/ that
    does not exist; a relative volume path is relative to it too."""
    moved: dict[str, str | None] = {name: None for name in WEB_FILES}
    moved.update({name.replace("web/", f"{folder}/", 1): "x" for name in WEB_FILES})
    if relative:
        moved["config/project/fs/images.yaml"] = ("hasUrls: true\nname: Images\nsettings:\n  path: uploads/images\n"
                                                  "type: craft\\fs\\Local\nurl: '@web/uploads/images'\n")
    project = make_craft4(tmp_path, moved)
    assert not (project / "web").exists()
    framework = detect(project, manager=craft_manager)
    assert framework.web_root == project / folder
    images = sets_of(project, craft_manager)["volume-images"]
    assert images.root == project / folder / "uploads/images"
    assert (images.kind, images.relative_base_path, images.skipped_reason) == (
        "public", f"{folder}/uploads/images", None)
    assert files(images) == ["2024/dog.jpg", "cat.jpg"]


def test_web_stays_the_web_root_beside_another_folder_with_an_index_php(tmp_path: Path,
                                                                       craft_manager: SyncoPluginManager) -> None:
    project = make_craft4(tmp_path, {"public/index.php": "<?php\n"})
    assert detect(project, manager=craft_manager).web_root == project / "web"
    empty = make_craft4(tmp_path / "none", {name: None for name in WEB_FILES})
    assert detect(empty, manager=craft_manager).web_root == empty / "web"
