"""Numbers synco takes from people (options, environment variables): finite and within what the code using
them can hold.

Python's ``float()`` reads ``nan``, ``inf`` and ``1e30`` as numbers, and each passes a plain ``x >= 0`` check
(``nan`` passes every comparison's negation), then ends the command far from where it was typed: a
``timedelta`` that overflows, a thread waiting with a timeout the system cannot take, a traceback. Every
such number is read here, once, and refused in one line that names where it came from.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass

from synco_core.errors import ConfigError

#: The longest wait synco accepts (a TTL, a timeout): a week. Far more than any transfer needs, and within
#: what every wait it feeds takes (``epoll`` and thread timeouts overflow at about 24 days in milliseconds).
MAX_WAIT_SECONDS = 7 * 24 * 3600.0


def bounded_number(text: str, *, minimum: float, maximum: float, whole: bool = False,
                   minimum_open: bool = False) -> float | None:
    """``text`` as a finite number within the bounds (a whole one if ``whole``); None when it is not one."""
    text = text.strip()
    try:
        value: float = int(text) if whole else float(text)
    except (ValueError, OverflowError):
        return None
    if not math.isfinite(value) or value > maximum or value < minimum or (minimum_open and value == minimum):
        return None
    return value


def number_from_env(name: str, *, default: float, minimum: float, maximum: float, meaning: str,
                    whole: bool = False, minimum_open: bool = False, env: Mapping[str, str] | None = None) -> float:
    """``$name`` read by :func:`bounded_number` (``default`` when unset or empty); a :class:`ConfigError` naming
    the variable, what it means and the bounds otherwise."""
    raw = (os.environ if env is None else env).get(name, "").strip()
    if not raw:
        return default
    value = bounded_number(raw, minimum=minimum, maximum=maximum, whole=whole, minimum_open=minimum_open)
    if value is None:
        above = "more than" if minimum_open else "from"
        raise ConfigError(f"{name} should be {meaning}, {above} {_shown(minimum)} to {_shown(maximum)}, "
                          f"not {raw[:40]!r}")
    return value


def _shown(bound: float) -> str:
    return str(int(bound)) if bound == int(bound) else f"{bound:g}"


@dataclass(frozen=True)
class Setting:
    """A numeric ``SYNCO_*`` variable: its bounds live here, so every command can check them all at its start."""

    name: str
    default: float
    minimum: float
    maximum: float
    meaning: str
    whole: bool = False
    minimum_open: bool = False

    def read(self, env: Mapping[str, str] | None = None) -> float:
        return number_from_env(self.name, default=self.default, minimum=self.minimum, maximum=self.maximum,
                               meaning=self.meaning, whole=self.whole, minimum_open=self.minimum_open, env=env)


CONNECT_TIMEOUT = Setting("SYNCO_CONNECT_TIMEOUT", 60.0, 0, MAX_WAIT_SECONDS, "a number of seconds (0: no limit)")
#: Long enough for a password manager to ask the user to approve the read of a configuration file that is a
#: named pipe; short enough that a pipe nobody writes to ends ``synco detect`` soon.
PIPE_TIMEOUT = Setting("SYNCO_PIPE_TIMEOUT", 10.0, 0, MAX_WAIT_SECONDS, "a number of seconds", minimum_open=True)
MYSQL_DUMP_CONNECTIONS = Setting("SYNCO_MYSQL_DUMP_CONNECTIONS", 2, 1, 16, "a whole number of connections",
                                 whole=True)
#: The largest threshold is more files than any file system holds: the same as never.
SERVE_WORKER_FILES = Setting("SYNCO_SERVE_WORKER_FILES", 20_000, 0, 10**12,
                             "a whole number of files (0 turns the worker off)", whole=True)
#: The largest budget, a petabyte, is the same as no limit.
CACHE_CONTENT_MB = Setting("SYNCO_CACHE_CONTENT_MB", 2048, 0, 1024.0**3, "a number of megabytes (0 keeps hashes only)")

SETTINGS = (CONNECT_TIMEOUT, PIPE_TIMEOUT, MYSQL_DUMP_CONNECTIONS, SERVE_WORKER_FILES, CACHE_CONTENT_MB)


def check_settings(env: Mapping[str, str] | None = None) -> None:
    """Every numeric variable, read once at a command's start: one set wrong ends the command before it prints
    or changes anything, not halfway through the work that first needs it (a serve whose dump is written)."""
    for setting in SETTINGS:
        setting.read(env)
