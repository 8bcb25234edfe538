"""Fixtures of the synco-symfony tests: copies of the fixture projects, with and without PHP on PATH."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import synco_symfony.plugin

from synco_core.testing import SyncoPluginManager

FIXTURES = Path(__file__).parent / "fixtures"


def copy_fixture(name: str, target: Path) -> Path:
    """A copy of fixture ``name`` with the stand-in runtime as ``vendor/autoload_runtime.php``."""
    shutil.copytree(FIXTURES / name, target, symlinks=True)
    (target / "vendor").mkdir()
    shutil.copy(FIXTURES / "fake-symfony-runtime.php", target / "vendor" / "autoload_runtime.php")
    return target


@pytest.fixture
def make_project(tmp_path: Path) -> Callable[..., Path]:
    """``make_project("symfony7", files={".env.local": "..."})``: a fixture copy with extra or changed files."""
    counter = iter(range(1000))

    def make(name: str, files: dict[str, str] | None = None) -> Path:
        target = copy_fixture(name, tmp_path / f"{name}-{next(counter)}")
        for relative, text in (files or {}).items():
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            (target / relative).write_text(text)
        return target

    return make


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Variables Symfony reads must come from the fixture's files, not from the machine running the tests."""
    for name in list(os.environ):
        if name.startswith(("APP_", "DATABASE_", "DB_")) or name == "SYMFONY_DOTENV_VARS":
            monkeypatch.delenv(name)


@pytest.fixture
def symfony_manager(plugin_manager: SyncoPluginManager,
                    register_plugin: Callable[[object, str], None]) -> Iterator[SyncoPluginManager]:
    """The per-test plugin manager (built-ins only) with synco-symfony registered."""
    register_plugin(synco_symfony.plugin, "symfony")
    yield plugin_manager
