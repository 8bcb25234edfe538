"""The ``synco`` group: global options, logging, and the one-line error policy.

Every :class:`~synco_core.SyncoError` ends the command with ``Error: <message>`` on stderr and exit
status 1; any other exception does too, with the traceback only under ``--debug``. Every line passes
through :func:`synco_core.redaction.redact`.
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import importlib.util
import logging
import os
import sys
from typing import Any

try:
    import resource
except ImportError:  # pragma: no cover - Windows has no resource limits to raise
    resource = None  # type: ignore[assignment]

import click

from synco_core import __version__, leftout
from synco_core.bounded import check_settings
from synco_core.childenv import SECRET_VARIABLES
from synco_core.cli.termination import Terminated, stop_like_ctrl_c
from synco_core.cmdline import hide_environment, hide_url_credentials, no_core_dumps
from synco_core.errors import SyncoError
from synco_core.limits import limit_reached
from synco_core.localenames import configure_output, reexec_in_utf8_mode
from synco_core.nospace import NO_SPACE_ERRNOS
from synco_core.permissions import umask
from synco_core.pluginguard import OutputFailed, output_failed, stdout_reserved, threads_left_running
from synco_core.redaction import RedactingFilter, mask_passwords, message_of, one_line, printable
from synco_core.stdfds import hold_closed_standard_descriptors

log = logging.getLogger("synco_core")

#: Command modules, each exposing ``command`` (a click command or group).
COMMAND_MODULES = (
    "synco_core.cli.plugins_cmd",
    "synco_core.cli.detect_cmd",
    "synco_core.cli.db_cmd",
    "synco_core.cli.decrypt_cmd",
    "synco_core.cli.serve_cmd",
    "synco_core.cli.receive_cmd",
    "synco_core.cli.install_cmd",
    "synco_core.cli.pull_cmd",
    "synco_core.cli.channel_cmd",
)


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    def __init__(self) -> None:
        super().__init__(sys.stderr)
        self.addFilter(RedactingFilter())
        # Seconds since start: with --debug, the timeline of a slow pull can be read off the log.
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s +%(relativeCreated).0fms: %(message)s"))

    def format(self, record: logging.LogRecord) -> str:
        # Records quote what servers sent (a Content-Encoding, a redirect's Location, an error page's words):
        # a hostile one must not reach the terminal with escape sequences under --debug either. Line breaks
        # stay, for tracebacks.
        return "\n".join(printable(line) for line in super().format(record).split("\n"))

    def emit(self, record: logging.LogRecord) -> None:
        # The stream is looked up on every record so click's test runner (which swaps sys.stderr) sees it.
        self.stream = sys.stderr
        super().emit(record)


#: Loggers too chatty to show even under --debug.
_QUIET_LOGGERS = ("httpx", "httpcore", "asyncio", "urllib3", "hpack")


def _short_of(exc: OSError) -> str:
    """What to do when the system refused for want of descriptors: the path it names is not at fault."""
    if exc.errno not in leftout.EXHAUSTED:
        return ""
    if exc.errno == errno.EMFILE:
        limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0] if resource is not None else None
        return f" (this process may open {limit} files: raise `ulimit -n` and run again)" if limit else ""
    return " (the machine ran short: close other programs and run again)"


def setup_logging(debug: bool) -> None:
    """Log to stderr through the redacting handler; DEBUG for synco and plugins under ``--debug``."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _Handler):
            root.removeHandler(handler)
    root.addHandler(_Handler())
    root.setLevel(logging.DEBUG if debug else logging.WARNING)
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def enable_debug(ctx: click.Context) -> None:
    root_ctx = ctx.find_root()
    root_ctx.ensure_object(dict)
    root_ctx.obj["debug"] = True
    setup_logging(True)


def is_debug(ctx: click.Context | None = None) -> bool:
    ctx = ctx or click.get_current_context(silent=True)
    if ctx is None:
        return False
    obj = ctx.find_root().obj
    return bool(obj and obj.get("debug"))


#: How click's error about surplus command-line words begins.
EXTRA_ARGUMENTS = "Got unexpected extra argument"


