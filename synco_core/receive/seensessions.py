"""The newest ``createdAt`` this user has seen for each session name, whatever folder it was received into.

``serve --id X --password P`` run twice makes two sessions of the same name that the same passphrase opens;
while the first one's time lasts, whoever kept its files (a cache in front of the server) can answer with them
for the second. A folder that received the later one refuses the earlier (``.synco-received.json``,
:func:`synco_core.receive.meta.check_not_earlier`), but a first receive into another folder had nothing to
compare with. This record is per user, in synco's cache folder (``$SYNCO_CACHE_DIR``, else
``$XDG_CACHE_HOME/synco`` or ``~/.cache/synco``), under ``received-sessions/``: one small file per session
name and server address (scheme, host, port, path), named by a SHA-256 of the two (never of the key,
which a digest on disk would let anyone test passphrases against), holding the newest ``createdAt`` and
its ``expiresAt``. A record whose session has expired is of no use (an expired meta is refused anyway)
and is removed.

Its limits: it knows only what this user received on this computer, and only sessions whose meta gives both
times (a pull's sessions, new every time, and Go synco v2's give none); a cache folder that is deleted or
unwritable forgets it (a warning says so, and the receive goes on); and a server whose clock is set back
between two serves of one name has its later session refused until the earlier one's time has run out.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from synco_core.fsutil import atomic_output, private_folder_problem, user_cache_dir
from synco_core.receive.meta import CLOCK_SKEW, MAX_CLOCK_OFFSET
from synco_core.wire import Meta

log = logging.getLogger(__name__)

#: ``$SYNCO_CACHE_DIR`` overrides synco's cache folder (as for serve's hash cache).
CACHE_ENV = "SYNCO_CACHE_DIR"
FOLDER = "received-sessions"
#: Seconds a record is kept past its session's expiry by this computer's clock: as long as the meta's check
#: may still accept the session (a laptop clock ahead of the server's is excused up to MAX_CLOCK_OFFSET), or
#: the record of a session received on such a laptop was gone at once, and an earlier serve of its name with it.
KEPT_PAST_EXPIRY = CLOCK_SKEW + MAX_CLOCK_OFFSET
#: Record folders already said to be unusable in this process.
_warned: set[Path] = set()


def record_folder() -> Path:
    base = os.environ.get(CACHE_ENV)
    return (Path(base) if base else user_cache_dir()) / FOLDER


def _record_name(where: str, folder: str) -> str:
    """The file of session ``folder`` received from ``where`` (a transport's description: its base URL without
    credentials or query, or a folder): by scheme, host, port and path, so two servers, or two projects of one
    server under different paths, that happen to use one ``--id`` never refuse each other's sessions, while a
    cache answering for the same address is held to what this user received from it."""
    parts = urlsplit(where)
    if parts.hostname:
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower(), 0)
        place = f"{parts.scheme.lower()}://{parts.hostname.lower()}:{port}{parts.path.rstrip('/') or ''}"
    else:
        place = where
    return hashlib.sha256(f"{place}\0{folder}".encode()).hexdigest()[:40] + ".json"


@contextlib.contextmanager
def _locked_folder() -> Iterator[Path | None]:
    """The record folder (made 0700), locked against other receives of this user; None when it cannot be used."""
    folder = record_folder()
    try:
        problem = private_folder_problem(folder)
        if problem is not None:
            raise OSError(0, problem)
        lock = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        # Once: the meta is read again at every poll while a session gets ready.
        (log.debug if folder in _warned else log.warning)(
            "cannot keep the sessions this user received in %s (%s): an earlier serve of a session's name "
            "is refused only in a folder that received a later one",
            folder,
            exc.strerror or exc,
        )
        _warned.add(folder)
        yield None
        return
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield folder
    finally:
        os.close(lock)


def _read(path: Path) -> dict[str, int]:
    """The record at ``path``; empty when there is none or it is not one (a damaged record protects nothing)."""
    try:
        with open(path, "rb", opener=lambda name, flags: os.open(name, flags | os.O_NOFOLLOW)) as file:
            data = json.loads(file.read(4096))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {key: value for key, value in data.items() if type(value) is int}


def newest_seen(where: str, folder: str) -> int | None:
    """The newest ``createdAt`` this user received for session ``folder`` from ``where``, if any."""
    with _locked_folder() as records:
        if records is None:
            return None
        return _read(records / _record_name(where, folder)).get("createdAt")


def note_seen(where: str, folder: str, meta: Meta, now: float | None = None) -> None:
    """Remember ``meta``'s ``createdAt`` for session ``folder`` when it is newer than what is noted, and remove
    the records of sessions that have expired."""
    if meta.created_at is None or meta.expires_at is None:
        return
    now = time.time() if now is None else now
    with _locked_folder() as records:
        if records is None:
            return
        path = records / _record_name(where, folder)
        if _read(path).get("createdAt", meta.created_at - 1) < meta.created_at:
            try:
                with atomic_output(path, ".part", private=True) as out:
                    out.write(json.dumps({"createdAt": meta.created_at, "expiresAt": meta.expires_at}).encode())
            except OSError as exc:
                log.warning("cannot note session %s in %s: %s", folder, records, exc.strerror or exc)
        _remove_expired(records, now)


def _remove_expired(records: Path, now: float) -> None:
    with contextlib.suppress(OSError):
        for entry in os.scandir(records):
            if entry.name.endswith(".json") and entry.is_file(follow_symlinks=False):
                expires = _read(Path(entry.path)).get("expiresAt")
                if expires is not None and expires + KEPT_PAST_EXPIRY < now:
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)
