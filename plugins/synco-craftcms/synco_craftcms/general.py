"""What ``config/general.php`` says about folders: its ``aliases`` (``@webroot``, ``@uploads`` ...).

The array form (``return ['aliases' => [...]]``, multi-environment or not) and Craft 4's fluent
``GeneralConfig::create()->aliases([...])`` are read; a file synco cannot evaluate leaves its aliases unknown,
and a volume path that uses one is reported as such.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from synco_craftcms.database import craft_environment_name, merge_environments, read_config


def read_aliases(project_dir: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """The aliases ``config/general.php`` defines that are known without PHP, by name (``@webroot``)."""
    path = project_dir / "config" / "general.php"
    if not path.exists():
        return {}
    returned = read_config(path, environ)
    if not isinstance(returned, dict):
        return {}
    aliases = merge_environments(returned, craft_environment_name(environ)).get("aliases")
    if not isinstance(aliases, dict):
        return {}
    return {str(name): value for name, value in aliases.items()
            if isinstance(name, str) and name.startswith("@") and isinstance(value, str)}
