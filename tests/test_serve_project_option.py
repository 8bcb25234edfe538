"""``synco serve --project DIR``: serve started from another working directory, as ``ssh host synco serve
--project /srv/app/current`` does, with relative paths, a deploy tool's ``current`` link, spaces and
non-ASCII names."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_transfer_support import fixture_app_fixture  # noqa: F401

from synco_core.cli.main import cli


@pytest.fixture
def deployed(fixture_app: Path, tmp_path: Path) -> Path:
    """The fixture app as release ``1`` of a deployment in a folder with a space and an umlaut; its ``current``."""
    base = tmp_path / "srv ü"
    (base / "releases").mkdir(parents=True)
    shutil.move(fixture_app, base / "releases" / "1")
    (base / "current").symlink_to("releases/1")
    return base / "current"


@pytest.mark.parametrize("given", ["absolute", "relative"])
def test_serve_plan_of_another_folder(deployed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      given: str) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    project = str(deployed) if given == "absolute" else "../srv ü/current"
    result = CliRunner().invoke(cli, ["serve", "--plan", "--project", project])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Plan for Fixture in {deployed.resolve()} ")
    assert "uploads" in result.output


def test_serve_cleanup_of_another_folder(deployed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["serve", "--cleanup", "--project", str(deployed)])
    assert result.exit_code == 0, result.output
    assert f"0 session folder(s) removed from {deployed.resolve() / 'web'}" in result.output


def test_serve_of_a_missing_folder_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["serve", "--plan", "--project", "no such dir"])
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: project directory does not exist: {tmp_path.resolve() / 'no such dir'}"
