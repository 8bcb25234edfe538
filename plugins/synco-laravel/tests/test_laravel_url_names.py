"""synco-laravel: the URL variable the framework's own config/database.php reads, by version (Laravel 11's
DB_URL, DATABASE_URL before), when the project has no config/database.php of its own."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from synco_laravel.plugin import detect_framework

from synco_core.testing.services import hide_php

Make = Callable[..., Path]

SETTINGS = {"DB_CONNECTION": "mysql", "DB_HOST": "db.internal", "DB_PORT": "3306", "DB_DATABASE": "shop",
            "DB_USERNAME": "shop", "DB_PASSWORD": "pw"}


@pytest.mark.parametrize(("fixture", "ignored", "read"), [("laravel11", "DATABASE_URL", "DB_URL"),
                                                          ("laravel10", "DB_URL", "DATABASE_URL")])
def test_the_url_variable_of_the_other_version_is_not_used(make_project: Make, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           caplog: pytest.LogCaptureFixture, fixture: str,
                                                           ignored: str, read: str) -> None:
    """A platform's DATABASE_URL beside a Laravel 11 application's DB_* settings (Laravel 11 reads DB_URL
    only): synco connected to the URL's database, which the application does not use, silently. Now the
    settings are used, the ignored variable is named in a warning, and the version's own variable still wins."""
    hide_php(monkeypatch, tmp_path)
    project = make_project(fixture, env={**SETTINGS, ignored: "mysql://other:secret@platform-db:3307/platform"})
    (project / "config" / "database.php").unlink()
    framework = detect_framework(project)
    assert framework is not None and framework.database is not None
    assert (framework.database.host, framework.database.name, framework.database.user) == (
        "db.internal", "shop", "shop")
    assert ignored in caplog.text and read in caplog.text and "secret" not in caplog.text
    own = make_project(fixture, env={**SETTINGS, read: "mysql://own:pw@own-db:3308/own"})
    (own / "config" / "database.php").unlink()
    found = detect_framework(own)
    assert found is not None and found.database is not None
    assert (found.database.host, found.database.name) == ("own-db", "own")
