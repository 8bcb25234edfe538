"""One line naming the account's resource limit when synco runs into one (``ulimit -u``, ``-n``, ``-v``).

Shared hosting, containers and locked-down VMs set limits a laptop has not: a few processes and threads per
user, a few hundred open files, an address space of 512 MiB. What Python says when one is reached ("can't
start new thread", "Resource temporarily unavailable", a MemoryError with no message) does not say which
limit, nor that it is one: this module words it, with the limit's value, for the command line's last line
(and, on the remote side of ``pull``, for the laptop, which shows that line).
"""

from __future__ import annotations

import errno
import re
import resource
import signal

#: The signals a resource limit sends, and what they mean: the one line of a process they stop (caught) or
#: kill (told by its exit status).
LIMIT_SIGNALS = {
    signal.SIGXCPU: "its CPU time limit (ulimit -t) ran out",
    signal.SIGXFSZ: "its file size limit (ulimit -f) was reached",
}


#: How shells say that fork() failed: dash ("sh: 1: Cannot fork"), bash ("bash: fork: retry: Resource temporarily
#: unavailable"), busybox ("can't fork"), zsh ("fork failed: resource temporarily unavailable"). A remote shell
#: that says it is the only word pull gets from an account at its limit on processes: nothing of synco ran yet.
_SHELL_FORK_FAILED = re.compile(
    r"(?:cannot|can't) fork\b|\bfork(?: failed)?: (?:retry: )?(?:resource temporarily unavailable|no child processes)",
    re.IGNORECASE)
#: What such a line means, for a host whose limit this process cannot read.
REMOTE_PROCESS_LIMIT = "the account's limit on processes and threads there is reached (ulimit -u), or the system's"
#: The same for a remote python that ran out of memory before synco could say which limit.
REMOTE_MEMORY_LIMIT = "the account's limit on a process's memory there is reached (ulimit -v), or the host's memory"


def shell_fork_failed(line: str) -> bool:
    """Whether ``line`` is a shell saying it could not start a process (see :data:`_SHELL_FORK_FAILED`)."""
    return _SHELL_FORK_FAILED.search(line) is not None


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
        # pthread_create says EAGAIN both at the limit on processes and when its stack does not fit in the
        # limit on memory: which one is told by whether the stack still fits.
        if _stack_does_not_fit():
            return "cannot start a thread: " + _memory()
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
    if isinstance(exc, MemoryError) or (isinstance(exc, OSError) and exc.errno == errno.ENOMEM):
        # ENOMEM is the kernel's MemoryError: an mmap or a read of a module refused under ulimit -v.
        return _memory()
    return None


def _memory() -> str:
    soft = _soft(resource.RLIMIT_AS)
    if soft is not None:
        return f"out of memory: this account's limit on a process's memory ({soft >> 20} MiB, ulimit -v) is reached"
    return "out of memory"


def _address_space() -> int | None:
    """This process's virtual memory (VmSize) in bytes, which is what ``ulimit -v`` limits; None unknown."""
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmSize:"):
                    return int(line.split()[1]) << 10
    except (OSError, ValueError, IndexError):
        return None
    return None


def _stack_does_not_fit() -> bool:
    """Whether a new thread's stack (``threading.stack_size()``, else ``ulimit -s``) exceeds what ``ulimit -v``
    leaves this process."""
    import threading

    limit = _soft(resource.RLIMIT_AS)
    used = _address_space()
    if limit is None or used is None:
        return False
    stack = threading.stack_size() or _soft(resource.RLIMIT_STACK) or 8 << 20
    return used + stack > limit


def _processes() -> str:
    soft = _soft(resource.RLIMIT_NPROC)
    value = f" ({soft})" if soft is not None else ""
    return f"this account's limit on processes and threads{value} is reached (ulimit -u), or the system's"
