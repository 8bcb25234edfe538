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
