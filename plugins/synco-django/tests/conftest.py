"""Fixtures of the synco-django tests: a real Django in a virtual environment, and projects made by it.

``django_venv`` installs Django (with the PostgreSQL and MySQL drivers and dj-database-url) from the
package index into a virtual environment, once per test session. ``startproject`` is a project made by
that Django's ``django-admin startproject``, copied for each test; ``python_mode`` runs a test twice: with
the project's ``.venv`` (a link to that environment) and with no Python interpreter the plugin could find,
where it reads the settings files itself.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import synco_django.plugin
from django_support import hide_python, venv_python

from synco_core.testing import SyncoPluginManager
from synco_core.testing.services import unavailable

#: What the test environment installs: a Django release line, and what the e2e projects' settings import.
REQUIREMENTS = ("django~=5.2.0", "psycopg[binary]>=3.1", "pymysql>=1.1", "dj-database-url>=2.1",
                "python-decouple>=3.8")


@pytest.fixture(scope="session")
def django_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtual environment with Django installed from the package index (made once per test session)."""
    venv = tmp_path_factory.mktemp("django-venv")
    try:
        # No pip of its own and no byte-compiling of all Django: this session's pip installs into it, and only
        # the modules the tests import get compiled (a third of the CPU the ensurepip + compile route cost).
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True,
                       timeout=120)
        subprocess.run([sys.executable, "-m", "pip", "--python", str(venv_python(venv)), "install", "-q",
                        "--no-compile", "--disable-pip-version-check", *REQUIREMENTS], check=True,
                       capture_output=True, text=True, timeout=600)
    except subprocess.CalledProcessError as exc:
        unavailable(f"cannot install Django into a virtual environment: {(exc.stderr or '').strip()[-500:]}")
    except subprocess.TimeoutExpired:
        unavailable("installing Django into a virtual environment took too long")
    return venv


@pytest.fixture(scope="session")
def startproject_template(django_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``django-admin startproject mysite``, as Django writes it (once per session; tests copy it)."""
    target = tmp_path_factory.mktemp("startproject") / "mysite"
    target.mkdir()
    subprocess.run([str(django_venv / "bin" / "django-admin"), "startproject", "mysite", str(target)], check=True,
                   capture_output=True, timeout=120)
    return target


@pytest.fixture
def startproject(startproject_template: Path, tmp_path: Path) -> Callable[[str], Path]:
    """``startproject(name)``: a fresh copy of the project ``startproject`` made, under ``tmp_path/name``."""

    def copy(name: str) -> Path:
        target = tmp_path / name
        shutil.copytree(startproject_template, target)
        return target.resolve()

    return copy


@pytest.fixture
def django_manager(plugin_manager: SyncoPluginManager,
                   register_plugin: Callable[[object, str], None]) -> Iterator[SyncoPluginManager]:
    """The per-test plugin manager (built-ins only) with synco-django registered."""
    register_plugin(synco_django.plugin, "django")
    yield plugin_manager


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """What Django projects read from the environment must come from the test, not from the machine (nox
    runs the suite with ``VIRTUAL_ENV`` set, which would be taken for the project's environment)."""
    for name in list(os.environ):
        if name.startswith(("DJANGO_", "AWS_", "POETRY_", "DB_")) or name in (
                "DATABASE_URL", "VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "WORKON_HOME"):
            monkeypatch.delenv(name)


@pytest.fixture(params=["python", "files"])
def python_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """Runs a test twice: ``"python"``, where projects get a ``.venv`` with Django (see :func:`with_venv`),
    and ``"files"``, with no interpreter to be found."""
    if request.param == "files":
        hide_python(monkeypatch, tmp_path)
    return str(request.param)
