"""Settings read without Python that need a variable the environment lacks: what synco says names it.

Every way a settings module reads the environment without a default (``os.environ[...]``, django-environ's
``env(...)`` and typed methods, ``env.db("X")``, python-decouple's ``config(...)``, dj-database-url's
``config(env=...)``), wherever the value ends up (a database's setting, the whole of ``DATABASES``, an
``if`` deciding it, a split settings module, an ``.update()``, ``MEDIA_ROOT``, a storage's ``location``):
the warning or skipped set names the variable, in one line, never its neighbours' values."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from django_support import hide_python
from synco_django.plugin import detect_framework, list_file_sets
from test_django_detect import project

from synco_core import FileSetOptions

VAR = "SYNCO_T_UNSET_7F3A"

HEAD = ("import os\nimport environ\nimport dj_database_url\nfrom decouple import config\n"
        "env = environ.Env()\n")

#: Expressions that need VAR set.
READS = [
    f'os.environ["{VAR}"]',
    f'env("{VAR}")',
    f'env.str("{VAR}")',
    f'config("{VAR}")',
    f'os.environ["{VAR}"] + "_db"',
    f'f"{{os.environ[\'{VAR}\']}}"',
]
#: Whole database entries that need VAR set.
URL_READS = [f'env.db("{VAR}")', f'env.db_url("{VAR}")', f'dj_database_url.config(env="{VAR}")',
             f'config("{VAR}", cast=dj_database_url.parse)']

PG = '"ENGINE": "django.db.backends.postgresql", "HOST": "localhost"'


def _databases_forms() -> list[str]:
    forms = [f'DATABASES = {{"default": {{{PG}, "NAME": {read}}}}}\n' for read in READS]
    forms += [f'DATABASES = {{"default": {read}}}\n' for read in URL_READS]
    forms += [
        f'NAME = {READS[0]}\nDATABASES = {{"default": {{{PG}, "NAME": NAME}}}}\n',
        f'DATABASES = {{"default": {{{PG}, "NAME": "x"}}}}\nDATABASES["default"]["NAME"] = {READS[1]}\n',
        f'DATABASES = {{"default": {{{PG}}}}}\nDATABASES["default"].update(NAME={READS[0]})\n',
        f'if {READS[0]} == "prod":\n    DATABASES = {{"default": {{{PG}, "NAME": "prod"}}}}\n'
        f'else:\n    DATABASES = {{"default": {{{PG}, "NAME": "dev"}}}}\n',
        f'DATABASES = {{"default": {{{PG}, "NAME": os.environ.get("OTHER_UNSET_X") or {READS[0]}}}}}\n',
    ]
    return forms


@pytest.mark.parametrize("text", _databases_forms())
@pytest.mark.parametrize("split", [False, True], ids=["one-module", "split"])
def test_an_unset_variable_the_database_needs_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       caplog: pytest.LogCaptureFixture, text: str,
                                                       split: bool) -> None:
    hide_python(monkeypatch, tmp_path)
    monkeypatch.delenv(VAR, raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    if split:
        root = project(tmp_path / "p", "from .base import *\n", module="mysite.settings.production")
        (root / "mysite/settings/base.py").write_text(HEAD + text)
    else:
        root = project(tmp_path / "p", HEAD + text)
    with caplog.at_level(logging.WARNING):
        framework = detect_framework(root, "source")
    assert framework is not None and framework.database is None
    said = [record.getMessage() for record in caplog.records if VAR in record.getMessage()]
    assert len(said) == 1, caplog.text
    assert f"the environment variable {VAR} is not set" in said[0] and "\n" not in said[0]


@pytest.mark.parametrize("read", READS)
@pytest.mark.parametrize("form", ["MEDIA_ROOT = {read}\n",
                                  "MEDIA_ROOT = os.path.join({read}, 'media')\n",
                                  'STORAGES = {{"default": {{"BACKEND": "django.core.files.storage.'
                                  'FileSystemStorage", "OPTIONS": {{"location": {read}}}}}}}\n'])
def test_an_unset_variable_the_uploads_folder_needs_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             form: str, read: str) -> None:
    hide_python(monkeypatch, tmp_path)
    monkeypatch.delenv(VAR, raising=False)
    root = project(tmp_path / "p", HEAD + f'DATABASES = {{"default": {{{PG}, "NAME": "shop"}}}}\n'
                   + form.format(read=read))
    framework = detect_framework(root, "source")
    assert framework is not None and framework.database is not None
    sets = list_file_sets(framework, FileSetOptions()) or []
    assert [s.name for s in sets] == ["media"]
    reason = sets[0].skipped_reason or ""
    assert f"the environment variable {VAR} is not set" in reason and "\n" not in reason


def test_a_database_alias_names_its_unset_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hide_python(monkeypatch, tmp_path)
    monkeypatch.delenv(VAR, raising=False)
    root = project(tmp_path / "p", HEAD + f'DATABASES = {{"default": {{{PG}, "NAME": "shop"}}, '
                   f'"replica": {{{PG}, "NAME": "shop", "HOST": os.environ["{VAR}"]}}}}\n')
    framework = detect_framework(root, "source")
    assert framework is not None and framework.database is not None
    assert f"the environment variable {VAR} is not set" in framework.settings["connections"]["replica"]
