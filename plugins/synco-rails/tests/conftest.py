"""Fixtures of the synco-rails tests: copies of a Rails-shaped application, and a Ruby shim.

Ruby is not installed here, so the application never really boots. ``ruby_mode`` runs a test twice: with
``ruby_shim`` first on ``PATH`` (a stand-in ``ruby`` that answers ``ruby bin/rails runner <code>`` the way
the application would, from ``tmp/synco-runner.json`` in the project), and with no Ruby at all, where the
plugin reads ``config/database.yml`` and ``config/storage.yml`` itself.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import synco_rails.plugin

from synco_core.testing import SyncoPluginManager

FIXTURES = Path(__file__).parent / "fixtures"

#: The stand-in ``ruby``: only ``ruby bin/rails runner <code>`` is understood, and only code that asks
#: for the configurations and prints them after synco's marker, as synco-rails' runner code does.
RUBY_SHIM = '''#!{python}
"""A stand-in for ruby (tests only): answers `ruby bin/rails runner CODE` from tmp/synco-runner.json."""
import json, os, sys

args = sys.argv[1:]
log = os.environ.get("SYNCO_RUBY_SHIM_LOG")
if log:
    with open(log, "a") as handle:
        handle.write(json.dumps({{"argv": args[:2], "rails_env": os.environ.get("RAILS_ENV"), "cwd": os.getcwd()}})
                     + "\\n")
if len(args) != 3 or args[:2] != ["bin/rails", "runner"] or "ActiveRecord::Base.configurations" not in args[2] \\
        or "SYNCO-RAILS-CONFIG:" not in args[2]:
    sys.stderr.write("ruby shim: unexpected command " + " ".join(args[:2]) + "\\n")
    sys.exit(2)
try:
    with open("tmp/synco-runner.json") as handle:
        answers = json.load(handle)
except FileNotFoundError:
    sys.stderr.write("Could not find gem 'pg (~> 1.5)' in locally installed gems. (Bundler::GemNotFound)\\n")
    sys.exit(7)
env = os.environ.get("RAILS_ENV", "development")
if env not in answers:
    sys.stderr.write(env + " database is not configured (ActiveRecord::AdapterNotSpecified)\\n")
    sys.exit(1)
print("W, [2024-05-02T12:00:00.000000 #4711]  WARN -- : booting the application")
print()
print("SYNCO-RAILS-CONFIG:" + json.dumps(answers[env]))
'''


@pytest.fixture
def make_app(tmp_path: Path) -> Callable[..., Path]:
    """``make_app(name, database_yml=None)``: a copy of the fixture application (its database.yml replaced)."""

    def make(name: str, database_yml: str | None = None) -> Path:
        target = tmp_path / name
        shutil.copytree(FIXTURES / "shop", target, symlinks=True)
        if database_yml is not None:
            (target / "config/database.yml").write_text(database_yml)
        return target.resolve()

    return make


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


@pytest.fixture
def ruby_shim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The stand-in ``ruby`` alone on ``PATH``; returns the log of its calls (one JSON line each)."""
    bin_dir = tmp_path / "shim-bin"
    bin_dir.mkdir()
    ruby = bin_dir / "ruby"
    ruby.write_text(RUBY_SHIM.format(python=sys.executable))
    ruby.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    log = tmp_path / "ruby-shim.log"
    monkeypatch.setenv("SYNCO_RUBY_SHIM_LOG", str(log))
    return log


def hide_ruby(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    empty = tmp_path / "no-ruby-bin"
    empty.mkdir(exist_ok=True)
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("RUBY", raising=False)


@pytest.fixture
def no_ruby(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    hide_ruby(monkeypatch, tmp_path)


@pytest.fixture(params=["runner-shim", "files"])
def ruby_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """Runs a test twice: with the Ruby shim answering ``bin/rails runner``, and with no Ruby."""
    if request.param == "files":
        hide_ruby(monkeypatch, tmp_path)
    else:
        request.getfixturevalue("ruby_shim")
    return str(request.param)


@pytest.fixture
def rails_manager(plugin_manager: SyncoPluginManager,
                  register_plugin: Callable[[object, str], None]) -> Iterator[SyncoPluginManager]:
    """The per-test plugin manager (built-ins only) with synco-rails registered."""
    register_plugin(synco_rails.plugin, "rails")
    yield plugin_manager


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """What Rails reads from the environment must come from the test, not from the machine."""
    for name in list(os.environ):
        if name in ("RAILS_ENV", "RACK_ENV", "RUBY", "RAILS_MAX_THREADS") or name.endswith("DATABASE_URL") \
                or name.startswith(("DB_", "SHOP_", "AWS_")):
            monkeypatch.delenv(name)
