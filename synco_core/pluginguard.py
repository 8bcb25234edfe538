"""Running plugin code without letting it change the process: stdout, working directory, environment, signals.

Output: a plugin that prints while it is imported or while one of its hooks runs would otherwise put its text in the
middle of ``synco plugins --json`` or ``synco detect --json``. While plugin code runs, ``sys.stdout`` of that
thread is the current ``sys.stderr``; other threads keep writing to the real stdout, so a command printing its
result while a worker thread dumps is not redirected with it. Below Python, a plugin writing to file descriptor
1 (``os.write(1, ...)``, a C library) or starting a program that inherits it (``php artisan`` run without
capturing its output) would still reach stdout: :func:`stdout_reserved` moves the command's own stdout to a
private descriptor for the whole command and points descriptor 1 at stderr (the pull channel does the same for
its frames: see ``synco _channel``).

State: a plugin that changes the working directory makes the core's relative paths point elsewhere (receive
then writes its download there), one that edits ``os.environ`` changes what every later plugin and engine
reads, and one that installs a signal handler takes Ctrl-C away from the core's cleanup. One that replaces
``sys.stdout`` or ``sys.stderr`` swallows the command's output (``synco plugins --json`` printing nothing,
status 0), and one that configures logging (``logging.basicConfig(force=True)``, ``dictConfig``, which
disables every logger already made, ``logging.disable``) removes the handler that redacts secrets, shows
debug records without ``--debug``, or silences the warnings naming broken plugins. Whatever of these a
plugin changed is put back when its code returns, and a warning names the plugin and what it changed (the
names of variables, never their values). A plugin configures its own logger, never the root one.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from synco_core.errors import SyncoError

if TYPE_CHECKING:
    from typing_extensions import Buffer

log = logging.getLogger(__name__)

_state = threading.local()
#: The signals whose handlers the core relies on (cleanup on Ctrl-C and termination, broken pipes).
_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGPIPE", "SIGCHLD", "SIGALRM")
                 if hasattr(signal, name))


@contextmanager
def stdout_reserved() -> Iterator[None]:
    """For the block, ``sys.stdout`` writes to a private copy of file descriptor 1 and descriptor 1 is stderr.

    Only synco's own output (``--json``, a dump, the receive command) goes through ``sys.stdout``; whatever
    else writes to descriptor 1, plugin code below Python or the programs it starts, lands on stderr. Nothing
    changes when ``sys.stdout`` is not descriptor 1 (a test's captured output, an embedding program).
    """
    real = sys.stdout
    try:
        applies = real is not None and real.fileno() == 1 and sys.stderr is not None and sys.stderr.fileno() == 2
    except (AttributeError, OSError, ValueError):  # no descriptor behind it (io.UnsupportedOperation)
        applies = False
    if not applies:
        yield
        return
    real.flush()
    private = os.dup(1)  # not inherited by the programs synco starts
    os.dup2(2, 1)
    ours = io.TextIOWrapper(io.BufferedWriter(_OutputFile(private, "w")), encoding=real.encoding,
                            errors=real.errors, line_buffering=bool(real.line_buffering))
    sys.stdout = ours
    failed: OSError | None = None
    try:
        yield
    finally:
        try:
            ours.flush()
        except OSError as exc:
            # The output cannot be written (a full disk, a reader gone): what is left in the buffer is lost.
            failed = exc
        # Text written to the original stream meanwhile (print(file=sys.__stdout__)) belongs on stderr too.
        for stream in (real, sys.__stdout__):
            try:
                if stream is not None:
                    stream.flush()
            except (OSError, ValueError):
                pass
        os.dup2(private, 1)
        if sys.stdout is ours or (isinstance(sys.stdout, _StdoutForPlugins) and sys.stdout.real is ours):
            sys.stdout = real
        with contextlib.suppress(OSError):
            ours.close()  # the buffer's last flush fails again, and the descriptor is closed all the same
    if failed is not None:
        # Reached only when the command itself ended well: its output did not all arrive, so it failed.
        raise failed if isinstance(failed, OutputFailed) else output_failed(failed)


class OutputFailed(SyncoError, OSError):
    """The command's own output could not be written (a reader gone, as in ``synco detect | head -1``, a full
    disk): while the command runs, from its writes to ``sys.stdout``, or at its end (:func:`stdout_reserved`).
    An ``OSError`` still, for code that handles a failed write; a :class:`SyncoError`, so the user reads one
    line saying that, not the name of Python's exception."""


