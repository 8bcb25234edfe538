"""Every configuration file synco-django reads is read bounded and never hangs: a huge file, a link to
``/dev/zero`` or a named pipe nobody writes to is one line from ``synco detect``, exit status 1, at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from django_support import hide_python

from synco_core.testing import HOSTILE_CASES, assert_refused, hostile_file, run_cli

#: One file of each reader: manage.py (the settings module's name), the settings module (read with ``ast``)
#: and pyproject.toml (Poetry's environment name). manage.py and the settings module are also what makes a
#: project Django (``is_file()``), so a device or a pipe there is not read at all: only a huge one is.
REFUSED = [("manage.py", "huge"), ("mysite/settings.py", "huge"),
           *(("pyproject.toml", case) for case in HOSTILE_CASES)]


def make_project(root: Path) -> Path:
    """A Django project as ``startproject`` lays it out, with a .env and a pyproject.toml, for the files mode."""
    files = {
        "manage.py": "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')\n",
        "mysite/__init__.py": "",
        "mysite/settings.py": ("DATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3', "
                               "'NAME': 'db.sqlite3'}}\n"),
        ".env": "DEBUG=1\n",
        "pyproject.toml": "[project]\nname = 'mysite'\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


@pytest.fixture
def no_python(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    hide_python(monkeypatch, tmp_path)


def test_detect_reads_the_normal_files(tmp_path: Path, no_python: None) -> None:
    result = run_cli(["detect", str(make_project(tmp_path / "site"))])
    assert result.returncode == 0, result.stderr
    assert "Django" in result.stdout


@pytest.mark.parametrize(("relative", "case"), REFUSED)
def test_hostile_config_file_is_one_line(tmp_path: Path, no_python: None, relative: str, case: str) -> None:
    project = make_project(tmp_path / "site")
    hostile_file(project / relative, case)
    assert_refused(run_cli(["detect", str(project)]), relative, case)


@pytest.mark.parametrize("case", list(HOSTILE_CASES))
def test_hostile_dotenv_is_one_warning(tmp_path: Path, no_python: None, case: str) -> None:
    """synco-django reads the settings without a .env it cannot read (as before): the refusal is one warning."""
    project = make_project(tmp_path / "site")
    hostile_file(project / ".env", case)
    result = run_cli(["detect", str(project)])
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert f".env {HOSTILE_CASES[case]}" in result.stderr and "reading the settings without it" in result.stderr
