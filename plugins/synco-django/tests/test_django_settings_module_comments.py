"""The settings module an entry point names: a commented-out line (the Django 1.x wsgi.py template's
``# os.environ["DJANGO_SETTINGS_MODULE"] = "mysite.settings"``, a previous setdefault kept for reference)
names none, whatever entry point and side. It was taken for the settings, so another module's database was
read, silently."""

from __future__ import annotations

from pathlib import Path

import pytest
from synco_django.project import find_settings_module

REAL = 'os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings.production")\n'
COMMENTED = [
    '# os.environ["DJANGO_SETTINGS_MODULE"] = "mysite.settings.dev"\n' + REAL,
    '#os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings.dev")\n' + REAL,
    'x = 1  # os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings.dev")\n' + REAL,
    '    # os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings.dev")\n' + REAL,
]


@pytest.mark.parametrize("text", COMMENTED)
@pytest.mark.parametrize("entry", ["manage.py", "mysite/wsgi.py", "mysite/asgi.py"])
@pytest.mark.parametrize("side", ["source", "destination"])
def test_a_commented_out_module_names_none(tmp_path: Path, text: str, entry: str, side: str) -> None:
    root = tmp_path / "p"
    (root / "mysite/settings").mkdir(parents=True)
    for name in ("__init__.py", "settings/__init__.py", "settings/dev.py", "settings/production.py"):
        (root / "mysite" / name).touch()
    (root / "manage.py").write_text("import os\n")
    (root / entry).write_text("import os\n" + text)
    found = find_settings_module(root, {}, side)
    assert found is not None and (found.name, found.source) == ("mysite.settings.production", entry)


def test_a_file_python_cannot_tokenize_still_drops_its_comments(tmp_path: Path) -> None:
    root = tmp_path / "p"
    (root / "mysite/settings").mkdir(parents=True)
    for name in ("__init__.py", "settings/__init__.py", "settings/dev.py", "settings/production.py"):
        (root / "mysite" / name).touch()
    (root / "manage.py").write_text('import os\n"""never closed\n' + COMMENTED[0])
    found = find_settings_module(root, {}, "destination")
    assert found is not None and found.name == "mysite.settings.production"