def output_failed(exc: OSError) -> OutputFailed:
    """The one-line error for synco's own output refused by the system with ``exc``."""
    return OutputFailed(f"cannot write synco's output: {exc.strerror or exc}")


class _OutputFile(io.FileIO):
    """The private descriptor of the command's stdout, whose failed writes are :class:`OutputFailed`."""

    def write(self, data: Buffer, /) -> int:
        try:
            return super().write(data)
        except BlockingIOError:
            raise  # the buffer above retries these itself
        except OSError as exc:
            raise output_failed(exc) from exc


def _inside() -> bool:
    return bool(getattr(_state, "depth", 0))


class _StdoutForPlugins:
    """Stands in for ``sys.stdout``: stderr for a thread running plugin code, the real stdout otherwise."""

    def __init__(self, real: TextIO) -> None:
        self._real = real

    @property
    def real(self) -> TextIO:
        """The stream the threads that run no plugin code write to."""
        return self._real

    def _target(self) -> TextIO:
        return sys.stderr if _inside() else self._real

    def write(self, text: str) -> int:
        return self._target().write(text)

    def flush(self) -> None:
        self._target().flush()

    def __getattr__(self, name: str) -> Any:
        # buffer, fileno, encoding, isatty ...: those of the stream this thread writes to.
        return getattr(self._target(), name)


#: Threads that third-party plugin code started and that were still running when it returned: (who, thread).
_started_by_plugins: list[tuple[str, threading.Thread]] = []


def threads_left_running() -> list[tuple[str, threading.Thread]]:
    """The threads third-party plugin code started, not daemons, still running (who started each, the thread).

    Python waits for every such thread before the process ends: one that never ends (a poller started at
    import) would keep synco from exiting after its command is done, however long the user waits.
    """
    return [(who, thread) for who, thread in _started_by_plugins if thread.is_alive() and not thread.daemon]


@contextmanager
def plugin_code(plugins: list[str], where: str, *, third_party: bool = True) -> Iterator[None]:
    """Run the code of ``plugins`` (``where``: the hook, or loading): output to stderr, process state put back.

    ``third_party``: whether any of them is not built in; only their threads are watched (the core joins its own).
    """
    outermost = not _inside()
    threads_before = set(threading.enumerate()) if third_party else None
    if outermost:
        cwd = _getcwd()
        environment = dict(os.environ)
        main_thread = threading.current_thread() is threading.main_thread()
        handlers: dict[int, signal._HANDLER] = (
            {signum: signal.getsignal(signum) for signum in _SIGNALS} if main_thread else {})
        logging_state = _LoggingState.now()
    with _output_to_stderr():
        if outermost:
            streams = (sys.stdout, sys.stderr)
        try:
            yield
        finally:
            who = f"plugin {plugins[0]}" if len(plugins) == 1 else f"one of the plugins {', '.join(plugins)}"
            if threads_before is not None:
                _started_by_plugins.extend((who, thread) for thread in threading.enumerate()
                                           if thread not in threads_before and not thread.daemon)
            if outermost:
                _put_back_streams(who, where, streams)
                _put_back(who, where, cwd, environment, handlers)
                logging_state.put_back(who, where)


def _getcwd() -> str | None:
    try:
        return os.getcwd()
    except OSError:  # the directory was removed under the process: nothing to go back to
        return None


