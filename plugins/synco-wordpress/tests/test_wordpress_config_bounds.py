"""Every configuration file synco-wordpress reads is read bounded and never hangs: a huge file, a link to
``/dev/zero`` or a named pipe nobody writes to is one line from ``synco detect``, exit status 1, at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from wp_support import copy_site

from synco_core.testing import HOSTILE_CASES, assert_refused, hostile_file, run_cli

#: One file of each reader: wp-config.php (the PHP reader) and wp-includes/version.php (searched as text).
READ_FILES = ["wp-config.php", "wp-includes/version.php"]


def test_detect_reads_the_normal_files(tmp_path: Path, no_php: None) -> None:
    result = run_cli(["detect", str(copy_site(tmp_path / "site"))])
    assert result.returncode == 0, result.stderr
    assert "WordPress" in result.stdout


@pytest.mark.parametrize("case", list(HOSTILE_CASES))
@pytest.mark.parametrize("relative", READ_FILES)
def test_hostile_config_file_is_one_line(tmp_path: Path, no_php: None, relative: str, case: str) -> None:
    site = copy_site(tmp_path / "site")
    hostile_file(site / relative, case)
    assert_refused(run_cli(["detect", str(site)]), relative, case)
