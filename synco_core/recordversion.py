"""The version of synco's own JSON records on the laptop, and what a reader does with one it does not know.

``.synco-received.json`` (receive), ``.synco-install.json`` (the last install, for ``synco db rollback``) and
``.synco-install-journal.json`` (an install that never finished) outlive the synco that wrote them: a user
upgrades, downgrades, or has two installs of synco (pipx and a project's virtualenv). Each record carries
``"version"``; a synco that writes a record differently for readers of the old shape counts it up. A reader
that finds a version above the one it knows cannot tell what the record means, and acting on it would put
back the wrong folders or skip a download: it refuses in one line naming the file and what to upgrade.
A record without a version is of the first format (every synco so far wrote 1).

A record that is not JSON, or not of the shape its version gives (cut short by a power loss or a full disk
where the file system kept no order of writes, or edited by hand), is damaged: its reader refuses it in one
line (:func:`damaged`) that names the file and says what the user can do, since synco cannot do it for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from synco_core import __version__
from synco_core.errors import ConfigError

#: The version of the records this synco writes and reads (the install journal reads one more, see
#: :data:`synco_core.install.journal.JOURNAL_VERSION`).
RECORD_VERSION = 1


#: What the user can do about a damaged record of each kind, finishing its one-line refusal. A receive
#: record only speeds up the next receive; an install record and a journal name what an install replaced,
#: which nothing else tells, so the kept copies are pointed to and left for the user to put back.
_WHAT_TO_DO = {
    "receive record": "run synco receive into {folder} again (it compares the files there and fetches the rest)",
    "install record": "synco cannot tell what the last install replaced; its kept copies are still there "
                      "(.<folder>.synco-previous beside each folder it replaced; 'synco db rollback DATABASE_URL' "
                      "puts back a database alone): put back what you need, then remove {file}",
    "install journal": "synco cannot tell what the interrupted install replaced: move {file} away, then put back "
                       "what you need ('synco db rollback DATABASE_URL' for a database, the .<folder>.synco-previous "
                       "beside each folder it replaced)",
}


def damaged(file: Path, what: str, why: str = "", *, unparsed: bool = False) -> ConfigError:
    """The one-line refusal of a damaged ``what`` (``install record``, ...) in ``file``: what is wrong with it
    (``unparsed``: not JSON, ``why`` being the parser's words; else not of a record's shape, ``why`` saying how
    when known) and what to do about it."""
    wrong = f"is unreadable ({why})" if unparsed else f"is not a synco {what}" + (f" ({why})" if why else "")
    return ConfigError(f"{file} {wrong}: " + _WHAT_TO_DO[what].format(file=file, folder=file.parent))


def newer_record(data: Mapping[str, object]) -> bool:
    """True when ``data`` says it is of a version above :data:`RECORD_VERSION` (a damaged one is not)."""
    version = data.get("version")
    return isinstance(version, int) and not isinstance(version, bool) and version > RECORD_VERSION


def record_version(data: Mapping[str, object], file: Path, what: str, newest: int = RECORD_VERSION) -> int:
    """The record's version; a one-line ConfigError for a malformed one or one above ``newest``, the newest
    this synco reads of ``what``."""
    version = data.get("version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise damaged(file, what, f"its version is {version!r}, not a whole number from 1")
    if version > newest:
        raise ConfigError(f"{file} was written by a newer synco ({what} version {version}; synco {__version__} "
                          f"reads version {newest}): upgrade synco on this machine")
    return version


def listed_texts(value: object, malformed: str) -> tuple[str, ...]:
    """A record's list field (``kept``, ``sanitizeRules``) as texts; absent is empty, and anything but a list
    is a one-line ConfigError saying ``malformed`` (a number there was iterated, a TypeError)."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ConfigError(malformed)
    return tuple(str(item) for item in value)
