"""SIGTERM, SIGHUP and SIGXCPU stop a command the way Ctrl-C does: its clean-up runs and it says so in one line.

By default these signals end Python at once: a receive stopped by ``kill``, a closed terminal or a
service manager left its part files and its install journal for the next run to recover, and said
nothing. Raised as :class:`Terminated`, a :class:`KeyboardInterrupt`, they take the path Ctrl-C takes
(a database loaded early rolled back, the scratch folders removed, the install lock released). Commands
that handle these signals themselves (``serve``, the remote side of ``pull``) install their own handlers
over this one for as long as they need them. SIGXCPU is the soft end of a CPU time limit (``ulimit -t``,
a hosting account's): uncaught it ends Python at once, and the limit's hard end, with SIGKILL, comes later,
which leaves the time to clean up.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from synco_core.limits import limit_signal

SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP", "SIGXCPU") if hasattr(signal, name))


class Terminated(KeyboardInterrupt):
    """The process was asked to stop by ``signum``."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def reason(self) -> str:
        """The signal's name, and what it means where that is not plain (``SIGXCPU: its CPU time limit ...``)."""
        return limit_signal(self.signum) or self.name


def _stop(signum: int, _frame: FrameType | None) -> None:
    # Every time, as Ctrl-C: were later signals ignored, one raised where Python swallows exceptions (a
    # finaliser) would leave the process deaf to everything but SIGKILL.
    raise Terminated(signum)


@contextmanager
def stop_like_ctrl_c() -> Iterator[None]:
    """For the block, SIGTERM, SIGHUP and SIGXCPU raise :class:`Terminated` in the main thread (elsewhere: nothing)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, _stop) for signum in SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
