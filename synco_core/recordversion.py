"""The version of synco's own JSON records on the laptop, and what a reader does with one it does not know.

``.synco-received.json`` (receive), ``.synco-install.json`` (the last install, for ``synco db rollback``) and
``.synco-install-journal.json`` (an install that never finished) outlive the synco that wrote them: a user
upgrades, downgrades, or has two installs of synco (pipx and a project's virtualenv). Each record carries
``"version"``; a synco that writes a record differently for readers of the old shape counts it up. A reader
that finds a version above the one it knows cannot tell what the record means, and acting on it would put
back the wrong folders or skip a download: it refuses in one line naming the file and what to upgrade.
A record without a version is of the first format (every synco so far wrote 1).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from synco_core import __version__
from synco_core.errors import ConfigError

#: The version of the records this synco writes and reads (all three share it).
RECORD_VERSION = 1


def newer_record(data: Mapping[str, object]) -> bool:
    """True when ``data`` says it is of a version above :data:`RECORD_VERSION` (a damaged one is not)."""
    version = data.get("version")
    return isinstance(version, int) and not isinstance(version, bool) and version > RECORD_VERSION


def record_version(data: Mapping[str, object], file: Path, what: str) -> int:
    """The record's version; a one-line ConfigError for a malformed one or one newer than this synco reads."""
    version = data.get("version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ConfigError(f"{file} is not a synco {what}: its version is {version!r}, not a whole number from 1")
    if version > RECORD_VERSION:
        raise ConfigError(f"{file} was written by a newer synco ({what} version {version}; synco {__version__} "
                          f"reads version {RECORD_VERSION}): upgrade synco on this machine")
    return version


def listed_texts(value: object, malformed: str) -> tuple[str, ...]:
    """A record's list field (``kept``, ``sanitizeRules``) as texts; absent is empty, and anything but a list
    is a one-line ConfigError saying ``malformed`` (a number there was iterated, a TypeError)."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ConfigError(malformed)
    return tuple(str(item) for item in value)
