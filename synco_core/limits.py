"""One line naming the account's resource limit when synco runs into one (``ulimit -u``, ``-n``, ``-v``).

Shared hosting, containers and locked-down VMs set limits a laptop has not: a few processes and threads per
user, a few hundred open files, an address space of 512 MiB. What Python says when one is reached ("can't
start new thread", "Resource temporarily unavailable", a MemoryError with no message) does not say which
limit, nor that it is one: this module words it, with the limit's value, for the command line's last line
(and, on the remote side of ``pull``, for the laptop, which shows that line).
"""

from __future__ import annotations

import errno
import resource
import signal

#: The signals a resource limit sends, and what they mean: the one line of a process they stop (caught) or
#: kill (told by its exit status).
LIMIT_SIGNALS = {
    signal.SIGXCPU: "its CPU time limit (ulimit -t) ran out",
    signal.SIGXFSZ: "its file size limit (ulimit -f) was reached",
}


def limit_signal(signum: int) -> str | None:
    """``SIGXCPU: its CPU time limit (ulimit -t) ran out`` for a signal of :data:`LIMIT_SIGNALS`, else None."""
    meaning = LIMIT_SIGNALS.get(signum)  # type: ignore[call-overload]
    return f"{signal.Signals(signum).name}: {meaning}" if meaning else None


def _soft(limit: int) -> int | None:
    try:
        soft = resource.getrlimit(limit)[0]
    except (OSError, ValueError):
        return None
    return None if soft == resource.RLIM_INFINITY else soft


def limit_reached(exc: BaseException) -> str | None:
    """The limit ``exc`` says was reached, in one line; None when it is not about a limit."""
    if isinstance(exc, RuntimeError) and "can't start new thread" in str(exc):
        return "cannot start a thread: " + _processes()
    if isinstance(exc, BlockingIOError | OSError) and exc.errno == errno.EAGAIN and exc.filename is None:
        # fork() and thread creation say EAGAIN at the limit on processes; I/O on a file names it.
        return "cannot start a process: " + _processes()
    if isinstance(exc, OSError) and exc.errno in (errno.EMFILE, errno.ENFILE):
        soft = _soft(resource.RLIMIT_NOFILE)
        if exc.errno == errno.ENFILE:
            return "too many open files on this system (its file table is full); try again later"
        value = f" ({soft})" if soft is not None else ""
        return f"too many open files: this account's limit on open files{value} is reached (ulimit -n)"
    if isinstance(exc, MemoryError):
        soft = _soft(resource.RLIMIT_AS)
        if soft is not None:
            return (f"out of memory: this account's limit on a process's memory ({soft >> 20} MiB, ulimit -v) "
                    "is reached")
        return "out of memory"
    return None


def _processes() -> str:
    soft = _soft(resource.RLIMIT_NPROC)
    value = f" ({soft})" if soft is not None else ""
    return f"this account's limit on processes and threads{value} is reached (ulimit -u), or the system's"
