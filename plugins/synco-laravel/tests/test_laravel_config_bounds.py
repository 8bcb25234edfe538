"""Every configuration file synco-laravel reads is read bounded and never hangs: a huge file, a link to
``/dev/zero`` or a named pipe nobody writes to is one line from ``synco detect``, exit status 1, at once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from synco_core.testing import HOSTILE_CASES, assert_refused, hostile_file, run_cli

#: One file of each reader detect uses: .env, and composer.json (where this fixture's version is read from).
READ_FILES = [".env", "composer.json"]


def test_detect_reads_the_normal_files(make_project: Callable[..., Path], no_php: None) -> None:
    result = run_cli(["detect", str(make_project("laravel11"))])
    assert result.returncode == 0, result.stderr
    assert "Laravel" in result.stdout


@pytest.mark.parametrize("case", list(HOSTILE_CASES))
@pytest.mark.parametrize("relative", READ_FILES)
def test_hostile_config_file_is_one_line(make_project: Callable[..., Path], no_php: None, relative: str,
                                         case: str) -> None:
    project = make_project("laravel11")
    hostile_file(project / relative, case)
    assert_refused(run_cli(["detect", str(project)]), relative, case)
