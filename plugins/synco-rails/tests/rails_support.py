"""Helpers of the synco-rails tests that test modules import by name: a ``conftest`` cannot be imported by
name once several plugins' tests are collected in one run (``import conftest`` finds whichever came first)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest


def ruby_environment(home: Path) -> dict[str, str]:
    """The environment Ruby runs in for the tests: Bundler's own files kept under ``home``, never the
    user's; no network (``--local`` everywhere)."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("BUNDLE_", "GEM_", "RAILS_"))}
    env.update(BUNDLE_USER_HOME=str(home / "bundle"), BUNDLE_APP_CONFIG=str(home / "bundle-config"))
    return env


def runner_answer(project: Path, rails_env: str, databases: list[tuple[str, dict[str, Any]]],
                  service: str | None = "local") -> None:
    """What the shim prints for ``rails_env`` in ``project``: Active Record's configurations as Rails 7
    reports them (URLs merged, keys as in database.yml) and Active Storage's settings."""
    path = project / "tmp/synco-runner.json"
    answers = json.loads(path.read_text()) if path.exists() else {}
    answers[rails_env] = {
        "env": rails_env, "root": str(project),
        "databases": [{"name": name, "config": config} for name, config in databases],
        "storage_service": service,
        "storage": {"local": {"service": "Disk", "root": str(project / "storage")},
                    "test": {"service": "Disk", "root": str(project / "tmp/storage")}},
    }
    path.write_text(json.dumps(answers))


def hide_ruby(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    empty = tmp_path / "no-ruby-bin"
    empty.mkdir(exist_ok=True)
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("RUBY", raising=False)
