"""Running a framework's own command (``./flow``, ``php artisan``, ``bin/console``) safely.

The output of these commands is small (configuration dumps), so it is captured whole. Every failure a
user can cause (missing interpreter, non-zero exit, timeout) becomes a :class:`FrameworkCommandError`
with one line that names the command and the first meaningful line of its error output, with every
registered secret redacted, so a PHP stack trace quoting a DSN cannot leak a password.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from synco_core.childenv import child_environment
from synco_core.errors import ConfigError
from synco_core.redaction import redact

log = logging.getLogger(__name__)

#: Seconds a framework command may take before it is killed (a cold Flow cache can take a while).
DEFAULT_TIMEOUT = 120.0


class FrameworkCommandError(ConfigError):
    """A framework command could not be run, failed or timed out.

    The message names the command shortly (``php artisan tinker --execute ...``: a PHP snippet passed as
    an argument can be a kilobyte long) and the reason; ``command`` holds the whole command line, which
    ``--debug`` shows.
    """

    def __init__(self, command: str, short: str, reason: str) -> None:
        super().__init__(f"{short} {reason}")
        self.command = command
        self.reason = reason


@dataclass(frozen=True)
class CommandResult:
    """What a command printed and how it ended."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


#: Arguments longer than this (inline PHP code) are shown as ``...`` in messages; ``--debug`` shows them.
SHORT_ARGUMENT = 40
#: The longest first line of a failed command's output quoted in its one-line error.
SHORT_DETAIL = 160


def _display(argv: Sequence[str]) -> str:
    return redact(" ".join(argv))


def _short(argv: Sequence[str]) -> str:
    """The command as a message names it: the program's name, long arguments left out."""
    parts = [os.path.basename(argv[0]) if argv else ""]
    parts += ["..." if len(argument) > SHORT_ARGUMENT else argument for argument in argv[1:]]
    return redact(" ".join(parts))


def _first_line(text: str) -> str:
    """The first non-empty line of ``text`` (PHP errors put the useful part first), shortened."""
    for line in text.splitlines():
        line = line.strip()
        if line:
            return redact(line if len(line) <= SHORT_DETAIL else line[:SHORT_DETAIL - 3] + "...")
    return ""


def _failure(argv: Sequence[str], reason: str) -> FrameworkCommandError:
    command = _display(argv)
    log.debug("%s: the whole command was: %s", reason, command)
    return FrameworkCommandError(command, _short(argv), reason)


def run_command(
    argv: Sequence[str],
    *,
    cwd: Path,
    timeout: float = DEFAULT_TIMEOUT,
    env: Mapping[str, str] | None = None,
    extra_env: Mapping[str, str] | None = None,
    check: bool = True,
) -> CommandResult:
    """Run ``argv`` in ``cwd`` without a shell, capturing output as text.

    :param argv: the command and its arguments (``[php, "flow", "configuration:show", ...]``).
    :param cwd: the project directory.
    :param timeout: seconds before the command is killed and :class:`FrameworkCommandError` raised.
    :param env: the full environment (default: ``os.environ``), less synco's own secrets (:mod:`synco_core.childenv`).
    :param extra_env: variables added to that environment (``FLOW_CONTEXT``, ``APP_ENV``).
    :param check: raise on a non-zero exit status (otherwise the result carries it).
    :raises FrameworkCommandError: the program is missing, timed out, or failed while ``check``.
    """
    environment = child_environment(env)
    if extra_env:
        environment.update(extra_env)
    log.debug("running %s in %s", _display(argv), cwd)
    try:
        completed = subprocess.run(
            list(argv),
            cwd=cwd,
            env=environment,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as exc:
        raise _failure(argv, f"cannot run: {exc.strerror or 'not found'}") from None
    except PermissionError:
        raise _failure(argv, "cannot run: permission denied") from None
    except subprocess.TimeoutExpired:
        raise _failure(argv, f"did not finish within {timeout:g} s") from None
    result = CommandResult(tuple(argv), completed.returncode, completed.stdout, completed.stderr)
    if check and completed.returncode != 0:
        detail = _first_line(completed.stderr) or _first_line(completed.stdout) or "no output"
        raise _failure(argv, f"failed with exit status {completed.returncode}: {detail}")
    return result
