"""The install's plan and counts agree with what the install does about the part files a receive left.

The install no longer copies ``*.synco-part`` files (a receive's download cut short) into the project, but its
plan still counted them: ``install --plan`` gave the set's size with them, ``--max-delete`` did not count a
project file of a part file's name that the install takes away, and a set holding nothing but part files was
taken for one holding files, so the install emptied the project's folder without the refusal an empty set
gets. Each count is checked here against the install itself.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_transfer_support import FixturePlugin, make_app, publish_and_receive, tree_digest

from synco_core.cli.main import cli

#: Every synco's naming of a part file (the first versions', today's, today's for a long name).
PARTS = ("dir0/old.bin.synco-part", "dir1/file 1.bin.0123456789ab.synco-part",
         f"dir2/.synco-{'f' * 32}.0123456789ab.synco-part")


@pytest.fixture
def received(tmp_path: Path, register_plugin: Callable[..., None]) -> Path:
    register_plugin(FixturePlugin(), "fixture")
    app = make_app(tmp_path / "app")
    target = tmp_path / "dump"
    summary = publish_and_receive(app, "synco-partcount0000000001", target, only=("uploads",))
    assert summary.ok
    return target


def _project(tmp_path: Path, *local: str) -> Path:
    project = tmp_path / "project"
    (project / "web" / "uploads").mkdir(parents=True)
    (project / "fixture-app.txt").write_text("fixture\n")
    for relative in local:
        path = project / "web" / "uploads" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"laptop's {relative}")
    return project


def _add_parts(folder: Path) -> None:
    for number, relative in enumerate(PARTS):
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half a file " * (1000 * (number + 1)))


def _installed_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file() and not path.is_symlink())


def _install(received: Path, project: Path, *extra: str) -> object:
    return CliRunner().invoke(cli, ["install", str(received), "--project", str(project), "--only", "uploads",
                                    "--yes", *extra])


def test_the_plans_size_is_what_the_install_puts_in(received: Path, tmp_path: Path) -> None:
    """``install --plan --json``'s sizeBytes of a public set is the bytes the install then puts into the project's
    folder, part files left in the received set or not."""
    _add_parts(received / "uploads")
    project = _project(tmp_path)
    plan = CliRunner().invoke(cli, ["install", str(received), "--project", str(project), "--only", "uploads",
                                    "--plan", "--json"])
    assert plan.exit_code == 0, plan.output
    step = next(step for step in json.loads(plan.output)["steps"] if step["name"] == "uploads")
    result = _install(received, project)
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    uploads = project / "web" / "uploads"
    assert not list(uploads.rglob("*.synco-part"))
    assert step["sizeBytes"] == _installed_bytes(uploads)


def test_max_delete_counts_a_project_file_named_as_a_part_file(received: Path, tmp_path: Path) -> None:
    """A project holding files of the names of the received part files (an earlier synco's install copied them
    in): the install takes them away, so --max-delete counts them (a dot-named one is carried over, as every
    dotfile of a public set is, and is not counted)."""
    _add_parts(received / "uploads")
    project = _project(tmp_path, *PARTS)
    before = set(tree_digest(project / "web" / "uploads"))
    lost = sum(1 for relative in PARTS if not relative.rpartition("/")[2].startswith("."))
    result = _install(received, project, "--max-delete", str(lost - 1))
    assert result.exit_code == 1, result.output  # type: ignore[attr-defined]
    said = f"installing would remove {lost} local file(s)"
    assert said in result.output, result.output  # type: ignore[attr-defined]
    assert set(tree_digest(project / "web" / "uploads")) == before
    result = _install(received, project, "--max-delete", str(lost))
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert len(before - set(tree_digest(project / "web" / "uploads"))) == lost


def test_the_plan_names_a_dot_named_part_file_carried_over(received: Path, tmp_path: Path) -> None:
    """The project's dot-named file of a received part file's name is carried into the new content (the part is
    not installed): the plan's carriedOver names it, as the install then keeps it."""
    _add_parts(received / "uploads")
    project = _project(tmp_path, *PARTS)
    plan = CliRunner().invoke(cli, ["install", str(received), "--project", str(project), "--only", "uploads",
                                    "--plan", "--json"])
    assert plan.exit_code == 0, plan.output
    step = next(step for step in json.loads(plan.output)["steps"] if step["name"] == "uploads")
    dotted = [relative for relative in PARTS if relative.rpartition("/")[2].startswith(".")]
    assert step["carriedOver"] == dotted
    result = _install(received, project, "--max-delete", str(len(PARTS)))
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    for relative in dotted:
        assert (project / "web" / "uploads" / relative).read_text() == f"laptop's {relative}"


def test_a_set_of_part_files_only_is_an_empty_set(received: Path, tmp_path: Path) -> None:
    """Nothing but part files arrived (every download cut short): the install would empty the project's folder,
    so it is refused as for an empty set, and --max-delete N allows it."""
    uploads = received / "uploads"
    for path in sorted(uploads.rglob("*"), reverse=True):
        if path.is_file() or path.is_symlink():
            os.unlink(path)
    _add_parts(uploads)
    project = _project(tmp_path, "2024/a.jpg", "c.pdf")
    before = tree_digest(project)
    result = _install(received, project)
    assert result.exit_code == 1, result.output  # type: ignore[attr-defined]
    assert "received set 'uploads' holds no file" in result.output, result.output  # type: ignore[attr-defined]
    assert tree_digest(project) == before
