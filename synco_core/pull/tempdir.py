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

from synco_core.tempfolder import own_group, rearrangeable, temp_root

__all__ = ["NO_TEMP_FOLDER", "SHARED_TEMP_FOLDER", "own_group", "rearrangeable", "remote_temp_root"]

#: The one line both this module and the zipapp loader say when only the current directory is writable.
NO_TEMP_FOLDER = ("no writable temporary folder on the remote host ($TMPDIR, /tmp, /var/tmp, /usr/tmp); "
                  "synco will not write into the application directory instead: make one writable or set TMPDIR")


#: Said (with the folder) when the temporary folder lets other users rename or replace what the deploy user
#: writes there: writable by them without the sticky bit of /tmp, or another user's.
SHARED_TEMP_FOLDER = ("the temporary folder %s on the remote host may be rearranged by other users (writable by "
                      "them without the sticky bit of /tmp, or not yours): what synco writes there could be "
                      "replaced before it runs; set TMPDIR to a folder of your own")


def remote_temp_root() -> str:
    """``tempfile.gettempdir()``, unless that fell back to the current directory (see the module docstring) or
    is, or is inside, a folder other users may rearrange (:func:`rearrangeable_at`): :class:`ConfigError` then."""
    return temp_root(NO_TEMP_FOLDER, SHARED_TEMP_FOLDER)
