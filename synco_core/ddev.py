"""DDEV projects seen from the laptop itself, outside DDEV's containers.

DDEV writes the database settings a site reads inside its web container (WordPress's ``wp-config-ddev.php``,
Drupal's ``settings.ddev.php``) and includes them only when ``IS_DDEV_PROJECT`` is ``true``, which DDEV sets in
its containers. synco started on the laptop finds a project whose settings name no database, or the
container's host ``db``: the place to run synco in such a project is DDEV's web container.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

#: How many folders above the project synco looks for ``.ddev/`` (synco may start in the docroot, ``web/``).
MAX_LEVELS = 3


def ddev_config(project_dir: Path) -> Path | None:
    """The ``.ddev/config.yaml`` of the DDEV project ``project_dir`` belongs to, or None."""
    folder = project_dir.absolute()
    for _ in range(MAX_LEVELS + 1):
        candidate = folder / ".ddev" / "config.yaml"
        if candidate.is_file():
            return candidate
        if folder.parent == folder:
            break
        folder = folder.parent
    return None


def outside_ddev_hint(project_dir: Path, environ: Mapping[str, str]) -> str:
    """``: <why and what to do>`` for an error about a missing database, when ``project_dir`` is a DDEV project
    and synco runs outside its containers; else the empty string."""
    if environ.get("IS_DDEV_PROJECT") == "true":
        return ""
    config = ddev_config(project_dir)
    if config is None:
        return ""
    return (f": {config.parent.parent} is a DDEV project ({config.relative_to(config.parent.parent)}) and synco runs "
            "outside its containers, where DDEV's database settings are not loaded; run synco in the web container "
            "(`ddev exec synco ...`)")
