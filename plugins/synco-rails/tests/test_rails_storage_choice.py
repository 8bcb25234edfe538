"""Which Active Storage services file and service an application uses, as Rails chooses them: the
environment's own config/storage/<env>.yml over config/storage.yml, the service set in config/application.rb
when the environment file sets none, the last assignment winning, a Mirror's files in its Disk primary. Each
was a set of files silently missing or taken from the wrong folder; a service synco cannot read is said."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from synco_rails.plugin import detect_framework, list_file_sets

from synco_core import FileSet, FileSetOptions, Framework

Make = Callable[..., Path]

ENV_STORAGE = """local:
  service: Disk
  root: <%= Rails.root.join("shared/storage") %>
"""

MIRROR = """local:
  service: Disk
  root: <%= Rails.root.join("storage") %>
amazon:
  service: S3
  bucket: shop
  region: eu-central-1
mirror:
  service: Mirror
  primary: {primary}
  mirrors: [amazon]
"""


def detected(project: Path, side: str = "source") -> Framework:
    framework = detect_framework(project, side)
    assert framework is not None
    return framework


def sets_of(framework: Framework) -> dict[str, FileSet]:
    return {s.name: s for s in list_file_sets(framework, FileSetOptions()) or []}


def _set_service(app: Path, line: str, file: str = "config/environments/production.rb") -> None:
    """``line`` in ``file``, the fixture's own ``:local`` in production.rb gone."""
    production = app / "config/environments/production.rb"
    production.write_text(production.read_text().replace("  config.active_storage.service = :local\n", ""))
    path = app / file
    anchor = "  config.time_zone" if file.endswith("application.rb") else "  config.force_ssl"
    path.write_text(path.read_text().replace(anchor, f"  {line}\n{anchor}"))


@pytest.fixture
def app(make_app: Make, no_ruby: None, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SHOP_DATABASE_PASSWORD", "x")
    made = make_app("app")
    (made / "shared/storage").mkdir(parents=True)
    return made


def test_the_environments_own_services_file_wins(app: Path) -> None:
    (app / "config/storage").mkdir()
    (app / "config/storage/production.yml").write_text(ENV_STORAGE)
    framework = detected(app)
    assert sets_of(framework)["local"].root == app / "shared/storage"
    assert framework.settings["disk_roots"]["local"] == str(app / "shared/storage")
    # Development has no file of its own: config/storage.yml.
    assert detected(app, "destination").settings["disk_roots"]["local"] == str(app / "storage")


@pytest.mark.parametrize("value", [":local", '"local"', "'local'", ":local  # on the server's disk"])
def test_the_service_set_in_application_rb_counts(app: Path, value: str) -> None:
    _set_service(app, f"config.active_storage.service = {value}", "config/application.rb")
    assert sets_of(detected(app))["local"].root == app / "storage"


def test_the_last_assignment_wins(app: Path) -> None:
    _set_service(app, "config.active_storage.service = :amazon\n  config.active_storage.service = :local")
    sets = sets_of(detected(app))
    assert "local" in sets and "amazon" not in sets


@pytest.mark.parametrize("value", ['ENV.fetch("STORAGE_SERVICE", "local").to_sym', ":local if ENV['X']",
                                   "Rails.application.credentials.storage"])
@pytest.mark.parametrize("file", ["config/environments/production.rb", "config/application.rb"])
def test_a_service_only_ruby_can_read_is_said(app: Path, caplog: pytest.LogCaptureFixture, value: str,
                                              file: str) -> None:
    _set_service(app, f"config.active_storage.service = {value}", file)
    with caplog.at_level(logging.WARNING):
        sets = sets_of(detected(app))
    assert "local" not in sets
    said = [r.getMessage() for r in caplog.records if "Active Storage service" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith(f"{file} line ") and "without Ruby" in said[0], caplog.text


def test_a_mirror_is_its_disk_primary(app: Path) -> None:
    (app / "config/storage.yml").write_text(MIRROR.format(primary="local"))
    _set_service(app, "config.active_storage.service = :mirror")
    framework = detected(app)
    mirror = sets_of(framework)["mirror"]
    assert (mirror.kind, mirror.root, mirror.skipped_reason) == ("private", app / "storage", None)
    assert framework.settings["disk_roots"]["mirror"] == str(app / "storage")


def test_a_mirror_of_a_bucket_is_skipped_saying_why(app: Path) -> None:
    (app / "config/storage.yml").write_text(MIRROR.format(primary="amazon"))
    _set_service(app, "config.active_storage.service = :mirror")
    mirror = sets_of(detected(app))["mirror"]
    assert mirror.root is None and "primary 'amazon' is not a Disk" in (mirror.skipped_reason or "")
