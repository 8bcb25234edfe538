"""Run a function in a process of its own whose descriptor limit leaves only a few spare.

``RLIMIT_NOFILE`` belongs to the whole process. Set inside a pytest worker, it also binds the threads earlier
tests of that worker left running (a server, a pool, a retrying client), which open descriptors at any
moment: CI saw three such tests fail together with ``Too many open files`` in one run, and pass in the next.
A freshly spawned process has no thread but its own, so the limit measures the code under test alone.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def with_few_descriptors(function: Callable[..., T], *args: Any, spare: int = 64) -> T:
    """``function(*args)`` in a spawned process that may open only ``spare`` descriptors more than it holds
    when the call starts; its result (or exception) comes back. ``function`` must be importable by name (a
    module-level function of a test module) and its arguments and result picklable."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(_limited, (function, args, spare))


def _limited(function: Callable[..., T], args: tuple[Any, ...], spare: int) -> T:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    in_use = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else 64
    resource.setrlimit(resource.RLIMIT_NOFILE, (in_use + spare, hard))
    try:
        return function(*args)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
