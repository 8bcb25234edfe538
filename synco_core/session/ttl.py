"""The TTL marker of a session folder, and removing sessions: expired ones, or all of them.

The marker is the first file written into a new session folder, before any artifact, so a ``serve`` that
crashes (or is killed with SIGKILL, which cannot be caught) still leaves a folder the next ``serve``
recognises and removes once its time is up. Its name starts with a dot, so the built-in server never
serves it; it holds nothing secret anyway.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from synco_core.wire import META_FILE, SESSION_PREFIX

log = logging.getLogger(__name__)

MARKER_FILE = ".synco-ttl"


@dataclass
class TtlMarker:
    """When a session expires, and which process on which host serves it."""

    expires_at: float
    pid: int
    host: str
    keep: bool = False

    def to_bytes(self) -> bytes:
        return json.dumps({"expiresAt": self.expires_at, "pid": self.pid, "host": self.host,
                           "keep": self.keep}).encode()

    @classmethod
    def read(cls, folder: Path) -> TtlMarker | None:
        try:
            data = json.loads((folder / MARKER_FILE).read_bytes())
            return cls(expires_at=float(data["expiresAt"]), pid=int(data["pid"]), host=str(data["host"]),
                       keep=bool(data.get("keep", False)))
        except (OSError, ValueError, KeyError, TypeError):
            return None


def write_marker(folder: Path, ttl_seconds: float, keep: bool = False) -> TtlMarker:
    """Write the marker (atomically) into ``folder``; returns it."""
    marker = TtlMarker(expires_at=time.time() + ttl_seconds, pid=os.getpid(), host=socket.gethostname(), keep=keep)
    temp = folder / (MARKER_FILE + ".tmp")
    temp.write_bytes(marker.to_bytes())
    os.replace(temp, folder / MARKER_FILE)
    return marker


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_stale(folder: Path, now: float | None = None) -> bool:
    """True when ``folder`` holds a synco session that nobody serves any more.

    That is: its TTL ran out, or (on this host, not kept) the serving process is gone. Folders without a
    marker are left alone: they may belong to a Go synco ``serve`` that is running right now.
    """
    marker = TtlMarker.read(folder)
    if marker is None:
        return False
    if (now or time.time()) >= marker.expires_at:
        return True
    return not marker.keep and marker.host == socket.gethostname() and not _process_alive(marker.pid)


def session_folders(web_root: Path) -> list[Path]:
    """The synco session folders directly in ``web_root`` (``synco-*`` with a meta file or a marker)."""
    if not web_root.is_dir():
        return []
    found = []
    for child in sorted(web_root.iterdir()):
        if child.name.startswith(SESSION_PREFIX) and child.is_dir() and not child.is_symlink() and (
            (child / META_FILE).exists() or (child / MARKER_FILE).exists()
        ):
            found.append(child)
    return found


def remove_session(folder: Path) -> None:
    """Remove a session folder; the meta file goes first, so a receiver stops seeing the session at once."""
    with contextlib.suppress(FileNotFoundError):
        (folder / META_FILE).unlink()
    shutil.rmtree(folder, ignore_errors=True)


def cleanup_expired(web_root: Path) -> list[Path]:
    """Remove the stale sessions of ``web_root``; returns what was removed."""
    removed = []
    for folder in session_folders(web_root):
        if is_stale(folder):
            log.info("removing expired session %s", folder)
            remove_session(folder)
            removed.append(folder)
    return removed


def cleanup_all(web_root: Path) -> list[Path]:
    """Remove every synco session folder of ``web_root`` (``serve --cleanup``); returns what was removed."""
    removed = session_folders(web_root)
    for folder in removed:
        remove_session(folder)
    return removed
