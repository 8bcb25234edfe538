"""Which Neos a Flow distribution runs, from Composer's records or the installed packages, without PHP.

The answer only steers the smart transfer (Neos 8 and older have an event-log table worth skipping; Neos 9's
content-repository tables are the content), so it is read from files, cheapest and most reliable first:

1. ``composer.lock``: the exact versions Composer installed;
2. the installed packages: ``Packages/<group>/Neos.Neos``, whichever group a distribution puts it in
   (``Application`` through the Flow installer, ``Neos`` and ``Framework`` for the development collections).
   Its version is the ``version`` of its ``composer.json`` when it has one, else that of Composer's
   ``installed.json`` (Flow's vendor folder is ``Packages/Libraries``), else Neos 9 when
   ``Neos.ContentRepository.Core`` is installed beside it, else Neos 8;
3. ``composer.json``: the ``neos/neos`` constraint (``^9.0``, ``~8.3.0``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from synco_core import MAX_LOCK_FILE_BYTES, read_config_text

#: Package names (Composer) that make a project Neos, and the one only Neos 9 has.
NEOS_PACKAGES = ("neos/neos", "neos/neos-development-collection")
CR_CORE_PACKAGE = "neos/contentrepository-core"
#: Where Composer records installed versions in a Flow distribution (its vendor-dir is Packages/Libraries).
INSTALLED_JSON = ("Packages/Libraries/composer/installed.json", "vendor/composer/installed.json")
_MAJOR = re.compile(r"^\s*[v^~=>]*\s*(\d+)")


def _read_json(path: Path) -> Any:
    try:
        # composer.lock and installed.json list every package: their own, larger documented bound.
        return json.loads(read_config_text(path, kind="Composer file", limit=MAX_LOCK_FILE_BYTES, errors="replace"))
    except (OSError, ValueError):
        return None


def _package_versions(records: Any) -> dict[str, str]:
    """``name -> version`` of a composer.lock or installed.json (both its list and its ``packages`` forms)."""
    if isinstance(records, dict):
        records = [*records.get("packages", []), *records.get("packages-dev", [])]
    if not isinstance(records, list):
        return {}
    return {str(p["name"]).lower(): str(p.get("version", "")) for p in records if isinstance(p, dict) and "name" in p}


def _major(version: str) -> int | None:
    """The major version of a version or constraint: ``8.3.9``, ``v9.0.1``, ``^9.0``, ``~8.3.0``, ``9.0.x-dev``.

    A constraint allowing several majors (``^8.3 || ^9.0``) or none that can be read (``*``, ``dev-main``)
    gives None.
    """
    majors = {int(m[1]) for part in re.split(r"\|\|?|,", version) if (m := _MAJOR.match(part))}
    return majors.pop() if len(majors) == 1 else None


def _neos_major_from(versions: dict[str, str]) -> int | None:
    if CR_CORE_PACKAGE in versions:
        return 9
    for name in NEOS_PACKAGES:
        if name in versions:
            return _major(versions[name]) or 8
    return None


def installed_packages(project_dir: Path, key: str) -> Iterable[Path]:
    """Every installed Flow package folder named ``key`` (``Neos.Neos``), in any ``Packages/<group>/``."""
    return sorted(p for p in (project_dir / "Packages").glob(f"*/{key}") if p.is_dir())


def _major_from_packages(project_dir: Path) -> int | None:
    neos = list(installed_packages(project_dir, "Neos.Neos"))
    if not neos:
        return None
    own = _read_json(neos[0] / "composer.json")
    if isinstance(own, dict) and isinstance(own.get("version"), str) and (major := _major(own["version"])):
        return major
    for relative in INSTALLED_JSON:
        if (major := _neos_major_from(_package_versions(_read_json(project_dir / relative)))) is not None:
            return major
    return 9 if any(installed_packages(project_dir, "Neos.ContentRepository.Core")) else 8


def neos_major_version(project_dir: Path) -> int | None:
    """9 for a Neos 9 distribution (the event-sourced content repository), 8 for older Neos, None for Flow."""
    locked = _package_versions(_read_json(project_dir / "composer.lock"))
    if locked:
        return _neos_major_from(locked)
    from_packages = _major_from_packages(project_dir)
    if from_packages is not None:
        return from_packages
    manifest = _read_json(project_dir / "composer.json")
    required = manifest.get("require") if isinstance(manifest, dict) else None
    if isinstance(required, dict):
        return _neos_major_from({str(k).lower(): str(v) for k, v in required.items()})
    return None


def has_neos_media(project_dir: Path) -> bool:
    """Whether Neos.Media (thumbnails and assets tables) is part of the project (Neos always brings it)."""
    if any(installed_packages(project_dir, "Neos.Media")) or neos_major_version(project_dir) is not None:
        return True
    names = set(_package_versions(_read_json(project_dir / "composer.lock")))
    manifest = _read_json(project_dir / "composer.json")
    if isinstance(manifest, dict) and isinstance(manifest.get("require"), dict):
        names |= {str(k).lower() for k in manifest["require"]}
    return "neos/media" in names
