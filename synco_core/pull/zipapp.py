"""Build a self-contained zipapp of the locally installed synco, its plugins and their pure-Python dependencies.

``synco pull`` uploads it to a host without synco and runs it there with ``python3``. What goes in:

- the ``synco`` distribution and every distribution registered under the ``synco`` entry-point group
  (the plugins), found through :mod:`importlib.metadata`, with their metadata (so the remote plugin
  manager finds the plugins' entry points inside the archive);
- their requirements, recursively (extras are not followed), as Python sources, and no extension modules;
- in the *bytecode* variant, which ``pull`` uploads when the remote interpreter's bytecode magic number
  (reported by the launch script) equals this one's, a ``name.pyc`` beside each ``name.py`` of the
  distributions the source side imports (all but :data:`NO_BYTECODE`): zipimport runs it instead of compiling
  the source. They are checked-hash pycs (PEP 552): zipimport hashes the source it would otherwise compile and
  takes the pyc only when the hash matches, so a pyc that does not belong to its source is never run (the
  source is compiled instead), and the zip's local-time mtimes play no part. Both variants are cached.

What cannot go in: a distribution whose packages need an extension module (``cryptography``,
``zstandard``, ``psycopg-binary``, ``cffi``) is left out; :mod:`synco_core.pull.fallback` covers those
on the remote side. Packages with optional speedups and a pure fallback (PyYAML's ``_yaml``) keep their
Python part.

The archive's ``__main__`` checks the interpreter version first (one line naming what is missing, exit
status 3), installs the stand-ins for missing compiled packages, and runs the synco command line.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata as metadata
import importlib.util
import logging
import marshal
import os
import re
import stat
import tempfile
import warnings
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from synco_core.errors import ConfigError
from synco_core.fsutil import create_owned_temp, private_folder, remove_temps_of_dead_processes, user_cache_dir
from synco_core.limits import NEAR_MEMORY_LIMIT
from synco_core.tempfolder import temp_root

log = logging.getLogger(__name__)

#: The oldest Python the source side supports; the archive refuses older interpreters in one line.
MIN_PYTHON = (3, 10)
#: Exit status of the archive when the interpreter is too old (bootstrap turns it into a clear error).
EXIT_OLD_PYTHON = 3

#: Distributions never shipped: compiled, or only needed on the destination.
EXCLUDED_DISTRIBUTIONS = frozenset({"cryptography", "zstandard", "psycopg-binary", "psycopg-c", "cffi", "pycparser"})
#: Distributions whose extension modules are optional speedups with a pure-Python fallback.
PURE_FALLBACK = frozenset({"pyyaml", "markupsafe", "charset-normalizer"})
#: File suffixes never copied: compiled code and caches.
SKIPPED_SUFFIXES = (".so", ".pyd", ".dylib", ".dll", ".pyc", ".pyo", ".c", ".h", ".pyx", ".pxd")
#: Distributions that get no pycs in the bytecode variant: only the laptop's side imports them (receive's HTTP
#: client, the terminal output), and their pycs would more than double the archive. Everything else the archive
#: carries gets them: synco, its plugins and what the source side imports (pluggy, click, PyYAML, PyMySQL,
#: psycopg...). tests/test_pull_bytecode.py checks that a remote run imports nothing from these.
NO_BYTECODE = frozenset({"rich", "pygments", "markdown-it-py", "mdurl", "httpx", "httpcore", "h11", "anyio",
                         "sniffio", "idna", "certifi", "tzdata"})
#: Flags word of a checked hash-based pyc (PEP 552): bit 0 hash-based, bit 1 check the source.
_CHECKED_HASH = (0b11).to_bytes(4, "little")
SKIPPED_DIRS = frozenset({"__pycache__", "tests", "test", ".mypy_cache", ".pytest_cache"})

_REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")

MAIN = f'''\
"""Entry point of the synco zipapp uploaded by ``synco pull`` (kept simple so old Pythons can report)."""
import os
import sys

if sys.version_info < {MIN_PYTHON!r}:
    sys.stderr.write("Error: python3 >= {MIN_PYTHON[0]}.{MIN_PYTHON[1]} is needed on the remote host, found %d.%d\\n"
                     % sys.version_info[:2])
    sys.exit({EXIT_OLD_PYTHON})


#: Written as it is when even formatting the line runs out of memory (a constant costs nothing to write).
_OUT_OF_MEMORY = (b"Error: out of memory while python started synco: this account's limit on a process's memory "
                  b"(ulimit -v) is reached, or the host's memory\\n")


def _out_of_memory_starting(exc):
    # Below ~32 MiB of ulimit -v the interpreter runs out while it imports synco, before synco's own error
    # handling exists, and says so in words of its own ("SystemError: error return without exception set",
    # an ImportError of a module hashlib or the loader could not load), or its traceback is cut short: builtins
    # only here, and a constant line to fall back on.
    try:
        with open("/proc/self/limits") as limits:
            soft = [line.split()[3] for line in limits if line.startswith("Max address space")][0]
        with open("/proc/self/status") as status:
            peak = [int(line.split()[1]) << 10 for line in status if line.startswith("VmPeak:")][0]
    except (OSError, LookupError, ValueError) as failed:
        if getattr(failed, "errno", None) != 12:
            return  # no /proc to tell: the traceback as it is
        soft, peak = "0", 0  # ENOMEM: too little left even to read them
    except BaseException:
        soft, peak = "0", 0
    try:
        if soft != "0" and not (soft.isdigit() and peak + {NEAR_MEMORY_LIMIT} >= int(soft)):
            return
        line = _OUT_OF_MEMORY
        if soft != "0":
            line = line.replace(b"(ulimit -v)", b"(%d MiB, ulimit -v)" % (int(soft) >> 20))
    except BaseException:
        line = _OUT_OF_MEMORY
    try:
        sys.stderr.flush()
    except BaseException:
        pass
    try:
        os.write(2, line)
    finally:
        os._exit(1)


try:
    from synco_core.pull.fallback import install_standins

    install_standins()

    from synco_core.cli.main import main
except Exception as exc:
    _out_of_memory_starting(exc)
    raise

sys.argv[0] = "synco"
main()
'''


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class ZipappPlan:
    """What the archive will contain: (archive name, source file) pairs, and what was left out and why."""

    files: list[tuple[str, Path]] = field(default_factory=list)
    metadata_files: list[tuple[str, bytes]] = field(default_factory=list)
    distributions: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    #: Archive names of the ``.py`` files that get a ``.pyc`` in the bytecode variant.
    bytecode_files: set[str] = field(default_factory=set)

    def fingerprint(self, bytecode: bool = False) -> str:
        """Changes whenever a shipped file changes (name, size, mtime): the cache key of the archive. The
        bytecode variant's also names this interpreter's magic number and which files get a pyc."""
        digest = hashlib.sha256(MAIN.encode())
        if bytecode:
            digest.update(b"bytecode\0" + importlib.util.MAGIC_NUMBER + "\0".join(sorted(self.bytecode_files)).encode())
        for arcname, path in sorted(self.files):
            info = path.stat()
            digest.update(f"{arcname}\0{info.st_size}\0{info.st_mtime_ns}\n".encode())
        for arcname, data in sorted(self.metadata_files):
            digest.update(arcname.encode() + b"\0" + hashlib.sha256(data).digest())
        return digest.hexdigest()[:20]


def _requirements(dist: metadata.Distribution) -> Iterator[str]:
    """Names of the requirements of ``dist``, extras left out (markers on Python versions are kept:
    what is installed here is shipped, whatever the marker)."""
    for requirement in dist.requires or []:
        name_part, _, marker = requirement.partition(";")
        if "extra" in marker:
            continue
        match = _REQUIREMENT_NAME.match(name_part)
        if match:
            yield match.group(1)


def _top_level_names(dist: metadata.Distribution, by_package: Mapping[str, list[str]]) -> list[str]:
    name = _normalise(dist.metadata["Name"])
    names = {pkg for pkg, dists in by_package.items() if name in {_normalise(d) for d in dists}}
    text = dist.read_text("top_level.txt")
    if text:
        names.update(line.strip() for line in text.splitlines() if line.strip())
    return sorted(n for n in names if n.isidentifier())


def _module_files(top: str) -> list[tuple[str, Path]] | None:
    """The files of an importable top-level module or package, as (archive name, path); None if not found."""
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        files: list[tuple[str, Path]] = []
        for location in spec.submodule_search_locations:
            root = Path(location)
            for current, dirs, names in os.walk(root):
                dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and not d.startswith("."))
                base = Path(current)
                for file_name in sorted(names):
                    path = base / file_name
                    relative = path.relative_to(root.parent).as_posix()
                    files.append((relative, path))
        return files
    if spec.origin and spec.origin not in ("built-in", "frozen"):
        origin = Path(spec.origin)
        return [(origin.name, origin)]
    return None


def plan_zipapp(root_distribution: str = "synco", group: str = "synco") -> ZipappPlan:
    """Decide what goes into the archive (nothing is written)."""
    plan = ZipappPlan()
    by_package = metadata.packages_distributions()
    queue = [root_distribution]
    for entry_point in metadata.entry_points(group=group):
        if entry_point.dist is not None:
            queue.append(entry_point.dist.metadata["Name"])
    seen: set[str] = set()
    while queue:
        wanted = queue.pop(0)
        key = _normalise(wanted)
        if key in seen:
            continue
        seen.add(key)
        if key in EXCLUDED_DISTRIBUTIONS:
            plan.skipped[key] = "compiled (the remote side falls back or names it when needed)"
            continue
        try:
            dist = metadata.distribution(wanted)
        except metadata.PackageNotFoundError:
            plan.skipped[key] = "not installed here"
            continue
        files: list[tuple[str, Path]] = []
        compiled = False
        for top in _top_level_names(dist, by_package):
            module_files = _module_files(top)
            if module_files is None:
                continue
            for arcname, path in module_files:
                if path.name.endswith(SKIPPED_SUFFIXES):
                    compiled = compiled or path.suffix in (".so", ".pyd", ".dylib", ".dll")
                    continue
                files.append((arcname, path))
        if compiled and key not in PURE_FALLBACK:
            plan.skipped[key] = "has extension modules"
            continue
        if not files:
            plan.skipped[key] = "no importable files found"
            continue
        plan.files.extend(files)
        if key not in NO_BYTECODE:
            plan.bytecode_files.update(arcname for arcname, _ in files if arcname.endswith(".py"))
        plan.distributions.append(f"{dist.metadata['Name']} {dist.version}")
        info_dir = f"{key.replace('-', '_')}-{dist.version}.dist-info"
        meta_text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or (
            f"Metadata-Version: 2.1\nName: {dist.metadata['Name']}\nVersion: {dist.version}\n"
        )
        plan.metadata_files.append((f"{info_dir}/METADATA", meta_text.encode()))
        entry_points_text = dist.read_text("entry_points.txt")
        if entry_points_text:
            plan.metadata_files.append((f"{info_dir}/entry_points.txt", entry_points_text.encode()))
        queue.extend(_requirements(dist))
    # Two distributions may ship the same file name (namespace packages); the first one wins.
    unique: dict[str, Path] = {}
    for arcname, path in plan.files:
        unique.setdefault(arcname, path)
    plan.files = sorted(unique.items())
    if not any(name.startswith("synco_core/") for name, _ in plan.files):
        raise ConfigError("cannot build the synco zipapp: the synco_core package was not found locally")
    return plan


def pyc_bytes(source: bytes, arcname: str) -> bytes | None:
    """A checked-hash pyc of ``source`` for this interpreter (None when this interpreter cannot compile it).

    Compiled as the remote python compiles a module without ``-O`` (whatever this one runs with), and quietly:
    a dependency's SyntaxWarning is not the laptop user's concern."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            code = compile(source, arcname, "exec", dont_inherit=True, optimize=0)
    except (SyntaxError, ValueError):
        return None
    return importlib.util.MAGIC_NUMBER + _CHECKED_HASH + importlib.util.source_hash(source) + marshal.dumps(code)