class SyncoGroup(click.Group):
    """Loads command modules on demand and turns exceptions into one redacted line and exit status 1.

    Importing a command module can pull in heavy dependencies (rich, database drivers); loading
    only the one being run keeps ``synco decrypt`` or ``synco --version`` quick to start.
    """

    def _load(self, module_name: str) -> None:
        if importlib.util.find_spec(module_name) is None:
            return
        command = importlib.import_module(module_name).command
        if command.name not in self.commands:
            self.add_command(command)

    def list_commands(self, ctx: click.Context) -> list[str]:
        for module_name in COMMAND_MODULES:
            self._load(module_name)
        return sorted(self.commands)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            # Command modules are named after their command ("db" -> db_cmd, "_channel" -> channel_cmd).
            guess = f"synco_core.cli.{cmd_name.lstrip('_').replace('-', '_')}_cmd"
            if guess in COMMAND_MODULES:
                self._load(guess)
            if cmd_name not in self.commands:
                self.list_commands(ctx)
        return self.commands.get(cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with stop_like_ctrl_c():
                return super().invoke(ctx)
        except (Terminated, click.exceptions.Abort) as exc:
            # Click turns an interrupt at its prompts into Abort ("Aborted!"); a signal there is still a signal.
            stopped = exc if isinstance(exc, Terminated) else exc.__context__
            if not isinstance(stopped, Terminated):
                raise
            if stopped is not exc:
                click.echo(err=True)  # The prompt's line was left open, as click does before "Aborted!".
            click.echo(f"Error: stopped by {stopped.reason}", err=True)
            ctx.exit(128 + stopped.signum)
        except click.UsageError as exc:
            if exc.message.startswith(EXTRA_ARGUMENTS):
                # Click quotes the extra words, and they are often the tail of a key or a password that a
                # line break or a space cut in two when the command was copied.
                raise click.UsageError("more words than the command takes (not shown, as they may be part of a "
                                       "key or a password): was a value cut in two by a line break or a space "
                                       "when it was copied?", exc.ctx) from None
            raise
        except (click.exceptions.Exit, click.ClickException):
            raise
        except KeyboardInterrupt:
            click.echo("Error: interrupted", err=True)
            ctx.exit(130)
        except SyncoError as exc:
            if is_debug(ctx):
                log.debug("traceback", exc_info=True)
            # A plugin's message may quote its database's URL or connection string, whose password synco never
            # saw to register: masked as in a plugin's other failures and log records.
            click.echo(f"Error: {mask_passwords(one_line(message_of(exc))) or 'unknown error'}", err=True)
            ctx.exit(exc.exit_code)
        except (OSError, RuntimeError, MemoryError) as exc:
            limit = limit_reached(exc)
            if limit is not None:
                if is_debug(ctx):
                    log.debug("traceback", exc_info=True)
                click.echo(f"Error: {limit}", err=True)
                ctx.exit(1)
            if not isinstance(exc, OSError):
                raise self._unexpected(ctx, exc) from None
            if exc.errno in NO_SPACE_ERRNOS:
                raise self._no_space(ctx, exc) from None
            if exc.filename is None or not exc.strerror:
                raise self._unexpected(ctx, exc) from None
            if is_debug(ctx):
                log.debug("traceback", exc_info=True)
            # A path the system refused (a folder this user may not enter, a name too long): what was refused
            # and why, in the system's words, as for the core's own errors, not an exception's class name.
            path = printable(os.fsdecode(exc.filename))
            click.echo(f"Error: cannot use {mask_passwords(one_line(path))}: {exc.strerror}{_short_of(exc)}", err=True)
            ctx.exit(1)
        except Exception as exc:
            raise self._unexpected(ctx, exc) from None

    @staticmethod
    def _no_space(ctx: click.Context, exc: OSError) -> click.exceptions.Exit:
        """A full disk no writer of the core named: the disk, where the system says which, never an errno."""
        if is_debug(ctx):
            log.debug("traceback", exc_info=exc)
        where = (f"the disk that holds {printable(os.fsdecode(exc.filename))}" if exc.filename is not None
                 else "a disk synco was writing to (--debug shows which)")
        click.echo(f"Error: no space left on {mask_passwords(one_line(where))}: free some space and run the same "
                   "command again", err=True)
        return click.exceptions.Exit(1)

    @staticmethod
    def _unexpected(ctx: click.Context, exc: Exception) -> click.exceptions.Exit:
        """Says so for an exception nobody expected, with its class name (the traceback under --debug)."""
        if is_debug(ctx):
            log.error("unexpected error", exc_info=exc)
        limit = limit_reached(exc)
        if limit is not None:
            # The interpreter's own failure under ulimit -v (a SystemError, zlib's "Error -4"), in no words of memory.
            click.echo(f"Error: {limit}", err=True)
            return click.exceptions.Exit(1)
        # Not the core's own message: a library's or a plugin's, which may quote a password in any form.
        click.echo(f"Error: {type(exc).__name__}: {mask_passwords(one_line(message_of(exc))) or 'unknown error'}",
                   err=True)
        return click.exceptions.Exit(1)


@click.group(cls=SyncoGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="synco")
@click.option("--debug", is_flag=True, help="Show debug logs and tracebacks (secrets stay masked).")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """synco: production content (database and files) onto a laptop, encrypted end to end."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug or bool(ctx.obj.get("debug"))
    setup_logging(ctx.obj["debug"])
    # Read once before any thread starts: where the system does not tell it, reading means setting it.
    umask()
    if not ctx.resilient_parsing:
        check_settings()


def main() -> None:
    # First: a closed descriptor 0-2 would otherwise be the first file synco opens (see synco_core.stdfds).
    hold_closed_standard_descriptors()
    reexec_in_utf8_mode()
    # Keys, passwords and decrypted data never go to disk in a core file of a crash.
    no_core_dumps()
    # SYNCO_KEY and the like are in os.environ, Python's copy: the same user reads the original from
    # /proc/PID/environ for as long as the command runs (a receive takes minutes).
    hide_environment(SECRET_VARIABLES)
    # A database URL's or a --base-url's password and tokens, by their place in the URL: one of fewer than four
    # characters is never registered as a secret, so nothing else takes it out of what `ps` shows.
    hide_url_credentials()
    # Before descriptor 1 is reserved: the private copy of stdout takes the encoding and error handler set here.
    configure_output()
    # Descriptor 1 is stderr for the whole command: what plugin code writes there below Python, or the programs
    # it starts, cannot reach --json output, a dump written to stdout or the receive command.
    status: int | str | None = 0
    try:
        with stdout_reserved():
            try:
                cli(prog_name="synco")
            except SystemExit as done:
                status = done.code
            except OSError as exc:
                # Writing what click prints itself (--version, --help) to an output that cannot take it.
                click.echo(f"Error: {exc if isinstance(exc, OutputFailed) else output_failed(exc)}", err=True)
                status = 1
            except Exception as exc:
                # Out of every handler of the command group: under ulimit -v an allocation may fail as click's
                # Command.main returns ("SystemError: <function Command.main ...> returned NULL without setting an
                # exception"). The limit in one line, as the group says it; anything else as it is.
                limit = limit_reached(exc)
                if limit is None:
                    raise
                click.echo(f"Error: {limit}", err=True)
                status = 1
    except OutputFailed as lost:
        # A command that failed has said why already; one that succeeded did not deliver what it printed.
        if status in (0, None):
            click.echo(f"Error: {lost}", err=True)
            status = 1
    _exit_without_waiting_for_plugin_threads(status)
    raise SystemExit(status)


def _exit_without_waiting_for_plugin_threads(status: int | str | None) -> None:
    """End the process now if threads a plugin started are still running: Python would wait for them, for ever
    for a poller that never ends, after the command is done. Each is named in a warning."""
    left = threads_left_running()
    if not left:
        return
    for who, thread in left:
        log.warning("%s left the thread %r running; synco exits without waiting for it", who, thread.name)
    if isinstance(status, str):
        click.echo(status, err=True)
    code = status if isinstance(status, int) else 0 if status is None else 1
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)
