"""Where a received file set is installed: the local project decides, never the session.

A session says where its sets belonged on the server (``relativeBasePath``). Taken as it comes, that text
would let a hostile server replace ``.git/hooks`` (code run at the next commit), ``vendor`` (code run at the
next request) or anything a link in the project leads to. So the place is the local project's answer to
"where does the set named X live?": its plugin's ``list_file_sets`` (or its ``.synco.yml``), asked on the
laptop. The session's path is only a hint that must agree with that answer; a set the local project does
not know is not installed at all.

Whatever the answer, :func:`check_destination` resolves it on the real file system from the project
folder (links followed only while they stay inside, as :func:`synco_core.beneath.resolve_beneath` does)
and refuses the project folder itself, any place outside it, and any place inside a folder named in
:data:`FORBIDDEN_FOLDERS`, with one line naming the set.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from synco_core.beneath import open_root, resolve_beneath
from synco_core.errors import ConfigError, UnsafePathError
from synco_core.names import safe_relative_path
from synco_core.plugins import SyncoPluginManager
from synco_core.values import FileSet, FileSetOptions, Framework

#: Folders nothing is ever installed into, at any depth: version control, installed dependencies, and
#: executables (``bin`` of Symfony, Composer, virtual environments).
FORBIDDEN_FOLDERS = frozenset({".git", "vendor", "node_modules", "bin"})


@dataclass(frozen=True)
class Destination:
    """Where the local project keeps one set."""

    #: The folder the default installer replaces (the project plus ``relative_base_path``).
    path: Path
    #: The set's base path in the local project (what the installer hooks are given).
    relative_base_path: str


def local_file_sets(framework: Framework, names: Iterable[str],
                    manager: SyncoPluginManager | None = None) -> dict[str, FileSet]:
    """The local project's own file sets named ``names`` (smart filters off: where a set lives is wanted).

    Every set is listed (asking for unknown names would be an error), but only places are looked at: no
    entries are read.
    """
    from synco_core.detection import list_file_sets

    wanted = set(names)
    if not wanted:
        return {}
    return {file_set.name: file_set for file_set in list_file_sets(framework, FileSetOptions(all=True), manager)
            if file_set.name in wanted}


def local_destination(framework: Framework, name: str, hint: str, local_sets: dict[str, FileSet]) -> Destination:
    """Where set ``name`` goes in the local project; :class:`ConfigError` (one line naming it) when nowhere.

    ``hint`` is the session's ``relativeBasePath``: it must name the set's base path or folder in the local
    project, or be empty.
    """
    local = local_sets.get(name)
    if local is None:
        raise ConfigError(f"file set {name!r}: the local {framework.name} project has no file set of that name, so "
                          "there is no place to install it (a set in .synco.yml gives it one)")
    project = framework.project_dir
    places: list[Path] = []
    base = ""
    if local.relative_base_path:
        base = _relative(local.relative_base_path, name, "the local project's base path")
        places.append(project.joinpath(*PurePosixPath(base).parts))
    if local.root is not None:
        places.append(Path(local.root) if Path(local.root).is_absolute() else project / local.root)
    if not places:
        raise ConfigError(f"file set {name!r}: the local {framework.name} project gives it no folder")
    relatives = [check_destination(project, place, name) for place in places]
    if hint:
        wanted = _relative(hint, name, "the session's relativeBasePath")
        agreed = {base, *(_lexical(project, place) for place in places)}
        if wanted not in agreed:
            raise ConfigError(f"file set {name!r}: the session puts it in {wanted!r}, the local project keeps it in "
                              f"{(base or relatives[-1])!r}; refusing to install it anywhere")
    return Destination(places[0], base or relatives[0])


def _relative(text: str, name: str, what: str) -> str:
    if all(part in ("", ".") for part in text.split("/")):
        raise ConfigError(f"file set {name!r}: refusing to install into the project folder itself ({what} is "
                          f"{text!r})")
    try:
        return safe_relative_path(text).as_posix()
    except UnsafePathError as exc:
        raise ConfigError(f"file set {name!r}: refusing to install where {what} says: {exc}") from None


def _lexical(project: Path, place: Path) -> str:
    """``place`` relative to ``project`` as written (``..`` folded, links not looked at)."""
    return Path(os.path.relpath(os.path.abspath(place), os.path.abspath(project))).as_posix()


def check_destination(project: Path, place: Path, name: str) -> str:
    """``place``'s real location relative to ``project``; :class:`ConfigError` when it must not be installed into.

    Refused: the project folder itself, anything outside it (as written, or once links are followed), and
    anything inside a folder of :data:`FORBIDDEN_FOLDERS` (as written or as resolved). A ``..`` in ``place``
    is resolved on the file system, after the links before it, as the installer's own path lookups will.
    """
    try:
        # Path.absolute() keeps "..": folding it first would hide a link before it ("up/.." with up -> ..).
        parts = Path(place).absolute().relative_to(Path(project).absolute()).parts
    except ValueError:
        raise ConfigError(f"file set {name!r}: refusing to install into {place}: it is outside the project") from None
    written = "/".join(parts) or "."
    refusal = f"file set {name!r}: refusing to install into {written}"
    project_real = Path(os.path.realpath(project))
    root = open_root(project_real)
    try:
        try:
            real = resolve_beneath(root, [], written, refusal)
            holder = resolve_beneath(root, [], "/".join(parts[:-1]), refusal) if real and parts[-1] != ".." else []
        except UnsafePathError as exc:
            return _linked_out(root, project_real, parts, refusal, exc)
    finally:
        os.close(root)
    if not real:
        raise ConfigError(f"file set {name!r}: refusing to install into the project folder itself")
    if holder[:len(real)] == real:
        # files/public -> . : replacing the folder the link leads to would replace the link with it.
        raise ConfigError(f"{refusal}: it is a link to a folder that holds the link itself")
    _check_names(refusal, parts, real)
    return "/".join(real)


def _check_names(refusal: str, *paths: Sequence[str]) -> None:
    for checked in paths:
        forbidden = next((part for part in checked if part.lower() in FORBIDDEN_FOLDERS), None)
        if forbidden is not None:
            raise ConfigError(f"{refusal}: nothing is ever installed into {forbidden}")


def _linked_out(root: int, project_real: Path, parts: Sequence[str], refusal: str, why: UnsafePathError) -> str:
    """The written path of a set whose own folder is a link out of the project (a deploy tool's shared folder,
    a Docker volume); :class:`ConfigError` (``why``, or what is wrong with the link) for anything else.

    Only the set's folder itself may lead out, and only to an existing folder that is neither the project
    nor above it (nor above the home folder), nor in a folder nothing is installed into: the installer
    replaces that folder, keeping its old content beside it.
    """
    if not parts or parts[-1] in ("", ".", ".."):
        raise ConfigError(str(why)) from None
    try:
        holder = resolve_beneath(root, [], "/".join(parts[:-1]), refusal)
        info = os.lstat("/".join([*holder, parts[-1]]), dir_fd=root)
    except (UnsafePathError, OSError):
        raise ConfigError(str(why)) from None
    if not stat.S_ISLNK(info.st_mode):
        raise ConfigError(str(why)) from None
    target = Path(os.path.realpath(project_real.joinpath(*holder, parts[-1])))
    if not target.is_dir():
        raise ConfigError(f"{refusal}: it is a link to {target}, which is not a folder")
    if project_real.is_relative_to(target):
        raise ConfigError(f"{refusal}: it is a link to {target}, which holds the project")
    if project_real.joinpath(*holder).is_relative_to(target):
        raise ConfigError(f"{refusal}: it is a link to a folder that holds the link itself")
    if Path(os.path.realpath(Path.home())).is_relative_to(target):
        raise ConfigError(f"{refusal}: it is a link to {target}, which holds the home folder")
    inside = target.relative_to(project_real).parts if target.is_relative_to(project_real) else target.parts
    _check_names(refusal, parts, inside)
    return "/".join(parts)