def write_zipapp(plan: ZipappPlan, target: Path, bytecode: bool = False) -> Path:
    """Write the archive atomically to ``target``; ``bytecode``: with the pycs of ``plan.bytecode_files``
    compiled by this interpreter, each from the very bytes stored as its source."""
    target.parent.mkdir(parents=True, exist_ok=True)
    # What a build killed midway left beside this archive goes; one being written (its lock held) stays.
    remove_temps_of_dead_processes(target, ".part")
    temp, fd = create_owned_temp(target, ".part")
    try:
        with os.fdopen(fd, "wb") as out, zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED,
                                                         compresslevel=6) as archive:
            archive.writestr("__main__.py", MAIN)
            for arcname, path in plan.files:
                if not (bytecode and arcname in plan.bytecode_files):
                    archive.write(path, arcname)
                    continue
                info = zipfile.ZipInfo.from_file(path, arcname)
                info.compress_type = zipfile.ZIP_DEFLATED
                source = path.read_bytes()
                archive.writestr(info, source)
                pyc = pyc_bytes(source, arcname)
                if pyc is not None:
                    archive.writestr(zipfile.ZipInfo(arcname[:-3] + ".pyc", info.date_time), pyc,
                                     compress_type=zipfile.ZIP_DEFLATED)
            for arcname, data in plan.metadata_files:
                archive.writestr(arcname, data)
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return target


