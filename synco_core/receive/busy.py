"""Servers that limit requests: HTTP 429 and 503 answered, waited out, and asked again.

Production sites often limit how fast one address may ask (nginx ``limit_req``, a CDN's rate limit) or how
many of its connections may be busy at once (``limit_conn``); past the limit they answer 503 (nginx's
default) or 429. A receive fetches thousands of files over several connections and meets those limits
where a browser would not. Such an answer is not a failure of the file: every connection of the receive
pauses (the limit is the address's, not the connection's) for the server's ``Retry-After`` or a growing,
jittered delay, then asks again; only a server that keeps answering so is reported, with what to change.
"""

from __future__ import annotations

import math
import random
import threading
import time
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

#: Answers that mean "too many requests, ask again later".
BUSY_STATUSES = frozenset({429, 503})

#: Asking again this many times before the file fails.
BUSY_RETRIES = 6

#: The first pause, doubled after each busy answer in a row (and stretched by up to as much again at random,
#: so the connections do not come back at the same moment).
FIRST_PAUSE = 0.25

#: The longest pause waited for, from ``Retry-After`` or the doubling; a server asking for more is reported.
LONGEST_PAUSE = 30.0


def pause_for(retry_after: str | None, attempt: int) -> float:
    """Seconds to wait after the ``attempt``-th busy answer in a row (0 for the first): ``Retry-After`` where
    it gives seconds or a moment to come, else the doubling delay."""
    asked = asked_pause(retry_after)
    if asked is not None:
        return asked
    return FIRST_PAUSE * 2.0 ** attempt * (1 + random.random())


def asked_pause(retry_after: str | None, date: str | None = None) -> float | None:
    """The pause ``Retry-After`` asks for (seconds, or an HTTP date), or None where it asks for none that can be
    taken: missing, malformed, or a date already past (which would have every connection ask again at once).

    A date is the server's clock: it is counted from the answer's own ``Date`` where that can be read (RFC
    9110), not from the laptop's clock. A laptop two hours behind the server took "in 3 seconds" for two hours
    and failed the file as asked to wait too long; one ahead did not wait at all."""
    value = (retry_after or "").strip()
    # ASCII only: the header arrives as Latin-1, where str.isdigit() also takes '²' and float() does not.
    if value.isascii() and value.isdigit():
        return float(value)
    when = http_date(value)
    if when is None:
        return None
    left = (when - (http_date(date) or datetime.now(timezone.utc))).total_seconds()
    return left if left > 0 else None


def http_date(value: str | None) -> datetime | None:
    """An HTTP date (``Retry-After``, ``Last-Modified``) with its zone, or None where it cannot be read."""
    try:
        when = parsedate_to_datetime((value or "").strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    # RFC 9110 dates are GMT; one written with -0000 comes back without a zone.
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)


def busy_message(status: int, url: str, pause: float | None = None, *, again: bool = False) -> str:
    """The line for a server that keeps answering 429/503 (or asks for a pause longer than is waited for);
    ``again`` for a request not waited for, as the server stayed busy through an earlier one's retries."""
    if again:
        why = f"while it stays busy (it answered so {BUSY_RETRIES + 1} times in a row to an earlier request)"
    elif pause is None:
        why = f"{BUSY_RETRIES + 1} times in a row"
    elif math.isfinite(pause) and pause < 1e9:
        why = f"and asks to wait {pause:.0f} s"
    else:
        why = f"and asks to wait far longer than {LONGEST_PAUSE:g} s"
    return (f"the server answers HTTP {status} for {url} {why}: it limits requests or connections (nginx "
            "limit_req or limit_conn, a CDN's rate limit); receive again later or with a lower --jobs")


class Calm:
    """A moment before which no request of the receive is sent, shared by all its connections."""

    def __init__(self) -> None:
        self._until = 0.0
        self._lock = threading.Lock()
        #: Set once a request has been asked again as often as it is and the server still answered busy: the
        #: next busy answers fail at once (else each of thousands of files would wait its own retries out,
        #: for hours), until the server answers something else.
        self.given_up = False

    def extend(self, seconds: float) -> None:
        """No request for ``seconds`` from now (a later moment already set stays)."""
        with self._lock:
            self._until = max(self._until, time.monotonic() + seconds)

    def wait(self) -> None:
        """Return once the pause (if any) is over."""
        while (left := self._until - time.monotonic()) > 0:
            time.sleep(min(left, 0.25))
