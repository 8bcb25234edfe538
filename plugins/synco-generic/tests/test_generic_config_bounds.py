"""synco-generic reads .synco.yml bounded and never hangs: a huge file, a link to ``/dev/zero`` or a named
pipe nobody writes to is one line from ``synco detect``, exit status 1, at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from synco_core.testing import HOSTILE_CASES, assert_refused, hostile_file, run_cli

CONFIG = "serve:\n  name: Plain app\n  database:\n    url: sqlite:///app.db\n"


def test_detect_reads_a_normal_file(tmp_path: Path) -> None:
    (tmp_path / ".synco.yml").write_text(CONFIG)
    result = run_cli(["detect", str(tmp_path)])
    assert result.returncode == 0, result.stderr
    assert "Plain app" in result.stdout


@pytest.mark.parametrize("case", list(HOSTILE_CASES))
@pytest.mark.parametrize("name", [".synco.yml", ".synco.yaml"])
def test_hostile_config_file_is_one_line(tmp_path: Path, name: str, case: str) -> None:
    hostile_file(tmp_path / name, case)
    assert_refused(run_cli(["detect", str(tmp_path)]), name, case)
