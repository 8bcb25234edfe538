"""Fixtures of the synco-wordpress tests: copies of the fixture installation, WP-CLI (a stand-in) on or off."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import synco_wordpress.plugin
from wp_support import install_wp_cli

from synco_core.testing import SyncoPluginManager


@pytest.fixture
def wordpress_manager(plugin_manager: SyncoPluginManager,
                      register_plugin: Callable[[object, str], None]) -> Iterator[SyncoPluginManager]:
    """The per-test plugin manager (built-ins only) with synco-wordpress registered."""
    register_plugin(synco_wordpress.plugin, "wordpress")
    yield plugin_manager


@pytest.fixture
def fake_wp_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, Any]], Path]:
    """``fake_wp_cli(state)``: the WP-CLI stand-in first on PATH; returns its state file (calls.log beside it)."""

    def install(state: dict[str, Any]) -> Path:
        bin_dir = tmp_path / "wp-cli-bin"
        state_file = install_wp_cli(bin_dir, state)
        monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
        monkeypatch.setenv("SYNCO_FAKE_WP_STATE", str(state_file))
        return state_file

    return install


@pytest.fixture(params=["wp-cli-stand-in", "files-without-php"])
def wp_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """Runs a test twice: with the WP-CLI stand-in on PATH (the test installs it) and with neither WP-CLI nor
    PHP anywhere on PATH, where the plugin reads wp-config.php itself."""
    monkeypatch.delenv("WP_CLI", raising=False)
    if request.param == "files-without-php":
        empty = tmp_path / "no-php-bin"
        empty.mkdir(exist_ok=True)
        monkeypatch.setenv("PATH", str(empty))
        monkeypatch.delenv("PHP", raising=False)
    return str(request.param)
