"""The test API for plugin authors, loaded as a pytest plugin (``-p synco_core.testing``).

Like :mod:`synco_core` for plugin code, this is the one public place for plugin tests; it is documented
in "Writing a plugin" and kept stable. It holds:

- the fixtures ``plugin_manager`` (a fresh manager with the built-ins but no entry points, installed as
  the process manager for the test) and ``register_plugin`` (``register_plugin(obj, name)`` adds a plugin
  object for one test only, failing the test when it does not match the hook specifications);
- the contract test classes :class:`FrameworkPluginContract` and :class:`EngineContract`, which a plugin's
  tests subclass;
- what a plugin's tests ask the core: which framework it detects (:func:`detect`), the file sets it joins
  (:func:`list_file_sets`), the dump options it resolves (:func:`configured_dump_options`,
  :func:`serve_dump_options`), the post-install commands (:func:`run_post_install`), and the command line
  itself (:data:`cli`, for click's ``CliRunner``).

Integration fixtures (throw-away databases, a static web server, PHP on and off, the serve -> receive ->
install round trip) are a plugin of their own: :mod:`synco_core.testing.services`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from synco_core.detection import detect, list_file_sets
from synco_core.dumpoptions import resolve_session_dump
from synco_core.plugins import SyncoPluginManager, build_plugin_manager, set_plugin_manager
from synco_core.testing.contracts import EngineContract, FrameworkPluginContract
from synco_core.values import DumpOptions, Framework

if TYPE_CHECKING:
    from synco_core.cli.main import cli


@pytest.fixture
def plugin_manager() -> Iterator[SyncoPluginManager]:
    """A manager with the built-in plugins but no entry points, used by synco for this test only."""
    manager = build_plugin_manager(load_entrypoints=False)
    set_plugin_manager(manager)
    yield manager
    set_plugin_manager(None)


@pytest.fixture
def register_plugin(plugin_manager: SyncoPluginManager) -> Iterator[Callable[[object, str], None]]:
    """``register_plugin(obj, name)`` registers a plugin object for the rest of this test."""
    names: list[str] = []

    def register(plugin: object, name: str) -> None:
        if not plugin_manager.register(plugin, name):
            failure = plugin_manager.failures[-1]
            raise AssertionError(f"plugin {name} did not register: {failure.reason}")
        names.append(name)

    yield register
    for name in names:
        plugin_manager.unregister(name)


def configured_dump_options(framework: Framework, manager: SyncoPluginManager | None = None) -> DumpOptions:
    """The dump options ``serve`` starts from for ``framework``: every plugin's ``default_dump_options``,
    filtered against the database's inventory, with ``framework.dump_options`` on top (what ``synco detect``
    shows; the smart transfer is not applied yet, see :meth:`DumpOptions.effective`)."""
    return resolve_session_dump(framework, manager=manager, check=False).configured


def serve_dump_options(framework: Framework, *, all: bool = False, sanitize: bool = True,
                       manager: SyncoPluginManager | None = None) -> DumpOptions:
    """The dump options ``serve`` hands the engine for ``framework`` (``all``: ``--all``; ``sanitize=False``:
    ``--no-sanitize``), strict mode checked as serve checks it."""
    return resolve_session_dump(framework, all=all, sanitize=sanitize, manager=manager).options


def run_post_install(framework: Framework) -> None:
    """Run ``framework.post_install`` in the project as ``install --post-install`` does (stops at a failure)."""
    from synco_core.install.run import run_post_install as run

    run(framework)


def __getattr__(name: str) -> Any:
    # The command line is imported on first use: most plugin tests never need click's machinery.
    if name == "cli":
        from synco_core.cli.main import cli

        return cli
    raise AttributeError(f"module 'synco_core.testing' has no attribute {name!r}")


__all__ = [
    "EngineContract",
    "FrameworkPluginContract",
    "SyncoPluginManager",
    "cli",
    "configured_dump_options",
    "detect",
    "list_file_sets",
    "plugin_manager",
    "register_plugin",
    "run_post_install",
    "serve_dump_options",
]
