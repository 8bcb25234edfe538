"""Fixtures of the synco-rails tests: real Rails applications, a Rails-shaped tree, and a Ruby shim.

- ``rails_app``: a real application made by Debian's ``rails new`` (once per session and database, then
  copied per test), its Gemfile cut down to Rails and the database gems Debian packages and locked with
  ``bundle install --local``, so ``bin/rails runner`` boots offline against the system gems. Without Ruby
  the tests using it are skipped, and fail under ``CI=true``.
- ``make_app``: a copy of ``fixtures/shop``, a Rails 7-shaped tree that never boots (the tests without Ruby).
- ``ruby_shim``: a stand-in ``ruby`` that answers ``ruby bin/rails runner <code>`` from
  ``tmp/synco-runner.json``, only for what a real Ruby cannot show here (an answer in another Rails
  version's shape); its tests have "shim" in their names.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import synco_rails.plugin
from rails_support import hide_ruby, ruby_environment

from synco_core.testing import SyncoPluginManager
from synco_core.testing.services import require_tool, unavailable

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
        handle.write(json.dumps({{"argv": args[:2], "rails_env": os.environ.get("RAILS_ENV"), "cwd": os.getcwd(),
                                 "spring": os.environ.get("DISABLE_SPRING")}})
                     + "\\n")
if args == ["bin/rails", "db:migrate:status"]:
    sys.exit(0)
if len(args) != 3 or args[:2] != ["bin/rails", "runner"] or "ActiveRecord::Base.configurations" not in args[2] \\
        or "SYNCO-RAILS-CONFIG:" not in args[2]:
    sys.stderr.write("ruby shim: unexpected command " + " ".join(args[:2]) + "\\n")
    sys.exit(2)
with open("tmp/synco-runner.json") as handle:
    answers = json.load(handle)
env = os.environ.get("RAILS_ENV", "development")
if env not in answers:
    sys.stderr.write(env + " database is not configured (ActiveRecord::AdapterNotSpecified)\\n")
    sys.exit(1)
print("W, [2024-05-02T12:00:00.000000 #4711]  WARN -- : booting the application")
print()
print("SYNCO-RAILS-CONFIG:" + json.dumps(answers[env]))
'''


#: ``rails new`` without what needs the network or Node (the bundle, JavaScript) and without the parts
#: synco never reads, so the application boots with Debian's gems alone.
RAILS_NEW_FLAGS = (
    "--skip-bundle", "--skip-git", "--skip-javascript", "--skip-webpack-install", "--skip-spring", "--skip-listen",
    "--skip-turbolinks", "--skip-jbuilder", "--skip-test", "--skip-system-test", "--skip-sprockets",
    "--skip-action-cable", "--skip-action-mailbox", "--skip-action-text", "--skip-puma", "--skip-bootsnap",
    "--skip-keeps", "--no-rc",
)
#: The database gems Debian packages (ruby-pg, ruby-mysql2, ruby-sqlite3): every application gets all
#: three, so a test may point its database.yml at any adapter synco supports.
DATABASE_GEMS = ("pg", "mysql2", "sqlite3")
#: Gemfile lines kept from the generator's: the source, the Ruby version and Rails itself.
_KEPT_GEMFILE_LINE = re.compile(r"^(source |ruby |gem ['\"]rails['\"])")


def _checked(argv: list[str], cwd: Path, env: dict[str, str], what: str) -> str | None:
    """None when ``argv`` succeeded, else why it failed (its last line of output)."""
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)
    if result.returncode == 0:
        return None
    lines = (result.stderr.strip() or result.stdout.strip() or "no output").splitlines()
    return f"{what} failed with Debian's Ruby and Rails: {lines[-1]}"


@pytest.fixture(scope="session")
def rails_templates(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """``template(database)``: a real application named ``shop`` from ``rails new -d <database>``, made once
    per session and database (``postgresql`` or ``mysql``); copy it, never change it."""
    made: dict[str, Path] = {}
    failed: dict[str, str] = {}
    root = tmp_path_factory.mktemp("rails-apps")

    def template(database: str) -> Path:
        if database in made:
            return made[database]
        if database in failed:
            unavailable(failed[database])
        require_tool("ruby", "ruby")
        rails = require_tool("rails", "ruby-rails")
        bundle = require_tool("bundle", "bundler")
        folder = root / database
        folder.mkdir()
        env = ruby_environment(root)
        app = folder / "shop"
        failure = _checked([rails, "new", "shop", "-d", database, *RAILS_NEW_FLAGS], folder, env, "rails new")
        if failure is None:
            gemfile = app / "Gemfile"
            kept = [line for line in gemfile.read_text().splitlines() if _KEPT_GEMFILE_LINE.match(line)]
            gemfile.write_text("\n".join([*kept, *(f"gem '{gem}'" for gem in DATABASE_GEMS)]) + "\n")
            failure = _checked([bundle, "install", "--local", "--quiet"], app, env, "bundle install --local")
        if failure is not None:
            # Once per session: the next test needing this application is told the same, without retrying.
            failed[database] = failure
            unavailable(failure)
        made[database] = app.resolve()
        return made[database]

    return template


@pytest.fixture
def rails_env_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Bundler's files kept out of the user's home while a test runs Ruby."""
    home = tmp_path_factory.getbasetemp() / "ruby-home"
    monkeypatch.setenv("BUNDLE_USER_HOME", str(home / "bundle"))
    monkeypatch.setenv("BUNDLE_APP_CONFIG", str(home / "bundle-config"))


@pytest.fixture
def rails_app(rails_templates: Callable[[str], Path], tmp_path: Path,
              rails_env_home: None) -> Callable[..., Path]:
    """``rails_app(name, database="postgresql", database_yml=None)``: a copy of a real Rails application
    (its database.yml replaced when given), booted by ``bin/rails runner`` with the system's Ruby."""

    def make(name: str, database: str = "postgresql", database_yml: str | None = None) -> Path:
        target = tmp_path / name
        shutil.copytree(rails_templates(database), target, symlinks=True)
        if database_yml is not None:
            (target / "config/database.yml").write_text(database_yml)
        return target.resolve()

    return make


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


@pytest.fixture
def no_ruby(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    hide_ruby(monkeypatch, tmp_path)


@pytest.fixture(params=["runner", "files"])
def ruby_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """Runs a test twice: with the system's Ruby answering ``bin/rails runner`` (a failure under CI without
    it), and with no Ruby on ``PATH``, where the files are read."""
    if request.param == "files":
        hide_ruby(monkeypatch, tmp_path)
    else:
        require_tool("ruby", "ruby")
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
