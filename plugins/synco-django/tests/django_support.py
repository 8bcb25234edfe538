"""Helpers of the synco-django tests: production settings for a ``startproject`` project, running its
``manage.py`` with the test environment's Django, and the command line steps of a transfer."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from synco_core.testing import cli

#: What the e2e projects add at the end of the settings ``startproject`` wrote, as a deployment would.
PRODUCTION = '''
# ---- Production settings (what a deployment adds to the startproject skeleton) ----
import os

DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_ROOT = BASE_DIR / "media"
MEDIA_URL = "{media_url}"
'''


def add_settings(project: Path, text: str) -> None:
    """Append ``text`` to the project's ``mysite/settings.py``."""
    settings = project / "mysite" / "settings.py"
    settings.write_text(settings.read_text() + text)


def manage(project: Path, venv: Path, *args: str,
           env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``manage.py ARGS`` run in ``project`` by the test environment's Python; a failure fails the test."""
    result = subprocess.run([str(venv / "bin" / "python"), "manage.py", *args], cwd=project, capture_output=True,
                            text=True, timeout=300, env={**os.environ, **(env or {})}, check=False)
    assert result.returncode == 0, f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


#: Users with real Django hashes, a logged-in session and an admin log entry, made through Django itself.
POPULATE = """
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.backends.db import SessionStore

ann = User.objects.create_user("ann", "ann@real.example", "ann-real-password", first_name="Ann", last_name="Real")
User.objects.create_superuser("bob", "bob@real.example", "bob-real-password", first_name="Bob", last_name="Real")
session = SessionStore()
session["_auth_user_id"] = str(ann.pk)
session.create()
LogEntry.objects.create(user=ann, content_type=ContentType.objects.get_for_model(User), object_id=str(ann.pk),
                        object_repr="ann (ann@real.example)", action_flag=ADDITION, change_message="[]")
"""

#: Prints whether each user's password hash verifies "password" (Django's own check).
CHECK_PASSWORDS = """
from django.contrib.auth.hashers import check_password
from django.contrib.auth.models import User
for user in User.objects.order_by("username"):
    print(user.username, check_password("password", user.password))
"""


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def serve_keep(source: Path, *args: str) -> tuple[str, str]:
    """``synco serve --keep ARGS`` in ``source`` (the caller has changed into it); the session and key."""
    served = run("serve", "--keep", *args)
    assert served.exit_code == 0, served.output
    match = re.search(r"synco receive (\S+) (AGE-SECRET-KEY-\S+)", served.output)
    assert match, served.output
    return match.group(1), match.group(2)


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def hide_python(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No Python on PATH (and no environment activated): the plugin must read the settings files itself."""
    empty = tmp_path / "no-python-bin"
    empty.mkdir(exist_ok=True)
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)


def with_venv(project: Path, venv: Path) -> Path:
    """Give ``project`` the test environment as its ``.venv`` (a link: making one per project is slow)."""
    (project / ".venv").symlink_to(venv, target_is_directory=True)
    return project
