"""Fixtures of the synco-drupal tests: copies of the fixture project, Drush (a stand-in) on or off."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import synco_drupal.plugin
from drupal_support import install_drush

from synco_core.testing import SyncoPluginManager


@pytest.fixture
def drupal_manager(plugin_manager: SyncoPluginManager,
                   register_plugin: Callable[[object, str], None]) -> Iterator[SyncoPluginManager]:
    """The per-test plugin manager (built-ins only) with synco-drupal registered."""
    register_plugin(synco_drupal.plugin, "drupal")
    yield plugin_manager


@pytest.fixture
def fake_drush(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, Any]], Path]:
    """``fake_drush(state)``: the Drush stand-in first on PATH; returns its state file (calls.log beside it)."""

    def install(state: dict[str, Any]) -> Path:
        bin_dir = tmp_path / "drush-bin"
        state_file = install_drush(bin_dir, state)
        monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
        monkeypatch.setenv("SYNCO_FAKE_DRUSH_STATE", str(state_file))
        return state_file

    return install


@pytest.fixture(params=["drush-stand-in", "files-without-php"])
def drush_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """Runs a test twice: with the Drush stand-in on PATH (the test installs it) and with neither Drush nor
    PHP on PATH, where the plugin reads settings.php itself."""
    monkeypatch.delenv("SYNCO_DRUPAL_SITE", raising=False)
    if request.param == "files-without-php":
        empty = tmp_path / "no-php-bin"
        empty.mkdir(exist_ok=True)
        monkeypatch.setenv("PATH", str(empty))
        monkeypatch.delenv("PHP", raising=False)
    return str(request.param)
