"""The environment of the processes synco starts: its own without the secrets synco takes from it.

``SYNCO_KEY``, ``SYNCO_PASSWORD`` and ``SYNCO_DATABASE_URL`` exist so a key, a passphrase or a database URL
need not sit on a command line (docs/security.md). Once read, no child needs them: the workers get what they
need through their pipe, and an ssh, docker or kubectl channel, a framework's console (``php artisan``, with the
application's own code and packages) or a post-install command has no use for the session key. Passed on, they
sat in every such process's environment (``/proc/<pid>/environ``), and in whatever a child logs or dumps of it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

#: The variables synco reads secrets from, never passed to a child.
SECRET_VARIABLES = ("SYNCO_KEY", "SYNCO_PASSWORD", "SYNCO_DATABASE_URL")


def child_environment(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's environment) without :data:`SECRET_VARIABLES`."""
    return {name: value for name, value in (os.environ if env is None else env).items()
            if name not in SECRET_VARIABLES}
