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
  itself (:data:`cli`, for click's ``CliRunner``);
- for the rule that every configuration file is read bounded and never hangs: :func:`hostile_file` (a
  huge file, a link to ``/dev/zero``, a silent named pipe), :func:`run_cli` (synco in a child process,
  with a time and a memory limit) and :func:`assert_refused` (the one-line error it must give).

Integration fixtures (throw-away databases, a static web server, PHP on and off, the serve -> receive ->
install round trip) are a plugin of their own: :mod:`synco_core.testing.services`.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from synco_core.detection import detect, list_file_sets
from synco_core.dumpoptions import present_in, resolve_session_dump
from synco_core.plugins import SyncoPluginManager, build_plugin_manager, set_plugin_manager
from synco_core.testing.contracts import EngineContract, FrameworkPluginContract
from synco_core.values import DatabaseInventory, DumpOptions, DumpResult, Framework

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


def options_kept_for(options: DumpOptions, inventory: DatabaseInventory) -> DumpOptions:
    """What the core keeps of a profile's ``options`` for a database with ``inventory``: rules for tables
    and columns it lacks dropped, names spelt as the database spells them where the engine ignores case."""
    return present_in(options, inventory)


def serve_dump_options(framework: Framework, *, all: bool = False, sanitize: bool = True,
                       manager: SyncoPluginManager | None = None) -> DumpOptions:
    """The dump options ``serve`` hands the engine for ``framework`` (``all``: ``--all``; ``sanitize=False``:
    ``--no-sanitize``), strict mode checked as serve checks it."""
    return resolve_session_dump(framework, all=all, sanitize=sanitize, manager=manager).options


#: The markers personal-data tests plant in a source database: values starting ``pii`` and addresses of the
#: documentation network 203.0.113.0/24; :func:`assert_no_markers` looks for them in a dump.
PII_MARKERS = re.compile(rb"pii[\w.@-]*|203\.0\.113\.\d+", re.IGNORECASE)


def dump_as_served(framework: Framework, out: Path, *, all: bool = False,
                   manager: SyncoPluginManager | None = None) -> DumpResult:
    """Dump ``framework``'s database into the file ``out`` with the options ``serve`` would hand the engine
    (:func:`serve_dump_options`; ``all``: ``--all``), the plaintext a sanitising test searches."""
    from synco_core.engines.dispatch import dump_with_engine

    if framework.database is None:
        raise AssertionError(f"{framework.name} has no database to dump")
    with out.open("wb") as stream:
        return dump_with_engine(framework.database, stream, serve_dump_options(framework, all=all, manager=manager))


def assert_no_markers(dumped: bytes, *, kept: Iterable[bytes] = (), markers: re.Pattern[bytes] = PII_MARKERS,
                      in_blobs: bool = False) -> None:
    """No match of ``markers`` in ``dumped`` (all of them named when some are), each of ``kept`` (values that
    are not personal) still in it; with ``in_blobs``, no ``pii-`` in hexadecimal either (a marker in a blob
    column, which a dump writes as hex)."""
    leaked = sorted({found.group(0).decode(errors="replace") for found in markers.finditer(dumped)})
    assert not leaked, f"personal data or credentials in the dump: {leaked}"
    if in_blobs:
        assert b"pii-".hex().encode() not in dumped.lower(), "a marker in a blob, in hexadecimal"
    for value in kept:
        assert value in dumped, f"{value!r} is not personal and must stay"


def run_post_install(framework: Framework) -> None:
    """Run ``framework.post_install`` in the project as ``install --post-install`` does (stops at a failure)."""
    from synco_core.install.run import run_post_install as run

    run(framework)


#: The ways :func:`hostile_file` spoils a configuration file, each of which synco must refuse with one line,
#: and what that line says (after the file's path).
HOSTILE_CASES = {
    "huge": "is too large to be a",
    "dev-zero": "is a character device, not a",
    "fifo": "is a named pipe that delivered nothing",
}


def hostile_file(path: Path, case: str, *, limit: int | None = None) -> None:
    """Replace ``path`` by a configuration file synco must refuse quickly, with a one-line error:

    - ``huge``: a regular file one line past ``limit`` (default ``MAX_CONFIG_BYTES``; ``MAX_LOCK_FILE_BYTES``
      for a Composer lock file), of comment lines in ``.env``, YAML, Python and Ruby, and PHP's inline HTML,
      so a reader without the bound would accept it;
    - ``dev-zero``: a symbolic link to ``/dev/zero``, endless;
    - ``fifo``: a named pipe nobody writes to.
    """
    from synco_core.frameworkutil.configfile import MAX_CONFIG_BYTES

    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink() or path.exists():
        path.unlink()
    if case == "huge":
        line = b"#" + b"-" * 62 + b"\n"
        path.write_bytes(line * ((limit or MAX_CONFIG_BYTES) // len(line) + 2))
    elif case == "dev-zero":
        path.symlink_to("/dev/zero")
    elif case == "fifo":
        os.mkfifo(path)
    else:
        raise ValueError(f"unknown case {case!r}: one of {', '.join(HOSTILE_CASES)}")


def assert_refused(result: subprocess.CompletedProcess[str], path: str | Path, case: str) -> None:
    """``result`` (of :func:`run_cli`) is synco refusing the file ``path`` spoilt as ``case``: exit status 1,
    no traceback, and the error on one last line, ``Error: ...<path> <what HOSTILE_CASES says>...`` (warnings
    logged before it are allowed). ``path`` may be relative: the line must contain it."""
    lines = result.stderr.splitlines()
    assert result.returncode == 1 and lines, f"exit status {result.returncode}: {result.stderr}"
    assert "Traceback" not in result.stderr and [line for line in lines if line.startswith("Error:")] == lines[-1:], \
        result.stderr
    assert f"{Path(path)} {HOSTILE_CASES[case]}" in lines[-1], lines[-1]


def run_cli(args: Sequence[str], *, cwd: Path | None = None, env: Mapping[str, str] | None = None,
            timeout: float = 20.0) -> subprocess.CompletedProcess[str]:
    """Run ``synco ARGS`` in a child process and return what it did (``returncode``, ``stdout``, ``stderr``).

    For tests of what must never hang or fill the memory: the child is killed after ``timeout`` seconds
    (``subprocess.TimeoutExpired`` fails the test) and may use 1 GiB of address space at most, so a reader
    that runs away fails with a ``MemoryError`` instead of taking the machine with it. ``env`` defaults to
    this process's environment, with ``SYNCO_PIPE_TIMEOUT=0.1`` so a named pipe's wait is short.
    """
    # A tenth of a second: the tests' pipes have no writer at all, so any wait ends the same way, and every
    # hostile-pipe case of every plugin paid the whole wait.
    environ = {**os.environ, "SYNCO_PIPE_TIMEOUT": "0.1"} if env is None else dict(env)

    def limit_memory() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    return subprocess.run([sys.executable, "-m", "synco_core", *args], cwd=cwd, env=environ, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                          preexec_fn=limit_memory if sys.platform != "win32" else None)


def write_distribution(site: Path, dist: str, entry_points: Mapping[str, str], modules: Mapping[str, str]) -> None:
    """Lay out an installed distribution in ``site``: ``<dist>-1.2.3.dist-info`` whose ``entry_points.txt``
    declares ``entry_points`` (name -> module or ``module:object``) in the ``synco`` group, and a
    ``<module>.py`` for each of ``modules`` (name -> source).

    This is what pip leaves in site-packages, so synco finds the plugin exactly as it finds an installed one
    once ``site`` is on the path: on ``PYTHONPATH`` in :func:`run_cli`'s ``env``, for a test of what a user
    meets with a broken plugin installed (``synco plugins`` lists it as failed, ``synco detect`` goes on).
    """
    info = site / f"{dist.replace('-', '_')}-1.2.3.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
    lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[synco]\n{lines}")
    for module, source in modules.items():
        (site / f"{module}.py").write_text(source)


def __getattr__(name: str) -> Any:
    # The command line is imported on first use: most plugin tests never need click's machinery.
    if name == "cli":
        from synco_core.cli.main import cli

        return cli
    raise AttributeError(f"module 'synco_core.testing' has no attribute {name!r}")


__all__ = [
    "HOSTILE_CASES",
    "PII_MARKERS",
    "EngineContract",
    "FrameworkPluginContract",
    "SyncoPluginManager",
    "assert_no_markers",
    "assert_refused",
    "cli",
    "configured_dump_options",
    "detect",
    "dump_as_served",
    "hostile_file",
    "list_file_sets",
    "options_kept_for",
    "plugin_manager",
    "register_plugin",
    "run_cli",
    "run_post_install",
    "serve_dump_options",
    "write_distribution",
]