def _put_back(who: str, where: str, cwd: str | None, environment: dict[str, str],
              handlers: dict[int, signal._HANDLER]) -> None:
    now = _getcwd()
    if cwd is not None and now != cwd:
        log.warning("%s changed the working directory %s (to %s); put back", who, where, now)
        os.chdir(cwd)
    if os.environ != environment:
        changed = sorted(name for name in {*environment, *os.environ} if environment.get(name) != os.environ.get(name))
        log.warning("%s changed the environment %s (%s); put back", who, where, ", ".join(changed))
        for name in changed:
            if name in environment:
                os.environ[name] = environment[name]
            else:
                del os.environ[name]
    # None: a handler installed outside Python, which cannot be put back from here.
    moved = [signum for signum, handler in handlers.items()
             if handler is not None and signal.getsignal(signum) is not handler]
    if moved:
        log.warning("%s changed the handler of %s %s; put back", who,
                    ", ".join(signal.Signals(signum).name for signum in moved), where)
        for signum in moved:
            signal.signal(signum, handlers[signum])


def _put_back_streams(who: str, where: str, streams: tuple[Any, Any]) -> None:
    changed = [name for name, stream in zip(("stdout", "stderr"), streams, strict=True)
               if getattr(sys, name) is not stream]
    if changed:
        sys.stdout, sys.stderr = streams
        log.warning("%s replaced %s %s; put back", who, " and ".join(f"sys.{name}" for name in changed), where)


@dataclass
class _LoggingState:
    """What of the logging configuration the core relies on: the root logger's handlers (the redacting one) and
    level, ``logging.disable``, and each existing logger's ``disabled`` flag (``dictConfig`` sets it)."""

    root_handlers: list[logging.Handler]
    root_level: int
    disabled_below: int
    disabled: dict[str, bool]

    @classmethod
    def now(cls) -> _LoggingState:
        root = logging.getLogger()
        return cls(list(root.handlers), root.level, logging.root.manager.disable, _disabled_flags())

    def put_back(self, who: str, where: str) -> None:
        root = logging.getLogger()
        changed = []
        if root.handlers != self.root_handlers:
            changed.append("the root logger's handlers")
            root.handlers[:] = self.root_handlers
        if root.level != self.root_level:
            changed.append("the root logger's level")
            root.setLevel(self.root_level)
        if logging.root.manager.disable != self.disabled_below:
            changed.append("logging.disable")
            logging.disable(self.disabled_below)
        flags = _disabled_flags()
        moved = sorted(name for name, disabled in self.disabled.items() if flags.get(name, disabled) != disabled)
        if moved:
            changed.append(f"{len(moved)} logger(s) disabled or enabled ({', '.join(moved[:3])}"
                           f"{', ...' if len(moved) > 3 else ''})")
            for name in moved:
                logging.getLogger(name).disabled = self.disabled[name]
        if changed:
            # Logged once the configuration is back, so the warning reaches the user through the core's handler.
            log.warning("%s changed the logging configuration %s (%s); put back (a plugin configures its own "
                        "logger, never the root one)", who, where, "; ".join(changed))


def _disabled_flags() -> dict[str, bool]:
    # list(): another thread may create a logger meanwhile.
    return {name: logger.disabled for name, logger in list(logging.root.manager.loggerDict.items())
            if isinstance(logger, logging.Logger)}


@contextmanager
def _output_to_stderr() -> Iterator[None]:
    """Run plugin code with this thread's ``sys.stdout`` writing to stderr."""
    if not isinstance(sys.stdout, _StdoutForPlugins):
        sys.stdout.flush()
        # Installed once and left in place: taking it out again could undo another thread's redirection.
        sys.stdout = _StdoutForPlugins(sys.stdout)
    _state.depth = getattr(_state, "depth", 0) + 1
    try:
        yield
    finally:
        sys.stdout.flush()
        _state.depth -= 1
