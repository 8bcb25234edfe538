"""Project trees as Django 3.2's ``startproject`` and Wagtail 8's ``wagtail start`` write them (copied into
``fixtures/``, see its README), read with the project's interpreter and without one: both ways must find
the same settings module, database, uploads folder and web root."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

import pytest
from django_support import with_venv
from synco_django.plugin import detect_framework

FIXTURES = Path(__file__).with_name("fixtures")

#: fixture, environment, (settings module, where it was named, MEDIA_ROOT, web root), relative to the project.
CASES = [
    ("django32", {}, ("mysite.settings", "mysite/wsgi.py", None, None)),
    ("wagtail8", {}, ("wagsite.settings.dev", "wagsite/wsgi.py", "media", "static")),
    (
        "wagtail8",
        {"DJANGO_SETTINGS_MODULE": "wagsite.settings.production"},
        ("wagsite.settings.production", "$DJANGO_SETTINGS_MODULE", "media", "static"),
    ),
]


@pytest.mark.parametrize(("fixture", "environ", "expected"), CASES)
def test_generated_projects_read_alike_with_and_without_python(
    fixture: str,
    environ: Mapping[str, str],
    expected: tuple[str, str, str | None, str | None],
    python_mode: str,
    django_venv: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = tmp_path / "project"
    shutil.copytree(FIXTURES / fixture, root)
    if python_mode == "python":
        with_venv(root, django_venv)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    framework = detect_framework(root.resolve(), "source")
    assert framework is not None and framework.config_source == python_mode
    module, named_by, media, web_root = expected
    assert f"{module} (from {named_by})" in framework.reason
    assert framework.database is not None
    assert (framework.database.engine, framework.database.name) == ("sqlite", str(root.resolve() / "db.sqlite3"))
    roots = framework.settings["storage_roots"]
    assert roots.get("media") == (str(root.resolve() / media) if media else None), roots
    assert framework.web_root == (root.resolve() / web_root if web_root else None)
