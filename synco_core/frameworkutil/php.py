"""Finding a PHP interpreter the way a server admin would expect.

Order: the ``PHP`` environment variable (a path or a command name), then ``php``, then the versioned names
Debian/Ubuntu (``php8.3``) and Alpine/Remi (``php83``) install, newest first. Nothing is executed here;
the caller decides whether to run the framework's own tool or fall back to reading files.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Mapping

log = logging.getLogger(__name__)

#: PHP versions whose versioned binaries are looked for, newest first.
PHP_VERSIONS: tuple[str, ...] = ("8.5", "8.4", "8.3", "8.2", "8.1", "8.0", "7.4")


def php_candidates(environ: Mapping[str, str] | None = None) -> list[str]:
    """The interpreter names or paths tried, in order (``$PHP`` first when set)."""
    env = os.environ if environ is None else environ
    names: list[str] = []
    explicit = env.get("PHP", "").strip()
    if explicit:
        names.append(explicit)
    names.append("php")
    # Newest version first whichever way the distribution spells it (php8.3 or php83), so a host with both
    # php8.1 and php83 gets 8.3.
    for version in PHP_VERSIONS:
        names.extend((f"php{version}", f"php{version.replace('.', '')}"))
    return names


def find_php(environ: Mapping[str, str] | None = None, path: str | None = None) -> str | None:
    """The absolute path of the first PHP interpreter found, or None when there is none.

    :param environ: the environment to read ``PHP`` and ``PATH`` from (default: ``os.environ``).
    :param path: a ``PATH`` string overriding the environment's (tests hide PHP with it).
    """
    env = os.environ if environ is None else environ
    search_path = path if path is not None else env.get("PATH", os.defpath)
    for index, name in enumerate(php_candidates(env)):
        if os.sep in name:
            # An explicit path in $PHP is used as given, but only when it really is executable.
            if os.path.isfile(name) and os.access(name, os.X_OK):
                return os.path.abspath(name)
            log.debug("PHP=%s is not an executable file; trying php on PATH", name)
            continue
        found = shutil.which(name, path=search_path)
        if found:
            if index == 0 and env.get("PHP"):
                log.debug("using PHP interpreter from $PHP: %s", found)
            return found
    return None
