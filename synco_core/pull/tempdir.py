"""The remote side's temporary folder, which must never be the application directory.

:func:`tempfile.gettempdir` tries ``$TMPDIR``, ``/tmp``, ``/var/tmp`` and ``/usr/tmp``, and when none of
them is writable it quietly takes the current directory. On the remote side of ``pull`` that is the
application directory (often the web root itself): the uploaded zipapp and the session folder, with a
plaintext dump when the host has no ``cryptography``, would be written where the site may serve them.
So that last resort is refused, in one line, unless ``$TMPDIR`` names that directory on purpose. So is a
folder other users may rearrange (writable by them without the sticky bit, or another user's, as a ``TMPDIR``
shared with the web server's group may be): they could rename a file of theirs over the uploaded zipapp
between its writing and its running, or over the channel's scratch folder.
The zipapp loader (:data:`synco_core.pull.bootstrap.LOADER`) runs before synco can be imported and
repeats the same check in its own few lines.
"""

from __future__ import annotations

import os
import stat

from synco_core.errors import ConfigError
from synco_core.tempfolder import temp_root

#: The one line both this module and the zipapp loader say when only the current directory is writable.
NO_TEMP_FOLDER = ("no writable temporary folder on the remote host ($TMPDIR, /tmp, /var/tmp, /usr/tmp); "
                  "synco will not write into the application directory instead: make one writable or set TMPDIR")


#: Said (with the folder) when the temporary folder lets other users rename or replace what the deploy user
#: writes there: writable by them without the sticky bit of /tmp, or another user's.
SHARED_TEMP_FOLDER = ("the temporary folder %s on the remote host may be rearranged by other users (writable by "
                      "them without the sticky bit of /tmp, or not yours): what synco writes there could be "
                      "replaced before it runs; set TMPDIR to a folder of your own")


def own_group(group: int) -> bool:
    """Whether ``group`` is this user's private group (named as the user, its primary group, nobody else listed
    in it): a folder writable by that group (under ``umask 002``) is writable by this user alone."""
    import grp
    import pwd

    try:
        name = pwd.getpwuid(os.getuid()).pw_name
        entry = grp.getgrgid(group)
    except (KeyError, OSError):
        return False
    return group == os.getgid() and entry.gr_name == name and set(entry.gr_mem) <= {name}


def rearrangeable(info: os.stat_result) -> bool:
    """Whether a folder of ``info`` lets users other than this one and root rename or replace an entry of this
    user's in it. The zipapp loader repeats this test in its own few lines."""
    if info.st_uid not in (0, os.getuid()):
        return True
    if info.st_mode & stat.S_ISVTX:
        return False
    return bool(info.st_mode & 0o002 or (info.st_mode & 0o020 and not own_group(info.st_gid)))


def remote_temp_root() -> str:
    """``tempfile.gettempdir()``, unless that fell back to the current directory (see the module docstring) or
    is a folder other users may rearrange (:func:`rearrangeable`): :class:`ConfigError` then."""
    folder = temp_root(NO_TEMP_FOLDER)
    if rearrangeable(os.stat(folder)):
        raise ConfigError(SHARED_TEMP_FOLDER % folder)
    return folder
