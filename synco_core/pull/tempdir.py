"""The remote side's temporary folder, which must never be the application directory.

:func:`tempfile.gettempdir` tries ``$TMPDIR``, ``/tmp``, ``/var/tmp`` and ``/usr/tmp``, and when none of
them is writable it quietly takes the current directory. On the remote side of ``pull`` that is the
application directory (often the web root itself): the uploaded zipapp and the session folder, with a
plaintext dump when the host has no ``cryptography``, would be written where the site may serve them.
So that last resort is refused, in one line, unless ``$TMPDIR`` names that directory on purpose.
The zipapp loader (:data:`synco_core.pull.bootstrap.LOADER`) runs before synco can be imported and
repeats the same check in its own few lines.
"""

from __future__ import annotations

from synco_core.tempfolder import temp_root

#: The one line both this module and the zipapp loader say when only the current directory is writable.
NO_TEMP_FOLDER = ("no writable temporary folder on the remote host ($TMPDIR, /tmp, /var/tmp, /usr/tmp); "
                  "synco will not write into the application directory instead: make one writable or set TMPDIR")


def remote_temp_root() -> str:
    """``tempfile.gettempdir()``, unless that fell back to the current directory (see the module docstring)."""
    return temp_root(NO_TEMP_FOLDER)
