"""What synco says when it reaches one of the account's resource limits (synco_core/limits.py).

Shared hosting and containers limit processes and threads (``ulimit -u``), open files (``ulimit -n``) and
memory (``ulimit -v``). Python's own words for reaching one ("can't start new thread", "Resource temporarily
unavailable", a MemoryError with no message) name neither the limit nor that it is one; every command's last
line does, with the limit's value. tests/test_pull_remote_environment.py reaches them for real on the remote side.
"""

from __future__ import annotations

import errno
import resource
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from synco_core.cli.main import cli
from synco_core.limits import limit_reached
from synco_core.redaction import error_line

NPROC = resource.getrlimit(resource.RLIMIT_NPROC)[0]
NOFILE = resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _said(value: int, word: str) -> str:
    return f" ({value})" if value != resource.RLIM_INFINITY else ""


CASES: list[tuple[Callable[[], BaseException], str]] = [
    (lambda: RuntimeError("can't start new thread"),
     f"cannot start a thread: this account's limit on processes and threads{_said(NPROC, 'u')} is reached"),
    (lambda: BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable"),
     f"cannot start a process: this account's limit on processes and threads{_said(NPROC, 'u')} is reached"),
    (lambda: OSError(errno.EMFILE, "Too many open files", "/srv/app/public/a.jpg"),
     f"too many open files: this account's limit on open files{_said(NOFILE, 'n')} is reached (ulimit -n)"),
    (lambda: OSError(errno.ENFILE, "Too many open files in system"), "too many open files on this system"),
    (MemoryError, "out of memory"),
    # The kernel's word for it: an import's mmap or read refused under ulimit -v names a file, but is no
    # "cannot use <file>".
    (lambda: OSError(errno.ENOMEM, "Cannot allocate memory", "/usr/lib/python3/email"), "out of memory"),
]


@pytest.mark.parametrize(("make", "said"), CASES, ids=["thread", "fork", "emfile", "enfile", "memory", "enomem"])
def test_a_reached_limit_is_named_on_the_command_line_and_in_error_lines(make: Callable[[], BaseException],
                                                                         said: str) -> None:
    assert (limit_reached(make()) or "").startswith(said)
    assert error_line(make()).startswith(said)

    @click.command("limit-test")
    def limit_test() -> None:
        raise make()

    cli.add_command(limit_test)
    try:
        result = CliRunner().invoke(cli, ["limit-test"])
    finally:
        cli.commands.pop("limit-test")
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1].startswith(f"Error: {said}"), result.output
    assert "Traceback" not in result.output


def test_other_errors_are_not_taken_for_a_limit() -> None:
    for exc in (RuntimeError("dictionary changed size"), OSError(errno.EAGAIN, "Resource temporarily unavailable",
                                                                 "/srv/socket"), OSError(errno.EACCES, "denied")):
        assert limit_reached(exc) is None


