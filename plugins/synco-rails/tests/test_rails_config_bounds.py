"""Every configuration file synco-rails reads is read bounded and never hangs: a huge file, a link to
``/dev/zero`` or a named pipe nobody writes to is one line from ``synco detect``, exit status 1, at once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from synco_core.testing import HOSTILE_CASES, assert_refused, hostile_file, run_cli

#: The reader detect uses: YAML with ERB (storage.yml is read by the same function, for the file sets).
READ_FILES = ["config/database.yml"]


def test_detect_reads_the_normal_files(make_app: Callable[..., Path], no_ruby: None) -> None:
    result = run_cli(["detect", str(make_app("shop"))])
    assert result.returncode == 0, result.stderr
    assert "Rails" in result.stdout


@pytest.mark.parametrize("case", list(HOSTILE_CASES))
@pytest.mark.parametrize("relative", READ_FILES)
def test_hostile_config_file_is_one_line(make_app: Callable[..., Path], no_ruby: None, relative: str,
                                         case: str) -> None:
    project = make_app("shop")
    hostile_file(project / relative, case)
    assert_refused(run_cli(["detect", str(project)]), relative, case)
