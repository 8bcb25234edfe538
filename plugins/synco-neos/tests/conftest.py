"""Fixtures of the synco-neos tests: copies of the Neos 8 / Neos 9 fixture distributions, PHP on or off."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from synco_neos import plugin

from synco_core.testing import SyncoPluginManager

FIXTURES = Path(__file__).parent / "fixtures"

#: Environment variables the fixtures' settings read; cleared so the host's environment cannot leak in.
FIXTURE_ENV = (
    "FLOW_CONTEXT", "PHP", "DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_PASSWORD", "NEOS_DB_PASSWORD",
    "DATABASE_HOST", "DATABASE_NAME", "DATABASE_USER", "DATABASE_PASSWORD", "SYNCO_DATABASE_URL", "DATABASE_URL",
)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in FIXTURE_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def make_project(tmp_path: Path) -> Callable[[str], Path]:
    """``make_project("neos8")``: a private copy of a fixture distribution (tests write Data/ and Web/)."""

    def make(name: str) -> Path:
        target = tmp_path / "fixtures"
        if not target.exists():
            shutil.copytree(FIXTURES, target, symlinks=True)
        return (target / name).resolve()

    return make


@pytest.fixture
def neos_manager(plugin_manager: SyncoPluginManager,
                 register_plugin: Callable[[object, str], None]) -> SyncoPluginManager:
    """The per-test plugin manager (built-ins only) with synco-neos registered."""
    register_plugin(plugin, "neos")
    return plugin_manager
