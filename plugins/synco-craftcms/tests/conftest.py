"""Fixtures of the synco-craftcms tests."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
import synco_craftcms.plugin

from synco_core.testing import SyncoPluginManager


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real environment wins over .env in Craft: no CRAFT_* variable of the machine running the tests."""
    for name in list(os.environ):
        if name.startswith(("CRAFT_", "DB_")) or name in ("ENVIRONMENT", "PRIMARY_SITE_URL"):
            monkeypatch.delenv(name)


@pytest.fixture
def craft_manager(plugin_manager: SyncoPluginManager,
                  register_plugin: Callable[[object, str], None]) -> Iterator[SyncoPluginManager]:
    """The per-test plugin manager (built-ins only) with synco-craftcms registered."""
    register_plugin(synco_craftcms.plugin, "craftcms")
    yield plugin_manager