def build_zipapp(cache: Path | None = None, *, bytecode: bool = False) -> Path:
    """The archive for the current installation, built once per change and cached; ``bytecode``: the variant
    with this interpreter's pycs (for a remote interpreter of the same magic number).

    The caller opens it at once and holds a shared ``flock`` on it while reading (:func:`open_archive`):
    another synco building another archive in the same folder removes only older archives of this user
    that nobody reads (see :func:`_prune`)."""
    plan = plan_zipapp()
    folder = cache or user_cache_dir()
    prefix = "synco-"
    target = folder / f"{prefix}{plan.fingerprint(bytecode)}.pyz"
    if _reuse(target):
        return target
    # What is in this folder runs on the remote host with the deploy user's rights: only a real folder of this
    # user that nobody else may write to (made 0700) keeps it; another user renaming a file of theirs over the
    # archive there (under umask 000 it was 0777) had their code uploaded and run.
    if not private_folder(folder):
        folder = Path(temp_root())
        prefix = f"synco-{os.getuid()}-"
        target = folder / f"{prefix}{plan.fingerprint(bytecode)}.pyz"
        if _reuse(target):
            return target
    log.debug("building the zipapp %s%s from %s; left out: %s", target, " (with pycs)" if bytecode else "",
              ", ".join(plan.distributions),
              ", ".join(f"{k} ({v})" for k, v in plan.skipped.items()) or "nothing")
    write_zipapp(plan, target, bytecode)
    # Both variants of the current installation stay: pulls from hosts of either kind reuse theirs.
    _prune(folder, keep={folder / f"{prefix}{plan.fingerprint(variant)}.pyz" for variant in (False, True)})
    return target


