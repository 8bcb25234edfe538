"""``DATABASES`` entries made with ``dict(...)``, read without Python, as Python makes them; a call given
``**options`` is unknown (its keys were dropped, so the entry was read without them, silently)."""

from __future__ import annotations

from pathlib import Path

import pytest
from synco_django.static import DatabaseUrl, is_known, read_settings

PG = 'ENGINE="django.db.backends.postgresql", HOST="db"'


def _read(tmp_path: Path, text: str) -> dict[str, object]:
    path = tmp_path / "settings.py"
    path.write_text("import os\n" + text)
    names = read_settings(tmp_path, "settings", path, tmp_path, {"DB_NAME": "shop"})
    exec(compile("import os\n" + text, str(path), "exec"), namespace := {"os": __import__("os")})
    return {"read": names.get("DATABASES"), "python": namespace.get("DATABASES")}


@pytest.mark.parametrize("text", [
    f'DATABASES = {{"default": dict({PG}, NAME="shop")}}\n',
    f'BASE = dict({PG})\nDATABASES = {{"default": dict(BASE, NAME="shop", PORT=5433)}}\n',
    'DATABASES = dict(default=dict([("ENGINE", "django.db.backends.sqlite3"), ("NAME", "app.db")]))\n',
])
def test_dict_calls_are_read_as_python_makes_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  text: str) -> None:
    monkeypatch.setenv("DB_NAME", "shop")
    got = _read(tmp_path, text)
    assert got["read"] == got["python"]


@pytest.mark.parametrize("text", [
    f'BASE = dict({PG}, NAME="other")\nDATABASES = {{"default": dict(**BASE, PORT=5433)}}\n',
    f'OPTS = {{"NAME": "shop"}}\nDATABASES = {{"default": dict({PG}, **OPTS)}}\n',
])
def test_double_star_options_are_arguments(tmp_path: Path, text: str) -> None:
    got = _read(tmp_path, text)
    assert got["read"] == got["python"]


def test_double_star_options_choose_the_url_variable(tmp_path: Path) -> None:
    """dj_database_url.config(**DB_OPTIONS): the options' env names the variable; it was dropped, so
    DATABASE_URL's database was read instead of PRIMARY_DATABASE_URL's, silently."""
    path = tmp_path / "settings.py"
    path.write_text('import dj_database_url\nDB_OPTIONS = {"env": "PRIMARY_DATABASE_URL", "conn_max_age": 600}\n'
                    'DATABASES = {"default": dj_database_url.config(**DB_OPTIONS)}\n')
    names = read_settings(tmp_path, "settings", path, tmp_path,
                          {"DATABASE_URL": "postgres://u@h/platform", "PRIMARY_DATABASE_URL": "postgres://u@h/app"})
    default = names["DATABASES"]["default"]
    assert isinstance(default, DatabaseUrl) and default.url == "postgres://u@h/app"


def test_double_star_of_something_unknown_is_unknown(tmp_path: Path) -> None:
    path = tmp_path / "settings.py"
    path.write_text(f'from somewhere import OPTS\nDATABASES = {{"default": dict({PG}, **OPTS)}}\n')
    names = read_settings(tmp_path, "settings", path, tmp_path, {})
    assert not is_known(names["DATABASES"])
