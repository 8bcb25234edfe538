"""Development sessions: tests (core and each plugin), lint, typecheck, docs, demo, benchmarks.

``nox -s tests`` installs the core and every plugin into one environment and runs the whole suite;
``nox -s plugin`` runs each plugin's own tests with only the core beside it (one session per plugin).
"""

from __future__ import annotations

import os
from pathlib import Path

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True

ROOT = Path(__file__).parent
# Pinned to a minor release: a new ruff or mypy must not turn CI red without a change here.
RUFF = "ruff==0.17.*"
MYPY = "mypy==2.4.*"
PLUGINS = sorted(p.name for p in (ROOT / "plugins").iterdir() if (p / "pyproject.toml").exists())
PYTHON = os.environ.get("SYNCO_NOX_PYTHON") or None


def install_all(session: nox.Session, *extras: str) -> None:
    session.install("-e", f".[{','.join(('test', *extras))}]", *(a for p in PLUGINS for a in ("-e", f"plugins/{p}")))


#: The whole suite runs in this many pytest-xdist workers at most (one per core below that): most tests wait
#: on servers and subprocesses, and on 2 cores two workers take the suite from 10.5 to 6 minutes. More would
#: only crowd the one MariaDB and PostgreSQL server every worker shares.
TEST_WORKERS = 4
#: The tests' environment. PYTHONDONTWRITEBYTECODE emptied: CI images and sandboxes set it, and then every synco
#: process a test starts (thousands in the suite) compiles synco from source again (0.45 s of CPU more for
#: ``synco db load --help``), and every xdist worker rewrites every test module's asserts (20 s of CPU each).
TEST_ENV = {"PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": ""}


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The whole suite: core, end-to-end and every plugin's tests, with every plugin installed."""
    install_all(session)
    session.run("pytest", *(session.posargs or ["-q", "-n", "auto", "--maxprocesses", str(TEST_WORKERS)]),
                env=TEST_ENV)


@nox.session(python=PYTHON)
@nox.parametrize("plugin", PLUGINS, ids=PLUGINS)
def plugin(session: nox.Session, plugin: str) -> None:
    """One plugin's own tests with only the core installed beside it."""
    session.install("-e", ".[test]", "-e", f"plugins/{plugin}")
    session.run("pytest", "-q", f"plugins/{plugin}/tests", *session.posargs, env=TEST_ENV)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff over everything."""
    session.install(RUFF)
    session.run("ruff", "check", ".")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict on synco_core, the plugins and the example plugin (pyproject.toml lists them)."""
    install_all(session)
    session.install(MYPY, "types-PyYAML")
    session.run("mypy")


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Build the documentation site, failing on any warning."""
    session.install("mkdocs>=1.5")  # the same as the docs extra, without installing synco itself
    session.run("mkdocs", "build", "--strict", "--site-dir", str(ROOT / ".nox" / "site"))


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """Install synco and its plugins, then run the round trip on the built-in SQLite example app."""
    install_all(session)
    session.run("python", "examples/demo.py", *session.posargs)


@nox.session(python=PYTHON)
def benchmarks(session: nox.Session) -> None:
    """Run the benchmarks (``nox -s benchmarks -- age mysql`` picks some) and print ratio tables."""
    install_all(session)
    session.run("python", "benchmarks/run.py", *session.posargs)