def test_a_thread_whose_stack_does_not_fit_in_the_memory_limit_names_that_limit() -> None:
    # pthread_create says EAGAIN, as at the limit on processes: the limit on memory (ulimit -v) is the one
    # reached when the new thread's stack does not fit in what it leaves.
    script = (
        "import resource, threading\n"
        "from synco_core.limits import limit_reached\n"
        "used = int([l for l in open('/proc/self/status') if l.startswith('VmSize:')][0].split()[1]) << 10\n"
        "threading.stack_size(64 << 20)\n"
        "resource.setrlimit(resource.RLIMIT_AS, (used + (32 << 20), resource.RLIM_INFINITY))\n"
        "try:\n"
        "    threading.Thread(target=lambda: None).start()\n"
        "except RuntimeError as exc:\n"
        "    print(limit_reached(exc))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    said = result.stdout.strip()
    assert said.startswith("cannot start a thread: out of memory: this account's limit on a process's memory ("), said
    assert "ulimit -v" in said and "ulimit -u" not in said



_NEAR_THE_LIMIT = (
    "import errno, os, resource, zlib\n"
    "from synco_core.limits import limit_reached\n"
    "peak = int([l for l in open('/proc/self/status') if l.startswith('VmPeak:')][0].split()[1]) << 10\n"
    "if {room} is not None:\n"
    "    resource.setrlimit(resource.RLIMIT_AS, (peak + {room}, resource.RLIM_INFINITY))\n"
    "cases = [SystemError('<built-in function loads> returned NULL without setting an exception'),\n"
    "         zlib.error('Error -4 while decompressing data'),\n"
    "         ImportError('/usr/lib/python3/lib-dynload/_socket.so: failed to map segment from shared object'),\n"
    "         OSError(errno.ENOENT, 'No such file or directory', '/srv/app/missing')]\n"
    "for exc in cases:\n"
    "    print(limit_reached(exc))\n"
)


@pytest.mark.parametrize(("room", "named"), [(1 << 20, True), (1 << 30, False), (None, False)],
                         ids=["limit-close", "limit-far", "no-limit"])
def test_the_interpreters_own_failures_close_to_the_memory_limit_are_that_limit(room: int | None,
                                                                                  named: bool) -> None:
    # An allocation that fails deep in the interpreter or a C library comes out in words of its own; with the
    # process's peak within a few MiB of ulimit -v it is that limit, and never far from it or without one. A
    # path the system refused is no memory limit, however close the peak came.
    result = subprocess.run([sys.executable, "-c", _NEAR_THE_LIMIT.format(room=room)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    *interpreter, path = result.stdout.splitlines()
    for said in interpreter:
        assert ("ulimit -v" in said) is named, said
    assert path == "None"


def test_memory_running_out_while_plugins_load_or_answer_is_the_limit_not_a_broken_plugin(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Every plugin failed to load under ulimit -v, each reported as broken, and the run went on to "no framework
    # detected (framework plugins asked: none installed)"; a hook's MemoryError was one plugin's failure too.
    from synco_core import hookimpl
    from synco_core.detection import detect_candidates
    from synco_core.limits import LimitReached
    from synco_core.plugins import build_plugin_manager
    from synco_core.testing import write_distribution

    monkeypatch.syspath_prepend(str(tmp_path))
    write_distribution(tmp_path, "synco-hungry", {"hungry": "synco_hungry_plugin"},
                       {"synco_hungry_plugin": "raise MemoryError\n"})
    with pytest.raises(LimitReached, match=r"^out of memory"):
        build_plugin_manager()

    def hungry(project_dir: Path) -> None:
        raise MemoryError

    manager = build_plugin_manager(load_entrypoints=False)
    manager.register(type("Hungry", (), {"detect_framework": staticmethod(hookimpl(hungry))}), "hungry")
    with pytest.raises(LimitReached, match=r"^out of memory"):
        detect_candidates(tmp_path, manager)


def _remote_side_under(limit: int | None, zipapp: Path, folder: Path) -> tuple[int, str]:
    """Status and last stderr line of the uploaded zipapp's ``serve --plan`` (as pull runs it there, its python
    isolated) under ``ulimit -v limit`` bytes (None: no limit)."""
    def set_limit() -> None:
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    result = subprocess.run([sys.executable, "-I", str(zipapp), "serve", "--plan"], cwd=folder, capture_output=True,
                            text=True, timeout=60, preexec_fn=set_limit)
    lines = result.stderr.strip().splitlines()
    return result.returncode, lines[-1] if lines else ""


def test_whatever_the_limit_on_memory_the_remote_side_names_it_or_is_not_held_by_it(tmp_path: Path) -> None:
    # From where python cannot even start up to where the limit no longer matters, in half-MiB steps: the
    # interpreter fails where an allocation fails, in words of its own (MemoryError, "SystemError: ... returned
    # NULL without setting an exception", zlib's "Error -4 while decompressing data", a library's "failed to map
    # segment"), and synco's plugins failed to load one by one, so that the run ended in "no framework detected
    # (framework plugins asked: none installed)". What the laptop shows (explain_exit) names ulimit -v, or the
    # run ends as it does with no limit at all. The plain archive, the default (the one with pycs, asked for by
    # SYNCO_REMOTE_BYTECODE, ran out once as click's main returned: test_a_failure_out_of_the_command_line_...).
    from synco_core.pull.bootstrap import explain_exit
    from synco_core.pull.remote import parse_remote_url
    from synco_core.pull.zipapp import build_zipapp

    zipapp = build_zipapp(tmp_path / "cache")
    project = tmp_path / "project"
    project.mkdir()
    remote = parse_remote_url("kubectl://shop/web-0/var/www", lambda: set())
    _, unlimited = _remote_side_under(None, zipapp, project)
    assert unlimited.startswith("Error: no framework detected"), unlimited
    # Four limits at a time, one MiB apart, until four in a row no longer change how the run ends. Batches of
    # four, not eight: each run past the end (near a whole remote run's CPU time) checks nothing, and a batch
    # of eight ran four of them after the four in a row.
    limits, seen = iter(range(16 << 20, 512 << 20, 1 << 20)), []
    unheld = 0
    with ThreadPoolExecutor(4) as pool:
        while unheld < 4:
            batch = [next(limits) for _ in range(4)]
            ends = pool.map(lambda n: _remote_side_under(n, zipapp, project), batch)
            for limit, (code, line) in zip(batch, ends, strict=True):
                said = explain_exit(code, line, remote)
                if line == unlimited:
                    unheld += 1
                    continue
                unheld = 0
                seen.append(f"{limit >> 10} KiB: {said}")
                assert "ulimit -v" in said, "\n".join(seen)


_STARTING_FAILS = '''\
import os, resource
# Near the limit, or far from it, as the case asks: VmSize now plus the room the test gives.
with open("/proc/self/status") as status:
    size = [int(line.split()[1]) << 10 for line in status if line.startswith("VmSize:")][0]
if {room} is not None:
    resource.setrlimit(resource.RLIMIT_AS, (size + {room}, resource.RLIM_INFINITY))
raise {error}
'''


@pytest.mark.parametrize(("room", "error", "named"), [
    (1 << 20, "SystemError('error return without exception set')", True),
    (1 << 20, "ImportError(\"cannot import name 'sha512' from 'hashlib'\")", True),
    (1 << 20, "MemoryError()", True),
    (64 << 20, "SystemError('error return without exception set')", False),
    (None, "ImportError(\"cannot import name 'sha512' from 'hashlib'\")", False),
], ids=["systemerror-near", "importerror-near", "memoryerror-near", "far-from-the-limit", "no-limit"])
def test_the_zipapp_names_the_limit_when_python_runs_out_before_synco_can(tmp_path: Path, room: int | None,
                                                                          error: str, named: bool) -> None:
    # Below ~32 MiB of ulimit -v the remote python fails while it imports synco, before synco's error handling
    # exists, in words that are not MemoryError ("SystemError: error return without exception set", hashlib's
    # "cannot import name 'sha512'"): the laptop showed them as they were (seen in CI at 19 and 20 MiB, by
    # chance of the memory layout). The archive's __main__ names the limit when the peak came near it, and
    # leaves any other failure as it is.
    from synco_core.pull.zipapp import MAIN

    app = tmp_path / "app"
    (app / "synco_core" / "pull").mkdir(parents=True)
    (app / "__main__.py").write_text(MAIN)
    (app / "synco_core" / "__init__.py").write_text("")
    (app / "synco_core" / "pull" / "__init__.py").write_text("")
    (app / "synco_core" / "pull" / "fallback.py").write_text(_STARTING_FAILS.format(room=room, error=error))
    result = subprocess.run([sys.executable, "-I", str(app)], capture_output=True, text=True, timeout=60)
    last = result.stderr.strip().splitlines()[-1]
    assert result.returncode == 1
    if named:
        assert last.startswith("Error: out of memory while python started synco: this account's limit on a "
                               "process's memory ("), last
        assert "MiB, ulimit -v) is reached" in last, last
    else:
        assert last.startswith(error.split("(")[0] + ": "), last
        assert "ulimit" not in result.stderr


_ESCAPES_CLICK = '''\
import resource
from synco_core.cli import main as cli_main
def cli(**_kwargs):
    # Near the limit, or far from it, as the case asks: VmSize now plus the room the test gives.
    with open("/proc/self/status") as status:
        size = [int(line.split()[1]) << 10 for line in status if line.startswith("VmSize:")][0]
    resource.setrlimit(resource.RLIMIT_AS, (size + {room}, resource.RLIM_INFINITY))
    raise {error}
cli_main.cli = cli
cli_main.main()
'''


@pytest.mark.parametrize(("room", "error", "named"), [
    (1 << 20, "SystemError('<function Command.main at 0x7f7949e60720> returned NULL without setting an exception')",
     True),
    (1 << 20, "MemoryError()", True),
    (64 << 20, "SystemError('error return without exception set')", False),
], ids=["systemerror-near", "memoryerror-near", "far-from-the-limit"])
def test_a_failure_out_of_the_command_line_itself_names_the_limit(room: int, error: str, named: bool) -> None:
    # Under ulimit -v an allocation may fail as click's Command.main returns, outside every handler of the
    # command group: the remote side ended in "SystemError: <function Command.main at ...> returned NULL without
    # setting an exception" (the memory sweep above, with the zipapp's bytecode, at 56 MiB).
    code = _ESCAPES_CLICK.format(room=room, error=error)
    result = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=60)
    last = result.stderr.strip().splitlines()[-1]
    assert result.returncode == 1
    if named:
        assert last.startswith("Error: out of memory: this account's limit on a process's memory ("), last
    else:
        assert last.startswith("SystemError: "), last
