"""The file sets of a Craft project: one per asset volume on a local file system.

A volume whose folder is below the web root and that has public URLs is a public set (the web server serves
its files); any other local volume is a private set, packed and encrypted. Image transforms (the ``_<handle>``
folders of named transforms, the ``_<width>x<height>_<mode>_...`` folders of ad-hoc ones) are left out of the
smart transfer: Craft generates them again on the laptop, so they are marked regenerated and a laptop's stale
copies go on install and ``--delete``. A volume nested in another's folder is left out of the outer set and
kept when the outer one is installed; so are ``.DS_Store`` and ``Thumbs.db``, the laptop's own.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from synco_core import FileSet, FileSetOptions, glob_escape

#: Ad-hoc transforms' folder names (``_1200x800_crop_center-center_none``, ``_AUTOx600_fit_...``).
ADHOC_TRANSFORMS = "_*x*_*_*"
JUNK = ("**/.DS_Store", "**/Thumbs.db")


def set_name(handle: str) -> str:
    return f"volume-{handle}"


def _normal(path: Path) -> Path:
    return Path(os.path.normpath(path))


def _unsafe_root(root: Path, project_dir: Path, web_root: Path | None) -> str | None:
    """Why ``root`` cannot be a set's folder: installing it replaces the folder, so it must hold uploads only."""
    if not root.is_relative_to(project_dir):
        return "is not inside the project"
    for site in (project_dir, project_dir / "config", *((_normal(web_root),) if web_root else ())):
        if site.is_relative_to(root):
            return f"holds the site's own {site.relative_to(project_dir).as_posix() or 'project'} folder"
    return None


def volume_file_sets(project_dir: Path, web_root: Path | None, volumes: list[dict[str, Any]],
                     transforms: list[str], options: FileSetOptions) -> list[FileSet]:
    """The sets for ``volumes`` (as :func:`describe_volumes` stores them in ``Framework.settings``)."""
    sets: list[FileSet] = []
    roots: dict[str, Path] = {}
    for volume in volumes:
        name = set_name(volume["handle"])
        root = _normal(Path(volume["root"])) if volume["root"] else None
        if root is None:
            sets.append(FileSet(name=name, kind="private", skipped_reason=f"volume {volume['handle']}: "
                                f"{volume['problem']}", description=f"asset volume {volume['name']}"))
        elif (problem := _unsafe_root(root, project_dir, web_root)) is not None:
            sets.append(FileSet(name=name, kind="private", skipped_reason=f"volume {volume['handle']}: its folder "
                                f"{root} {problem}", description=f"asset volume {volume['name']}"))
        elif root in roots.values():
            continue  # a second volume on the same folder: its files are the first one's
        else:
            roots[name] = root
    smart = () if options.all else (*(f"_{handle}" for handle in transforms), ADHOC_TRANSFORMS)
    for name, root in roots.items():
        volume = next(v for v in volumes if set_name(v["handle"]) == name)
        nested = tuple("/" + glob_escape(other.relative_to(root).as_posix()) for other in roots.values()
                       if other != root and other.is_relative_to(root))
        public = bool(volume["hasUrls"]) and web_root is not None and root.is_relative_to(_normal(web_root))
        sets.append(FileSet(
            name=name,
            kind="public" if public else "private",
            root=root,
            relative_base_path=root.relative_to(project_dir).as_posix(),
            url_prefix=root.relative_to(_normal(web_root)).as_posix() + "/" if public and web_root else "",
            exclude=(*JUNK, *nested),
            regenerated=smart,
            description=f"asset volume {volume['name']}",
        ))
    return sets


def install_roots(project_dir: Path, sets: list[FileSet]) -> dict[str, Path]:
    """Each installable set's folder in the local project, by name."""
    return {s.name: project_dir / s.relative_base_path for s in sets if s.skipped_reason is None and s.root}
