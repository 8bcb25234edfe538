"""Running plugin code without letting it change the process: stdout, working directory, environment, signals.

Output: a plugin that prints while it is imported or while one of its hooks runs would otherwise put its text in the
middle of ``synco plugins --json`` or ``synco detect --json``. While plugin code runs, ``sys.stdout`` of that
thread is the current ``sys.stderr``; other threads keep writing to the real stdout, so a command printing its
result while a worker thread dumps is not redirected with it. (The pull channel moves its frames off file
descriptor 1 altogether, which also covers programs a plugin starts: see ``synco _channel``.)

State: a plugin that changes the working directory makes the core's relative paths point elsewhere (receive
then writes its download there), one that edits ``os.environ`` changes what every later plugin and engine
reads, and one that installs a signal handler takes Ctrl-C away from the core's cleanup. Whatever of these a
plugin changed is put back when its code returns, and a warning names the plugin and what it changed (the
names of variables, never their values).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

log = logging.getLogger(__name__)

_state = threading.local()
#: The signals whose handlers the core relies on (cleanup on Ctrl-C and termination, broken pipes).
_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGPIPE", "SIGCHLD", "SIGALRM")
                 if hasattr(signal, name))


def _inside() -> bool:
    return bool(getattr(_state, "depth", 0))


class _StdoutForPlugins:
    """Stands in for ``sys.stdout``: stderr for a thread running plugin code, the real stdout otherwise."""

    def __init__(self, real: TextIO) -> None:
        self._real = real

    def _target(self) -> TextIO:
        return sys.stderr if _inside() else self._real

    def write(self, text: str) -> int:
        return self._target().write(text)

    def flush(self) -> None:
        self._target().flush()

    def __getattr__(self, name: str) -> Any:
        # buffer, fileno, encoding, isatty ...: those of the stream this thread writes to.
        return getattr(self._target(), name)


@contextmanager
def plugin_code(plugins: list[str], where: str) -> Iterator[None]:
    """Run the code of ``plugins`` (``where``: the hook, or loading): output to stderr, process state put back."""
    outermost = not _inside()
    if outermost:
        cwd = _getcwd()
        environment = dict(os.environ)
        main_thread = threading.current_thread() is threading.main_thread()
        handlers: dict[int, signal._HANDLER] = (
            {signum: signal.getsignal(signum) for signum in _SIGNALS} if main_thread else {})
    with _output_to_stderr():
        try:
            yield
        finally:
            if outermost:
                who = f"plugin {plugins[0]}" if len(plugins) == 1 else f"one of the plugins {', '.join(plugins)}"
                _put_back(who, where, cwd, environment, handlers)


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
