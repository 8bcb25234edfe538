"""A session's meta, fetched and trusted: the key's identities, authentication, freshness, waiting until ready."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from synco_core import age
from synco_core.errors import ConfigError, CryptoError, TransferError
from synco_core.receive.artifact import fetch_small
from synco_core.receive.cachecopy import cache_advice
from synco_core.receive.keytext import check_key_text
from synco_core.receive.transport import NotFoundError, Transport
from synco_core.redaction import register_secret
from synco_core.wire import (
    META_FILE,
    Meta,
    session_folder_name,
)

log = logging.getLogger(__name__)

#: The highest scrypt work factor a session may ask of the laptop (2^20: about a GiB of memory and a few
#: seconds per key derivation); ``synco decrypt`` accepts up to age's 2^22 for files made by hand.
SESSION_MAX_WORK_FACTOR = 20


#: Seconds a session's clock may be ahead of the laptop's before its ``expiresAt`` is held against it.
CLOCK_SKEW = 300
#: The most this computer's clock may be ahead of the server's (as the server's ``Date`` says) for the session's
#: expiry to be judged by the server's clock instead: a clock set to local time as if it were UTC (a machine
#: that also runs Windows), or a zone set wrong, is off by whole hours, up to 14. A wider tolerance would
#: keep a replayed meta (whose ``Date`` whoever answers chooses) acceptable longer past its expiry.
MAX_CLOCK_OFFSET = 15 * 3600


class RefusedSessionError(TransferError):
    """The meta decrypted, but it names another session (a replay) or its time has run out."""


class SessionGoneError(TransferError):
    """The session was there and is not any more (the server answers 404 for it)."""


def identities_for(key: str) -> list[Any]:
    """The age identity of a session key (``AGE-SECRET-KEY-1...`` or a passphrase); registered as secret.

    A passphrase's identity refuses work factors above :data:`SESSION_MAX_WORK_FACTOR` and remembers the
    keys it derived; the same object is returned for the same key during the process, so polling a meta
    or finding the session and then receiving it costs one key derivation per distinct file, not per read.
    """
    if not key:
        raise ConfigError("the session key is empty")
    register_secret(key)
    check_key_text(key)
    return _identities(key)


@functools.lru_cache(maxsize=4)
def _identities(key: str) -> list[Any]:
    return [age.parse_identity(key, max_work_factor=SESSION_MAX_WORK_FACTOR, remember=32)]


def fetch_meta(transport: Transport, session: str, identities: Sequence[Any]) -> Meta:
    """Read and decrypt the meta file of ``session``.

    Only "no identity matches" means a wrong key; a damaged header or payload is reported as damage, so
    the user asks for a new session (or checks the server) instead of doubting a correct key.
    """
    folder = session_folder_name(session)
    try:
        raw = fetch_small(transport, f"{folder}/{META_FILE}", identities, fresh=True)
    except age.NoIdentityMatchError:
        if (copy := cached_copy(transport)) is not None:
            # An earlier serve's meta under the same --id, kept by the cache: the key is not what is wrong.
            raise CryptoError(f"this key does not open the meta of session {folder} the server answered with: "
                              f"{cache_advice(copy)}") from None
        raise CryptoError(f"this key does not open session {folder}") from None
    except CryptoError as exc:
        raise CryptoError(f"{folder}/{META_FILE}: {exc}") from None
    meta = Meta.from_bytes(raw)
    server_now = getattr(transport, "server_now", None)
    try:
        check_fresh(meta, folder, server_now=server_now() if server_now is not None else None)
        check_not_earlier_seen(transport.description, folder, meta)
    except RefusedSessionError as exc:
        if (copy := cached_copy(transport)) is not None:
            raise RefusedSessionError(f"{exc}; {cache_advice(copy)}") from None
        raise
    return meta


def cached_copy(transport: Transport) -> str | None:
    """What says the meta ``transport`` answered with last is a cache's copy, or None (:mod:`.cachecopy`)."""
    said = getattr(transport, "cached_copy", None)
    return None if said is None else said()


