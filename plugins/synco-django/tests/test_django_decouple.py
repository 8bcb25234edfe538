"""python-decouple's ``config()`` read without running the settings, held to what the real decouple (and
dj-database-url, the cast its documentation writes ``DATABASES`` with) computes in the same environment.

decouple casts the default as well as a value from the environment (django-environ does not): a reader that
returned the default as written made ``default="sqlite:///..."`` with ``cast=db_url`` a string where Django
sees a database, and ``default="False"`` with ``cast=bool`` a true value.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from django_support import venv_python
from synco_django.databases import database_config
from synco_django.static import DatabaseUrl, is_unknown, read_settings

from synco_core import ConfigError

#: ``config()`` calls of the forms settings use: every cast the reader knows, with and without a default.
CALLS = [
    'config("V", default="sqlite:///db.sqlite3", cast=db_url)',
    'config("V", cast=db_url)',
    'config("V", default="postgres://app:pw@db.internal:6432/shop?sslmode=require", cast=dj_database_url.parse)',
    'config("V", default="False", cast=bool)',
    'config("V", default="on", cast=bool)',
    'config("V", default=False, cast=bool)',
    'config("V", default="5432", cast=int)',
    'config("V", default=5432, cast=int)',
    'config("V", default="kept", cast=str)',
    'config("V", default="kept")',
    'config("V", default=None)',
    'config("V")',
]
#: The variable unset, then values each cast takes or refuses.
VALUES = [None, "postgres://u:p%40ss@h:5433/live", "mysql://root@127.0.0.1/shop", "1", "off", "42", ""]

REAL = """
import json, os, sys
import dj_database_url
from dj_database_url import parse as db_url
from decouple import config
cases = json.load(sys.stdin)
out = []
for call, value, url in cases:
    os.environ.pop("V", None)
    if value is not None:
        os.environ["V"] = value
    try:
        real = eval(call)
        got = {"value": real}
    except Exception as exc:
        got = {"error": type(exc).__name__}
    if url is not None:
        try:
            got["reader_url_means"] = dj_database_url.parse(url)
        except Exception as exc:
            got["reader_url_means"] = {"error": type(exc).__name__}
    out.append(got)
print(json.dumps(out, default=str))
"""


def refused(value: Any) -> bool:
    """True when ``value`` is a database URL synco refuses with a message naming it."""
    if not isinstance(value, DatabaseUrl):
        return False
    with pytest.raises(ConfigError):
        database_config("default", value, Path("/nonexistent"), "the settings")
    return True


def reader_value(tmp_path: Path, call: str, value: str | None) -> Any:
    root = tmp_path / "project"
    (root / "site").mkdir(parents=True, exist_ok=True)
    (root / "site" / "__init__.py").touch()
    settings = root / "site" / "settings.py"
    settings.write_text(
        "import dj_database_url\nfrom dj_database_url import parse as db_url\n"
        f"from decouple import config\nX = {call}\n"
    )
    environ = {} if value is None else {"V": value}
    return read_settings(root, "site.settings", settings, root, environ)["X"]


def test_decouple_config_is_read_as_decouple_computes_it(tmp_path: Path, django_venv: Path) -> None:
    cases = [(call, value) for call in CALLS for value in VALUES]
    read = [reader_value(tmp_path, call, value) for call, value in cases]
    sent = [
        (call, value, got.url if isinstance(got, DatabaseUrl) else None)
        for (call, value), got in zip(cases, read, strict=True)
    ]
    result = subprocess.run(
        [str(venv_python(django_venv)), "-c", REAL],
        input=json.dumps(sent),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    for (call, value), got, real in zip(cases, read, json.loads(result.stdout), strict=True):
        where = f"{call} with V={value!r}: the reader has {got!r}, decouple {real}"
        if "error" in real:
            # Django would not start: synco must not read a database (or any value) from it.
            assert is_unknown(got) or refused(got), where
        elif is_unknown(got):
            # Unknown is allowed (the caller falls back), never a value other than decouple's.
            continue
        elif isinstance(got, DatabaseUrl):
            assert real["reader_url_means"] == real["value"], where
        else:
            assert got == real["value"], where


@pytest.mark.parametrize("value", [None, "mysql://shop:pw@db.internal/shop"])
def test_decouple_database_of_the_documentation(tmp_path: Path, value: str | None) -> None:
    """decouple's README: ``DATABASES = {"default": config("DATABASE_URL", default=..., cast=db_url)}``."""
    got = reader_value(tmp_path, 'config("V", default="sqlite:///" + "db.sqlite3", cast=db_url)', value)
    assert got == DatabaseUrl(value or "sqlite:///db.sqlite3")
