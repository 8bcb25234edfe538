"""Every file synco-craftcms reads is read bounded and never hangs: a huge file, a link to ``/dev/zero`` or a
named pipe nobody writes to is one line from ``synco detect``, exit status 1, at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from craft_support import make_craft4

from synco_core import MAX_LOCK_FILE_BYTES
from synco_core.testing import HOSTILE_CASES, assert_refused, hostile_file, run_cli

READ_FILES = [".env", "composer.json", "composer.lock", "config/db.php", "config/general.php",
              "config/project/fs/images.yaml", "config/project/project.yaml",
              "config/project/volumes/images--6f2a0b1c-aaaa-4bbb-8ccc-000000000002.yaml"]


def test_detect_reads_the_normal_files(tmp_path: Path) -> None:
    project = make_craft4(tmp_path, {"config/db.php": "<?php\nreturn [];\n", "composer.lock": '{"packages": []}'})
    result = run_cli(["detect", str(project)])
    assert result.returncode == 0, result.stderr
    assert "Craft CMS" in result.stdout


@pytest.mark.parametrize("case", list(HOSTILE_CASES))
@pytest.mark.parametrize("relative", READ_FILES)
def test_hostile_config_file_is_one_line(tmp_path: Path, relative: str, case: str) -> None:
    project = make_craft4(tmp_path, {"config/db.php": "<?php\nreturn [];\n", "composer.lock": '{"packages": []}'})
    # composer.lock has the larger bound of Composer's lock files.
    hostile_file(project / relative, case, limit=MAX_LOCK_FILE_BYTES if relative == "composer.lock" else None)
    assert_refused(run_cli(["detect", str(project)]), relative, case)


@pytest.mark.parametrize(("relative", "text", "message"), [
    ("config/project/fs/images.yaml", "type: [unclosed\n", "images.yaml line 2 is not valid YAML"),
    ("composer.json", "{not json", "composer.json line 1 is not valid JSON"),
    ("config/db.php", "<?php\nreturn [\n", "db.php"),
])
def test_broken_config_file_is_one_line(tmp_path: Path, relative: str, text: str, message: str) -> None:
    project = make_craft4(tmp_path, {relative: text})
    result = run_cli(["detect", str(project)])
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("Error: ") and message in line, line
