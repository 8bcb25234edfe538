"""A plugin's ``entries`` yielding a path no receiver takes (``../../etc/passwd``, ``/etc/passwd``, a
backslash): the entry is left out of the index, and serve and ``serve --plan`` say so at the default log level,
naming the plugin, and count it in the set's ``leftOutCount``. A ``../`` path went as a dotfile before,
without a word."""

from __future__ import annotations

import logging
import types
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from synco_core import FileSet, FileSetOptions, Framework, PublicFile, hookimpl
from synco_core.cli.main import cli
from synco_core.detection import detect, list_file_sets
from synco_core.plugins import SyncoPluginManager
from synco_core.serve import BuildOptions, SessionFolder, SessionKey, build_session

REFUSED = ["../../etc/passwd", "/etc/passwd", "media/../../secret.txt", "a\\b.txt"]


def _shop(project_dir: Path) -> object:
    media = project_dir / "public" / "media"

    def entries() -> Iterator[PublicFile]:
        yield PublicFile(path="a.txt", size=1, mtime=1_700_000_000, uri="media/a.txt", source=str(media / "a.txt"))
        for path in REFUSED:
            yield PublicFile(path=path, size=1, mtime=1_700_000_000, uri="media/x")

    def detect_framework(project_dir: Path) -> Framework:
        return Framework(name="Shop", plugin="shop", project_dir=project_dir, web_root=project_dir / "public",
                         reason="always")

    def list_sets(framework: Framework, options: FileSetOptions) -> list[FileSet]:
        return [FileSet(name="media", kind="public", relative_base_path="public/media", entries=entries)]

    return types.SimpleNamespace(detect_framework=hookimpl(detect_framework), list_file_sets=hookimpl(list_sets))


@pytest.mark.hook("list_file_sets")
def test_refused_entry_paths_are_named_and_counted(
    plugin_manager: SyncoPluginManager, register_plugin: Callable[[object, str], None], tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    (tmp_path / "public" / "media").mkdir(parents=True)
    (tmp_path / "public" / "media" / "a.txt").write_text("a")
    register_plugin(_shop(tmp_path), "shop")
    framework = detect(tmp_path)
    caplog.set_level(logging.WARNING)
    key = SessionKey.generate(None)
    assert framework.web_root is not None
    meta = build_session(framework, SessionFolder(framework.web_root / "synco-refused00000001", key.recipients),
                         BuildOptions())
    media = next(s for s in meta.file_sets if s.name == "media")
    assert media.public is not None and media.public.left_out_count == len(REFUSED)
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and "plugin shop" in r.getMessage()]
    for path in REFUSED:
        assert any(f"plugin shop listed {path!r} in file set 'media'" in line for line in said), (path, said)


@pytest.mark.hook("list_file_sets")
def test_serve_plan_names_refused_entry_paths(
    plugin_manager: SyncoPluginManager, register_plugin: Callable[[object, str], None], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "public" / "media").mkdir(parents=True)
    (tmp_path / "public" / "media" / "a.txt").write_text("a")
    register_plugin(_shop(tmp_path), "shop")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["serve", "--plan"])
    assert result.exit_code == 0, result.output
    for path in REFUSED:
        assert f"plugin shop listed {path!r} in file set 'media', which receivers refuse" in result.stderr, \
            result.output
    assert [s.name for s in list_file_sets(detect(tmp_path), FileSetOptions())] == ["media"]
