"""Issue 14, item 2: where a set is installed is the local project's decision.

The local project's plugin (``list_file_sets``) says where the set named X lives; the session's
``relativeBasePath`` is only a hint that must agree. Nothing is installed into ``.git``, ``vendor``,
``node_modules``, any ``bin``, the project folder itself, or anywhere whose resolved location leaves the
project: such a set is refused with one line naming it, before anything is replaced.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from crafted_session import CraftedServer, CraftedSession, error_lines, file, tar_bytes
from hypothesis import given, settings
from hypothesis import strategies as st

from synco_core import FileSet, FileSetOptions, Framework, hookimpl
from synco_core.cli.main import cli
from synco_core.destinations import check_destination
from synco_core.errors import ConfigError

MARKER = "local-site.marker"
HOOK = b"#!/bin/sh\necho pwned\n"


class LocalSite:
    """The laptop's project: a marker file, no database, and the file sets a test gives it."""

    def __init__(self, sets: dict[str, str]) -> None:
        self.sets = sets

    @hookimpl
    def detect_framework(self, project_dir: Path) -> Framework | None:
        if not (project_dir / MARKER).exists():
            return None
        return Framework(name="LocalSite", plugin="localsite", project_dir=project_dir, reason="marker")

    @hookimpl
    def list_file_sets(self, framework: Framework, options: FileSetOptions) -> list[FileSet] | None:
        if framework.plugin != "localsite":
            return None
        return [FileSet(name=name, kind="private", relative_base_path=path) for name, path in self.sets.items()]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project with things an attacker wants to replace: git hooks, vendor code, a bin folder."""
    project = tmp_path / "project"
    for relative, content in {MARKER: b"", ".git/hooks/pre-commit": b"#!/bin/sh\nexit 0\n",
                              "vendor/autoload.php": b"<?php // composer\n", "bin/console": b"#!/usr/bin/env php\n",
                              "node_modules/x/index.js": b"", "data/files/old.txt": b"old\n"}.items():
        path = project / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return project


def _snapshot(root: Path) -> dict[str, bytes]:
    found = {}
    for folder, _dirs, names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            found[str(path.relative_to(root))] = os.readlink(path).encode() if path.is_symlink() else path.read_bytes()
    return found


def _install(crafted: CraftedSession, server: CraftedServer, project: Path, target: Path) -> Any:
    return CliRunner().invoke(cli, ["receive", crafted.session_id, crafted.key, "--base-url", server.url, "--target",
                                    str(target), "--all", "--install", "--yes", "--project", str(project)])


def _refused(result: Any, name: str) -> str:
    assert result.exit_code == 1, result.output
    [line] = error_lines(result.output)
    assert f"file set {name!r}" in line, line
    return str(line)


@pytest.mark.parametrize("hint", [".git/hooks", "vendor", "bin", "node_modules/x", "app/bin/tools", "../outside",
                                  "data", "data/files/sub", "/etc"])
def test_the_sessions_base_path_is_only_a_hint(crafted: CraftedSession, crafted_server: Callable[..., CraftedServer],
                                              register_plugin: Any, project: Path, tmp_path: Path, hint: str) -> None:
    """The local project keeps ``files`` in data/files: a session saying anything else installs nothing."""
    register_plugin(LocalSite({"files": "data/files"}), "localsite")
    crafted.ready(crafted.private_set(tar_bytes(file("pre-commit", HOOK, mode=0o755)), relative_base_path=hint))
    before = _snapshot(tmp_path / "project")
    result = _install(crafted, crafted_server(crafted.web_root), project, tmp_path / "dump")
    _refused(result, "files")
    assert _snapshot(tmp_path / "project") == before
    assert not (tmp_path / "outside").exists()


def test_a_set_the_local_project_does_not_know_is_not_installed(
        crafted: CraftedSession, crafted_server: Callable[..., CraftedServer], register_plugin: Any, project: Path,
        tmp_path: Path) -> None:
    register_plugin(LocalSite({"files": "data/files"}), "localsite")
    crafted.ready(crafted.private_set(tar_bytes(file("autoload.php", b"<?php evil();\n")), name="extra",
                                      relative_base_path="vendor/composer"))
    before = _snapshot(project)
    line = _refused(_install(crafted, crafted_server(crafted.web_root), project, tmp_path / "dump"), "extra")
    assert "no file set of that name" in line
    assert _snapshot(project) == before


@pytest.mark.parametrize("local", [".git/hooks", "vendor/composer", "node_modules", "tools/bin", "BIN", "Vendor",
                                   "."])
def test_places_nothing_is_ever_installed_into(crafted: CraftedSession, crafted_server: Callable[..., CraftedServer],
                                              register_plugin: Any, project: Path, tmp_path: Path, local: str) -> None:
    """Even when the local project itself names such a place (and the session agrees)."""
    register_plugin(LocalSite({"tools": local}), "localsite")
    crafted.ready(crafted.private_set(tar_bytes(file("pre-commit", HOOK)), name="tools", relative_base_path=local))
    before = _snapshot(project)
    line = _refused(_install(crafted, crafted_server(crafted.web_root), project, tmp_path / "dump"), "tools")
    # The project's root itself is refused as early as the plugin's answer (a set with an empty base path, named
    # in a warning), so the install finds no place for the set; the others are refused by the install.
    assert ("no file set of that name" if local == "." else "refusing to install") in line
    assert _snapshot(project) == before


@pytest.mark.parametrize("link", ["../outside", "{outside}", "real/../../outside"])
def test_a_place_whose_real_location_leaves_the_project(crafted: CraftedSession,
                                                        crafted_server: Callable[..., CraftedServer],
                                                        register_plugin: Any, project: Path, tmp_path: Path,
                                                        link: str) -> None:
    """``data`` in the project is a link out of it (relative or absolute): data/files is not in the project."""
    outside = tmp_path / "outside"
    (outside / "files").mkdir(parents=True)
    (outside / "files" / "precious.txt").write_text("keep me\n")
    (project / "real").mkdir()
    os.rename(project / "data", project / "real" / "data")
    (project / "data").symlink_to(link.format(outside=outside))
    assert (project / "data" / "files" / "precious.txt").exists()
    register_plugin(LocalSite({"files": "data/files"}), "localsite")
    crafted.ready(crafted.private_set(tar_bytes(file("new.txt", b"new\n")), relative_base_path="data/files"))
    line = _refused(_install(crafted, crafted_server(crafted.web_root), project, tmp_path / "dump"), "files")
    assert "refusing to install into data/files" in line
    assert _snapshot(outside) == {"files/precious.txt": b"keep me\n"}


def test_links_that_stay_inside_the_project_are_fine(crafted: CraftedSession,
                                                    crafted_server: Callable[..., CraftedServer],
                                                    register_plugin: Any, project: Path, tmp_path: Path) -> None:
    (project / "shared").mkdir()
    os.rename(project / "data", project / "shared" / "data")
    (project / "data").symlink_to("shared/data")
    register_plugin(LocalSite({"files": "data/files"}), "localsite")
    crafted.ready(crafted.private_set(tar_bytes(file("new.txt", b"new\n")), relative_base_path="data/files"))
    result = _install(crafted, crafted_server(crafted.web_root), project, tmp_path / "dump")
    assert result.exit_code == 0, result.output
    assert (project / "shared" / "data" / "files" / "new.txt").read_bytes() == b"new\n"


@pytest.mark.parametrize("hint", ["data/files", "", "data/./files/"])
def test_the_local_place_is_used_when_the_hint_agrees_or_is_missing(
        crafted: CraftedSession, crafted_server: Callable[..., CraftedServer], register_plugin: Any, project: Path,
        tmp_path: Path, hint: str) -> None:
    register_plugin(LocalSite({"files": "data/files"}), "localsite")
    crafted.ready(crafted.private_set(tar_bytes(file("new.txt", b"new\n")), relative_base_path=hint))
    result = _install(crafted, crafted_server(crafted.web_root), project, tmp_path / "dump")
    assert result.exit_code == 0, result.output
    assert (project / "data" / "files" / "new.txt").read_bytes() == b"new\n"
    assert not (project / "data" / "files" / "old.txt").exists()


_SEGMENTS = st.sampled_from(["data", "files", "x", ".git", "vendor", "Bin", "node_modules", "..", ".", "up", "abs",
                             "in", "loop", "shared", "volume", "tools", "self", "ghost"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_SEGMENTS, min_size=1, max_size=6))
def test_every_accepted_place_is_really_inside_the_project(tmp_path_factory: Any, segments: list[str]) -> None:
    """Whatever path a project names, an accepted place resolves inside it and outside the forbidden folders;
    or the place's last segment is a link to a folder outside it (a shared folder, a Docker volume) that holds
    neither the project nor a forbidden folder."""
    base = tmp_path_factory.mktemp("p")
    project = base / "project"
    (project / "data" / "files").mkdir(parents=True)
    (base / "shared" / "uploads").mkdir(parents=True)
    (base / "usr" / "bin").mkdir(parents=True)
    (project / "up").symlink_to("..")
    (project / "abs").symlink_to(str(base))
    (project / "in").symlink_to("data")
    (project / "loop").symlink_to("loop")
    (project / "data" / "shared").symlink_to("../../shared/uploads")
    (project / "data" / "files" / "volume").symlink_to(str(base / "shared" / "uploads"))
    (project / "data" / "tools").symlink_to(str(base / "usr" / "bin"))
    (project / "data" / "self").symlink_to(".")
    (project / "data" / "ghost").symlink_to(str(base / "nowhere"))
    place = project.joinpath(*segments)
    try:
        real = check_destination(project, place, "s")
    except ConfigError:
        return
    project_real = Path(os.path.realpath(project))
    if not Path(os.path.realpath(place)).is_relative_to(project_real):
        assert place.is_symlink(), "only the set's own folder may lead out of the project"
        target = Path(os.path.realpath(place))
        assert target == (base / "shared" / "uploads").resolve()
        assert Path(os.path.realpath(place.parent)).is_relative_to(project_real)
        assert real == "/".join(place.absolute().relative_to(project.absolute()).parts)
        return
    resolved = Path(os.path.realpath(project / real))
    assert resolved.is_relative_to(Path(os.path.realpath(project))) and resolved != Path(os.path.realpath(project))
    relative = resolved.relative_to(os.path.realpath(project))
    assert not {part.lower() for part in relative.parts} & {".git", "vendor", "node_modules", "bin"}
    assert Path(os.path.realpath(place)) == resolved, "the place checked is the place the installer reaches"
