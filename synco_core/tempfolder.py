"""The system's temporary folder, never the current directory in its stead.

:func:`tempfile.gettempdir` tries ``$TMPDIR``, ``/tmp``, ``/var/tmp`` and ``/usr/tmp``, and when none of them
is writable it quietly takes the current directory: the project on the laptop (a pull's zipapp, several MB,
was built there), the web root on a server (serve's scratch folder, which the site may then serve). So that
last resort is refused, in one line, unless ``$TMPDIR`` names that directory on purpose.
"""

from __future__ import annotations

import os
import tempfile

from synco_core.errors import ConfigError

#: What :func:`temp_root` says on this computer when only the current directory is writable.
NO_TEMP_FOLDER_HERE = (
    "no writable temporary folder ($TMPDIR, /tmp, /var/tmp, /usr/tmp); synco will not write "
    "into the current directory instead: make one writable or set TMPDIR"
)


def temp_root(refusal: str = NO_TEMP_FOLDER_HERE) -> str:
    """``tempfile.gettempdir()``, unless that fell back to the current directory: :class:`ConfigError`
    ``refusal`` then."""
    try:
        folder = tempfile.gettempdir()
    except FileNotFoundError:
        # Not even the current directory is writable: the same want, said the same way.
        raise ConfigError(refusal) from None
    here = os.path.realpath(os.getcwd())
    if os.path.realpath(folder) == here and os.path.realpath(os.environ.get("TMPDIR") or "/") != here:
        raise ConfigError(refusal)
    return folder
