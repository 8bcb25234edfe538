"""A deadline watched by a thread: what the greeting watch and the stall guard share.

A pipe from ssh, docker or kubectl has no timeout of its own, so a read that waits on a silent remote
side waits forever. A watchdog holds a deadline; when it passes, the subclass decides (:meth:`_expired`)
whether that ends the wait, and if so the watchdog records the one line for the user in :attr:`message`
and calls ``on_expire``, which kills the channel so the blocked read ends. The caller then reports
:attr:`message` instead of what the cut-off read saw.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Watchdog:
    """A daemon thread over one deadline (``None``: nothing due); fires once, then stops watching."""

    def __init__(self, on_expire: Callable[[], None], name: str) -> None:
        self._on_expire = on_expire
        self._lock = threading.Condition()
        self._deadline: float | None = None
        self._closed = False
        #: Set once it fired: the one line for the user.
        self.message: str | None = None
        self._thread = threading.Thread(target=self._watch, name=name, daemon=True)

    def _start(self) -> None:
        self._thread.start()

    def _due_in(self, seconds: float | None) -> None:
        """The next deadline, ``seconds`` from now (``None``: none); the caller holds the lock."""
        self._deadline = None if seconds is None else time.monotonic() + seconds
        self._lock.notify_all()

    def _held(self) -> bool:
        """Whether the deadline is suspended for now (the lock is held)."""
        return False

    def _expired(self) -> str | None:
        """The deadline passed (the lock is held): the message that ends the wait, or ``None`` to go on
        watching (after moving or clearing the deadline)."""
        raise NotImplementedError

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._lock.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _watch(self) -> None:
        with self._lock:
            while not self._closed:
                if self._deadline is None or self._held():
                    self._lock.wait()
                    continue
                left = self._deadline - time.monotonic()
                if left > 0:
                    self._lock.wait(timeout=left)
                    continue
                self.message = self._expired()
                if self.message is not None:
                    break
        if self.message is not None:
            self._on_expire()
