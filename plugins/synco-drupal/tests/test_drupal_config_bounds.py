"""Every configuration file synco-drupal reads is read bounded and never hangs: a huge file, a link to
``/dev/zero`` or a named pipe nobody writes to is one line from ``synco detect``, exit status 1, at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from drupal_support import copy_project

from synco_core.testing import HOSTILE_CASES, assert_refused, hostile_file, run_cli

#: One file of each reader: settings.php and sites.php (the PHP reader). core/lib/Drupal.php (the version) is
#: also what tells a Drupal root, so only a huge one is read; a device or pipe there is not Drupal at all.
READ_FILES = ["web/sites/default/settings.php", "web/sites/sites.php"]


def test_detect_reads_the_normal_files(tmp_path: Path, no_php: None) -> None:
    result = run_cli(["detect", str(copy_project(tmp_path / "site"))])
    assert result.returncode == 0, result.stderr
    assert "Drupal" in result.stdout


@pytest.mark.parametrize("case", list(HOSTILE_CASES))
@pytest.mark.parametrize("relative", READ_FILES)
def test_hostile_config_file_is_one_line(tmp_path: Path, no_php: None, relative: str, case: str) -> None:
    project = copy_project(tmp_path / "site")
    hostile_file(project / relative, case)
    assert_refused(run_cli(["detect", str(project)]), relative, case)


def test_huge_version_file_is_one_line(tmp_path: Path, no_php: None) -> None:
    project = copy_project(tmp_path / "site")
    hostile_file(project / "web/core/lib/Drupal.php", "huge")
    assert_refused(run_cli(["detect", str(project)]), "web/core/lib/Drupal.php", "huge")
