"""The suite's one way to give up on a missing server, command or module: skipped on a laptop, failed in CI.

``unavailable()`` and its helpers in :mod:`synco_core.testing.services` (``require_tool``, the ``needs_tool`` mark,
``require_module``) are run here in an inner pytest, with and without ``CI=true``; and the test sources
are checked to give up no other way, so that no skip can slip past CI again.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent

INNER = """
import pytest
from synco_core.testing.services import needs_php, needs_tool, require_module, require_tool, unavailable

def test_a_command():
    require_tool("mariadb", "mariadb-client", "mysql")

@needs_tool("mariadb-dump", "mariadb-client")
def test_a_marked_command():
    pass

@needs_php
def test_php():
    pass

def test_a_module():
    require_module("synco_no_such_module", "pip install it")

def test_a_server():
    unavailable("no server here")

def test_php_mode(php_mode):
    pass
"""


@pytest.fixture
def no_tools(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """PATH with nothing on it (the helper still looks in /usr/sbin and /sbin, where none of these are)."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


@pytest.mark.usefixtures("no_tools")
def test_missing_tools_and_modules_fail_under_ci(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    pytester.makepyfile(test_inner=INNER)
    result = pytester.runpytest_inprocess("-p", "synco_core.testing", "-p", "synco_core.testing.services", "-rA")
    # php_mode's "files" half hides PHP on purpose and passes; everything that needs something fails.
    result.assert_outcomes(passed=1, failed=3, errors=3)  # marks and fixtures fail in the setup: errors
    result.stdout.fnmatch_lines(["*the mariadb command is not installed (apt-get install mariadb-client)*CI=true*"])
    result.stdout.fnmatch_lines(["*the mariadb-dump command is not installed*"])
    result.stdout.fnmatch_lines(["*the php command is not installed (apt-get install php-cli)*"])
    result.stdout.fnmatch_lines(["*the Python module synco_no_such_module is not installed*"])
    assert "SKIPPED" not in result.stdout.str()


@pytest.mark.usefixtures("no_tools")
def test_missing_tools_and_modules_are_skipped_elsewhere(pytester: pytest.Pytester,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    pytester.makepyfile(test_inner=INNER)
    result = pytester.runpytest_inprocess("-p", "synco_core.testing", "-p", "synco_core.testing.services", "-rA")
    result.assert_outcomes(passed=1, skipped=6)


def test_present_tools_are_found(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    pytester.makepyfile(test_inner="""
from synco_core.testing.services import needs_tool, require_tool

@needs_tool("sh", "dash")
def test_marked():
    assert require_tool("sh", "dash").endswith("/sh")
""")
    result = pytester.runpytest_inprocess("-p", "synco_core.testing", "-p", "synco_core.testing.services")
    result.assert_outcomes(passed=1)


#: Ways of giving up that would bypass ``unavailable()`` (and so pass CI with a test not run).
_SKIPS = re.compile(r"pytest\.skip\(|pytest\.mark\.skip|\.skipif\(|importorskip\(|pytest\.xfail\(|mark\.xfail")


def test_the_suite_gives_up_only_through_unavailable() -> None:
    sources = [*ROOT.glob("tests/**/*.py"), *ROOT.glob("plugins/*/tests/**/*.py"),
               *ROOT.glob("synco_core/testing/*.py")]
    offenders = []
    for path in sources:
        if path.name == Path(__file__).name:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if _SKIPS.search(line) and not (path.name == "services.py" and "pytest.skip(reason)" in line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == [], "skip through synco_core.testing.services.unavailable() (or require_tool / needs_tool)"
