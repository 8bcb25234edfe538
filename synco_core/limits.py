"""One line naming the account's resource limit when synco runs into one (``ulimit -u``, ``-n``, ``-v``).

Shared hosting, containers and locked-down VMs set limits a laptop has not: a few processes and threads per
user, a few hundred open files, an address space of 512 MiB. What Python says when one is reached ("can't
start new thread", "Resource temporarily unavailable", a MemoryError with no message) does not say which
limit, nor that it is one: this module words it, with the limit's value, for the command line's last line
(and, on the remote side of ``pull``, for the laptop, which shows that line).
"""

from __future__ import annotations

import errno
import os
import re
import resource
import signal

from synco_core.errors import SyncoError

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


class LimitReached(SyncoError):
    """A resource limit this process ran into where it would otherwise be taken for something else (a plugin
    that failed to load, a hook that failed): the run cannot go on, and the limit is what to name."""


def raise_if_out_of_memory(exc: BaseException) -> None:
    """Raise :class:`LimitReached` naming the memory limit when ``exc`` is this process running out of memory
    (:func:`memory_exhausted`): callers that would report ``exc`` as one plugin's failure and go on call this
    first, or every plugin fails to load and the run ends in "no framework detected"."""
    if memory_exhausted(exc):
        raise LimitReached(_memory()) from exc


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
    if memory_exhausted(exc):
        return _memory()
    return None


#: How close to ``ulimit -v`` this process's peak address space must have come for a failure that says nothing of
#: memory to be taken for one. An allocation that fails never counts in the peak, so this is about the largest one
#: the interpreter makes on its own (an arena is 1 MiB, a module's code read from a zipapp a few hundred KiB); a
#: process that never came this close failed of something else.
NEAR_MEMORY_LIMIT = 4 << 20


def memory_exhausted(exc: BaseException) -> bool:
    """Whether ``exc`` is this process running out of memory.

    MemoryError, and ENOMEM (the kernel's MemoryError: an mmap or a read of a module refused under ulimit -v), say
    so. Under ``ulimit -v`` the interpreter and C libraries also fail in words of their own when an allocation
    fails deep inside them: ``SystemError: ... returned NULL without setting an exception``, zlib's ``Error -4
    while decompressing data`` (a module read from the zipapp), an import failing half-way. Those are told by the
    process's peak address space having come within :data:`NEAR_MEMORY_LIMIT` of the limit; a path the system
    refused (an OSError naming its file) is never taken for one.
    """
    if isinstance(exc, MemoryError) or (isinstance(exc, OSError) and exc.errno == errno.ENOMEM):
        return True
    if isinstance(exc, OSError) and (exc.filename is not None or exc.errno is not None):
        return False
    if isinstance(exc, ImportError):
        library = shared_object_not_mapped(str(exc))
        if library is not None:
            return _library_does_not_fit(library)
    return near_memory_limit()


#: The dynamic loader's words when mmap refused a shared object's segment: under ulimit -v when it does not fit
#: (ENOMEM), and as well for a folder mounted noexec (EPERM), which dlerror does not tell apart.
SHARED_OBJECT_NOT_MAPPED = ": failed to map segment from shared object"


def shared_object_not_mapped(message: str) -> str | None:
    """The shared object an ImportError's message says the loader could not map; None for another message."""
    head, found, _ = message.partition(SHARED_OBJECT_NOT_MAPPED)
    return head.rsplit("\n", 1)[-1].strip() or None if found else None


def _library_does_not_fit(library: str) -> bool:
    """Whether ``library`` (an extension module's path) cannot have fitted in what ``ulimit -v`` left this process:
    a library of a few MiB (cryptography's Rust bindings) fails to map far from the limit, and a noexec folder
    fails with no limit at all."""
    limit = _soft(resource.RLIMIT_AS)
    if limit is None:
        return False
    try:
        size = os.stat(library).st_size
    except OSError:
        size = 0
    peak = _status_bytes(b"VmPeak:")
    return peak is not None and peak + max(size, NEAR_MEMORY_LIMIT) >= limit


def near_memory_limit() -> bool:
    """Whether this process's peak address space (VmPeak) came within :data:`NEAR_MEMORY_LIMIT` of ``ulimit -v``;
    False with no such limit, or where the peak cannot be read."""
    limit = _soft(resource.RLIMIT_AS)
    if limit is None:
        return False
    peak = _status_bytes(b"VmPeak:")
    return peak is not None and peak + NEAR_MEMORY_LIMIT >= limit


def _memory() -> str:
    soft = _soft(resource.RLIMIT_AS)
    if soft is not None:
        return f"out of memory: this account's limit on a process's memory ({soft >> 20} MiB, ulimit -v) is reached"
    return "out of memory"


def _address_space() -> int | None:
    """This process's virtual memory (VmSize) in bytes, which is what ``ulimit -v`` limits; None unknown."""
    return _status_bytes(b"VmSize:")


def _status_bytes(field: bytes) -> int | None:
    """A size of ``/proc/self/status`` (``VmSize:``, ``VmPeak:``) in bytes; None where it cannot be read."""
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith(field):
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
