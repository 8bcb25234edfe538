"""Running the source side on a host that lacks synco's compiled dependencies (the uploaded zipapp).

The zipapp can only carry pure-Python code. Three compiled dependencies are missing on a bare host, and
each has a fallback or a clear error:

- ``zstandard``: the session is built uncompressed and the channel compresses session artifacts with
  the standard library's zlib instead (see the ``compress`` field of a framed ``get``).
- ``cryptography`` (the age layer): on a channel (ssh, ``docker exec``, ``kubectl exec``) the channel is
  the trust boundary: ssh encrypts and authenticates, and the container runtimes' exec streams stay on
  the operator's authenticated API connection. The artifacts are then written without the age layer,
  into a private temporary folder (mode 0700) that is removed afterwards; nothing is published.
- a host's own copy of one of these that is older than synco needs (Debian 12's python3-cryptography is
  38, whose AEAD refuses the memoryviews synco encrypts from) counts as missing: it is hidden behind the
  same stand-in instead of failing in the middle of the build with a TypeError.
- ``psycopg`` (PostgreSQL): there is no pure substitute, so a PostgreSQL project gets one line naming
  what to install.

Modules such as :mod:`synco_core.serve.folder` import ``zstandard`` and :mod:`synco_core.age` imports
``cryptography`` at the top. :func:`install_standins` lets those imports succeed with stand-in modules
whose every use raises a one-line :class:`~synco_core.errors.ConfigError` naming the missing package, so
the parts that do not need them (the dump, the tar writer, the plain session folder below) still run.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import importlib.metadata
import importlib.util
import os
import re
import sys
import types
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from synco_core.errors import ConfigError
from synco_core.fsutil import atomic_output

if TYPE_CHECKING:
    from synco_core.serve.folder import SessionFolder

#: Compiled packages the zipapp cannot carry, and what synco uses them for.
COMPILED: dict[str, str] = {
    "cryptography": "age encryption",
    "zstandard": "zstd compression",
}


#: The oldest release of each that synco works with (the dependencies in pyproject.toml).
MINIMUM_VERSIONS: dict[str, tuple[int, ...]] = {
    "cryptography": (41,),
    "zstandard": (0, 22),
}


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text.split("+")[0])[:3])


def too_old(package: str) -> str | None:
    """The version of ``package`` installed here when it is older than :data:`MINIMUM_VERSIONS` allows."""
    minimum = MINIMUM_VERSIONS.get(package)
    if minimum is None:
        return None
    try:
        version = importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        # Importable without metadata (vendored, copied by hand): nothing to compare, so it is trusted.
        return None
    return version if _version_tuple(version) < minimum else None


def available(module: str) -> bool:
    """True when ``module`` can really be imported here (a stand-in or a too old copy does not count)."""
    if too_old(module):
        return False
    existing = sys.modules.get(module)
    if isinstance(existing, _StandInModule):
        return False
    if existing is not None:
        return True
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return False
    return spec is not None and not isinstance(spec.loader, _StandInLoader)


def _missing(package: str) -> NoReturn:
    purpose = COMPILED.get(package, "this feature")
    old = too_old(package)
    if old:
        needed = ".".join(str(part) for part in MINIMUM_VERSIONS[package])
        raise ConfigError(f"{package} {old} on this host is older than synco needs ({needed} or newer, for "
                          f"{purpose}); install synco here with pip")
    raise ConfigError(f"{package} is not installed on this host (needed for {purpose}); install synco here with pip")


class _StandInMeta(type):
    def __getattr__(cls, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        _missing(cls.__module__.split(".")[0])

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        _missing(cls.__module__.split(".")[0])


class _StandInModule(types.ModuleType):
    """A module that imports fine and fails on first real use, naming its package."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        # A class (not a function) so that type annotations, isinstance() checks and subclassing at import
        # time keep working; calling it or anything on it raises.
        stand_in = _StandInMeta(name, (), {"__module__": self.__name__})
        setattr(self, name, stand_in)
        return stand_in


class _StandInLoader(importlib.abc.Loader):
    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        module = _StandInModule(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        return None


class _StandInFinder(importlib.abc.MetaPathFinder):
    """First on ``sys.meta_path``, answering only for the missing packages: first, so that a host's copy that
    is too old (which a real finder would import) stays hidden."""

    def __init__(self, packages: Sequence[str]) -> None:
        self.packages = frozenset(packages)

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None,
                  ) -> importlib.machinery.ModuleSpec | None:
        if fullname.split(".")[0] not in self.packages:
            return None
        return importlib.machinery.ModuleSpec(fullname, _StandInLoader(), is_package=True)


def install_standins() -> list[str]:
    """Put stand-ins in place for the compiled packages missing here; returns their names."""
    missing = [name for name in COMPILED if not available(name)]
    if missing and not any(isinstance(f, _StandInFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _StandInFinder(missing))
    return missing


def plain_session_folder_class() -> Callable[[Path], SessionFolder]:
    """A :class:`~synco_core.serve.folder.SessionFolder` that writes artifacts without age or zstd.

    Built on first use because the base class's module needs the stand-ins installed first on a bare host.
    """
    from synco_core.serve.folder import TEMP_SUFFIX, ArtifactStats, PlaintextWriter, SessionFolder

    class PlainSessionFolder(SessionFolder):
        """Artifacts written as plaintext (the channel is the trust boundary), atomically as the base does."""

        def __init__(self, path: Path) -> None:
            super().__init__(path, recipients=[])

        def create(self) -> None:
            super().create()
            # The folder holds plaintext database dumps: nobody else on the host may read it.
            os.chmod(self.path, 0o700)

        def write_small(self, name: str, plaintext: bytes) -> int:
            with atomic_output(self.path / name, TEMP_SUFFIX) as out:
                out.write(plaintext)
            return len(plaintext)

        @contextlib.contextmanager
        def artifact(self, name: str, compress: bool = True, *,
                     dump: bool = False) -> Iterator[tuple[PlaintextWriter, list[ArtifactStats]]]:
            # ``compress`` and ``dump`` are ignored: without zstd here, the channel compresses with zlib on the way out.
            stats: list[ArtifactStats] = []
            with atomic_output(self.path / name, TEMP_SUFFIX) as out:
                plain = PlaintextWriter(out)
                yield plain, stats
                size = out.tell()
            stats.append(ArtifactStats(file_name=name, size_bytes=plain.size, sha256=plain.hexdigest(),
                                       encrypted_size_bytes=size, compression=None))

    return PlainSessionFolder

