"""Every configuration file synco-neos reads is read bounded and never hangs: a huge file, a link to
``/dev/zero`` or a named pipe nobody writes to is one line from ``synco detect``, exit status 1, at once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from synco_core import MAX_CONFIG_BYTES, MAX_LOCK_FILE_BYTES
from synco_core.testing import HOSTILE_CASES, assert_refused, hostile_file, run_cli

#: One file of each reader, with its bound: Flow's YAML settings (main and split), and the Composer file the
#: version is read from (a lock file has the larger bound).
READ_FILES = [("Configuration/Settings.yaml", MAX_CONFIG_BYTES),
              ("Configuration/Settings.Charset.yaml", MAX_CONFIG_BYTES),
              ("composer.lock", MAX_LOCK_FILE_BYTES)]


def test_detect_reads_the_normal_files(make_project: Callable[[str], Path], no_php: None) -> None:
    project = make_project("neos8")
    result = run_cli(["detect", str(project)])
    assert result.returncode == 0, result.stderr
    assert "Neos" in result.stdout


@pytest.mark.parametrize("case", list(HOSTILE_CASES))
@pytest.mark.parametrize(("relative", "limit"), READ_FILES)
def test_hostile_config_file_is_one_line(make_project: Callable[[str], Path], no_php: None, relative: str,
                                         limit: int, case: str) -> None:
    project = make_project("neos8")
    hostile_file(project / relative, case, limit=limit)
    assert_refused(run_cli(["detect", str(project)]), relative, case)
