"""What synco says when it reaches one of the account's resource limits (synco_core/limits.py).

Shared hosting and containers limit processes and threads (``ulimit -u``), open files (``ulimit -n``) and
memory (``ulimit -v``). Python's own words for reaching one ("can't start new thread", "Resource temporarily
unavailable", a MemoryError with no message) name neither the limit nor that it is one; every command's last
line does, with the limit's value. tests/test_pull_remote_environment.py reaches them for real on the remote side.
"""

from __future__ import annotations

import errno
import resource
from collections.abc import Callable

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
    import subprocess
    import sys

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