def check_fresh(meta: Meta, folder: str, now: float | None = None, server_now: float | None = None) -> None:
    """Refuse a meta that names another session than ``folder`` or whose time has run out.

    A passphrase may be used for more than one session; without this, whoever can answer for the server
    could hand out an old session's meta (and artifacts) as the one asked for. Metas without these fields
    (Go synco v2, and this implementation before it wrote them) are accepted as they are.

    ``expiresAt`` is of the server's clock. When this computer's clock (``now``) is past it but the server's
    (``server_now``, from its ``Date``) is not, and the two are at most :data:`MAX_CLOCK_OFFSET` apart, the
    server's clock decides: a laptop whose clock is hours ahead refused every session it was given.
    """
    if meta.session_id is not None and meta.session_id != folder:
        raise RefusedSessionError(f"the meta at {folder} belongs to session {meta.session_id!r}: a replayed or "
                                  "misplaced meta is refused")
    now = time.time() if now is None else now
    if meta.expires_at is None or now <= meta.expires_at + CLOCK_SKEW:
        return
    if server_now is not None and now - server_now <= MAX_CLOCK_OFFSET and server_now <= meta.expires_at + CLOCK_SKEW:
        log.warning("this computer's clock reads %s, %s ahead of the server's (%s): session %s is judged by the "
                    "server's clock; set this computer's clock right", _utc(now), _duration(now - server_now),
                    _utc(server_now), folder)
        return
    when, clock = _utc(meta.expires_at), _utc(now)
    server = f", the server's {_utc(server_now)}" if server_now is not None else ""
    raise RefusedSessionError(f"session {folder} expired at {when} by this computer's clock (which reads {clock}"
                              f"{server}): its server removes it then, so what answers for it now is left over or "
                              "replayed; ask for a new session, or set this computer's clock right if it is wrong")


def _duration(seconds: float) -> str:
    """``3 h 5 min`` for a clock difference."""
    minutes = int(seconds // 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


def check_not_earlier(record: dict[str, Any], folder: str, meta: Meta) -> None:
    """Refuse a meta of the session a folder last received (``record``, its ``.synco-received.json``) that
    was made before that one.

    ``serve --id`` run twice with one passphrase makes two sessions of the same name that the same key opens;
    while the first one's time lasts, whoever kept its files (or a cache in front of the server) can answer
    with them once the second one arrived, and its own meta passes :func:`check_fresh`. Only ``createdAt``
    tells it is the earlier one. Equal is the same session again; a meta or record without it is accepted.
    """
    before = record.get("createdAt")
    if record.get("session") == folder and type(before) is int:
        _refuse_earlier(folder, meta, before, "the one this folder received")


def check_not_earlier_seen(where: str, folder: str, meta: Meta) -> None:
    """Refuse a meta of session ``folder`` made before one this user received from ``where``, into any folder
    (:mod:`synco_core.receive.seensessions`), and note this one's time when it is the newest."""
    from synco_core.receive import seensessions

    if meta.created_at is None or meta.expires_at is None:
        return
    before = seensessions.newest_seen(where, folder)
    if before is not None:
        _refuse_earlier(folder, meta, before, "one this user received from the same address")
    seensessions.note_seen(where, folder, meta)


def _refuse_earlier(folder: str, meta: Meta, before: int, which: str) -> None:
    """``meta`` made before ``before`` (the ``createdAt`` of ``which``) is refused; equal is the same session."""
    created = meta.created_at
    if created is None or created >= before:
        return
    raise RefusedSessionError(f"the meta of session {folder} was made before {which} ({_utc(created)}, against "
                              f"{_utc(before)}): an earlier serve under the same --id and passphrase, replayed or "
                              "kept by a cache; ask for a new session")


def _utc(moment: float) -> str:
    """``moment`` in UTC, named: the laptop's zone need not be the server's, and the user compares with the
    server's log. A time no calendar of this platform holds (a hostile meta's -10**30) as its seconds."""
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(moment))
    except (OverflowError, OSError, ValueError):
        return f"{int(moment)} s from 1970 UTC"


def wait_ready(transport: Transport, session: str, identities: Sequence[Any], timeout: float,
               poll_interval: float = 1.0, on_wait: Callable[[Meta], None] | None = None,
               first: Meta | None = None) -> Meta:
    """Poll the meta until the session is Ready; :class:`TransferError` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    meta = first or fetch_meta(transport, session, identities)
    while meta.state != "Ready":
        if (copy := cached_copy(transport)) is not None:
            # Asking again meets the same copy until the cache lets it go (hours, for "cache everything").
            raise TransferError(f"session {session_folder_name(session)} is not ready (state {meta.state}), and "
                                f"its meta will not change: {cache_advice(copy)}")
        if on_wait is not None:
            on_wait(meta)
        if time.monotonic() >= deadline:
            raise TransferError(f"session {session_folder_name(session)} not ready after {timeout:g} s "
                                f"(state {meta.state}); try again or raise --timeout")
        # Never sleep past the deadline: a short --timeout ends when it says, not a poll interval later.
        time.sleep(max(0.0, min(poll_interval, deadline - time.monotonic())))
        try:
            meta = fetch_meta(transport, session, identities)
        except NotFoundError:
            raise SessionGoneError(f"session {session_folder_name(session)} is gone from {transport.description}: "
                                   "the server answered 404 while it was being prepared (serve stopped?); "
                                   "start serve again and receive the new session") from None
    pin = getattr(transport, "pin_session", None)
    if pin is not None:
        # The session's files are asked for as this serve's, past a cache holding an earlier serve's of the name.
        pin(session_folder_name(session), meta.created_at)
    return meta