def _reuse(target: Path) -> bool:
    """Whether ``target`` is an archive this user built, to use again: a file of this user that nobody else
    may write (in the temporary folder anyone can make a file of that name, and what it holds runs on the
    remote host), not a link. Touched, so that a prune elsewhere sees it as just written and leaves it while
    this run opens it (a read-only cache keeps its time: nobody prunes there either)."""
    try:
        info = target.lstat()
    except OSError:
        return False
    if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o022:
        return False
    with contextlib.suppress(OSError):
        os.utime(target)
    return True


def open_archive(archive: Path) -> BinaryIO:
    """``archive`` opened for reading with a shared ``flock`` held until it is closed: no prune removes it.

    What is sent is judged by its descriptor, as :func:`_reuse` judged the path: a link, or a file of another
    user or one others may write (renamed over the archive after that check), is refused in one line."""
    import fcntl

    try:
        fd = os.open(archive, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as exc:
        raise ConfigError(f"cannot open the synco zipapp {archive}: {exc.strerror or exc}") from None
    source = os.fdopen(fd, "rb")
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o022:
        source.close()
        raise ConfigError(f"the synco zipapp {archive} is not a file of this user that only it may change "
                          "(it would be uploaded and run on the remote host); remove it and pull again")
    with contextlib.suppress(OSError):
        fcntl.flock(source.fileno(), fcntl.LOCK_SH)
    return source


#: The names :func:`build_zipapp` gives its archives: in its cache, and in the temporary folder (uid first).
_ARCHIVE = re.compile(r"synco-(?:(?P<uid>\d+)-)?[0-9a-f]{20}\.pyz")


def _prune(folder: Path, keep: set[Path]) -> None:
    """Remove older archives of this cache (each is several MB): only names this module gives (in the
    temporary folder, with this user's id), files of this user not written for a while (a run that found
    one touches it) and that no run holds open (:func:`open_archive` locks it). Never another program's
    file, nor a ``synco-upload-*.pyz`` a running pull loader uses on this host."""
    from synco_core.scratch import UPLOAD_GRACE, remove_file_if_unlocked

    uid = os.getuid()
    in_temp = os.path.realpath(folder) == os.path.realpath(tempfile.gettempdir())
    for old in _old_archives(folder.glob("synco-*.pyz"), keep):
        match = _ARCHIVE.fullmatch(old.name)
        if match is None or (match["uid"] is not None and int(match["uid"]) != uid):
            continue
        if in_temp and match["uid"] is None:
            continue
        with contextlib.suppress(OSError):
            remove_file_if_unlocked(old, uid, UPLOAD_GRACE)


def _old_archives(paths: Iterable[Path], keep: set[Path]) -> list[Path]:
    return [path for path in paths if path not in keep]
