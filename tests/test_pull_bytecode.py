"""The uploaded zipapp's bytecode, when asked for (``SYNCO_REMOTE_BYTECODE``, ``bytecode:``): pycs for a remote
interpreter of the laptop's magic number, sources otherwise, and sources when not asked for.

The remote side runs through the docker shim with this interpreter (or a wrapper that reports another magic
number); a ``sitecustomize`` on its path writes down, when the remote run ends, where each module it imported
from the uploaded archive was loaded from (``__file__`` is the ``.pyc`` when zipimport took the bytecode).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import zipfile
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from pull_support import Project, make_project, remote_environment, row_count, run_synco

from synco_core.pull.zipapp import NO_BYTECODE, build_zipapp, pyc_bytes

#: Written by the remote run only (its sys.path holds the uploaded archive): module name -> __file__, for the
#: modules loaded from the archive.
RECORDER = """\
import atexit, json, os, sys
def _record():
    archives = [p for p in sys.path if os.path.basename(p).startswith("synco-upload-")]
    if not archives:
        return
    found = {name: module.__file__ for name, module in list(sys.modules.items())
             if (getattr(module, "__file__", None) or "").startswith(archives[0] + os.sep)}
    with open(os.path.join(os.environ["SYNCO_TEST_RECORD"], "%d.json" % os.getpid()), "w") as out:
        json.dump(found, out)
atexit.register(_record)
"""


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return make_project(tmp_path / "app", public_files=3, rows=50)


def _pull(tmp_path: Path, project: Project, **settings: str) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    """A pull through the docker shim with the upload forced; the modules the remote run took from the archive."""
    record = tmp_path / "record"
    record.mkdir()
    env = remote_environment(tmp_path, SYNCO_REMOTE_SYNCO="upload", SYNCO_TEST_RECORD=str(record), **settings)
    (Path(env["PYTHONPATH"]) / "sitecustomize.py").write_text(RECORDER)
    result = run_synco(["pull", f"docker://web{project.root}", "--target", "out"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert row_count(tmp_path / "out" / "dbDump.sqlite") == project.rows
    assert list(Path(env["TMPDIR"]).iterdir()) == []
    runs = [json.loads(path.read_text()) for path in record.iterdir()]
    assert len(runs) == 1, runs
    return result, runs[0]


def _top_level_names(distributions: frozenset[str]) -> set[str]:
    return {top for top, dists in packages_distributions().items()
            if any(dist.lower().replace("_", "-") in distributions for dist in dists)}


def test_a_remote_python_of_the_same_magic_runs_synco_from_the_archives_pycs(tmp_path: Path,
                                                                            project: Project) -> None:
    result, loaded = _pull(tmp_path, project, SYNCO_REMOTE_BYTECODE="1")
    assert "with bytecode) run by" in result.stderr
    assert {"synco_core.cli.main", "synco_core.pull.source", "pluggy", "click", "yaml"} <= set(loaded)
    # Everything the remote side imported from the archive came from its pyc: nothing was compiled there.
    assert {name: path for name, path in loaded.items() if not path.endswith(".pyc")} == {}
    # The rule of NO_BYTECODE: the source side imports none of the distributions that get no pycs.
    excluded = _top_level_names(NO_BYTECODE)
    assert excluded and {name for name in loaded if name.split(".")[0] in excluded} == set()


#: A remote python that answers the launch script's check (version, then magic number) with ``FAKE`` after the
#: real check passed, and runs everything else (the loader) as the real python.
_OTHER_PYTHON = """#!/bin/sh
case "$2" in *MAGIC_NUMBER*) {python} "$@" >/dev/null || exit $?; printf "$FAKE";; *) exec {python} "$@";; esac
"""


@pytest.mark.parametrize("fake", [
    "ffff0d0a\\n",  # another interpreter's magic number (another version, PyPy)
    "",  # none said (no importlib.util)
    f"hello\\n{importlib.util.MAGIC_NUMBER.hex()}\\n",  # an account's sitecustomize printed first: not trusted
], ids=["other-magic", "none", "noise"])
def test_a_remote_python_of_another_or_no_magic_gets_the_sources_only(tmp_path: Path, project: Project,
                                                                      fake: str) -> None:
    python = tmp_path / "python3"
    python.write_text(_OTHER_PYTHON.format(python=sys.executable))
    python.chmod(0o755)
    result, loaded = _pull(tmp_path, project, SYNCO_REMOTE_PYTHON=str(python), FAKE=fake, SYNCO_REMOTE_BYTECODE="1")
    assert "uploaded zipapp (" in result.stderr and "with bytecode" not in result.stderr
    assert "synco_core.cli.main" in loaded
    assert {name: path for name, path in loaded.items() if not path.endswith(".py")} == {}


@pytest.mark.parametrize("setting", [None, "0"], ids=["unset", "off"])
def test_without_being_asked_the_upload_carries_sources_only(tmp_path: Path, project: Project,
                                                             setting: str | None) -> None:
    """The default: a remote python of the laptop's own magic number still gets the plain archive (its pycs
    would cost more upload time than they save on a slow link)."""
    settings = {} if setting is None else {"SYNCO_REMOTE_BYTECODE": setting}
    result, loaded = _pull(tmp_path, project, **settings)
    assert "uploaded zipapp (" in result.stderr and "with bytecode" not in result.stderr
    assert {name: path for name, path in loaded.items() if not path.endswith(".py")} == {}


def test_the_setting_is_read_from_the_remote_and_the_environment() -> None:
    from synco_core.errors import ConfigError
    from synco_core.pull.bootstrap import launch_script, remote_bytecode
    from synco_core.pull.remote import remote_from_config

    entry = {"type": "docker", "container": "web", "path": "/srv"}
    on = remote_from_config("prod", {**entry, "bytecode": True})
    off = remote_from_config("prod", entry)
    assert remote_bytecode(on, {}) and not remote_bytecode(off, {})
    assert remote_bytecode(off, {"SYNCO_REMOTE_BYTECODE": "yes"})
    assert not remote_bytecode(on, {"SYNCO_REMOTE_BYTECODE": "0"})
    assert launch_script(on, {}).bytecode_wanted and not launch_script(off, {}).bytecode_wanted
    with pytest.raises(ConfigError, match=r"^remote 'prod': bytecode should be true or false$"):
        remote_from_config("prod", {**entry, "bytecode": "sometimes"})
    with pytest.raises(ConfigError, match=r"^SYNCO_REMOTE_BYTECODE should be 1 or 0 "):
        launch_script(off, {"SYNCO_REMOTE_BYTECODE": "sometimes"})


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    cache = tmp_path_factory.mktemp("zipapps")
    return build_zipapp(cache=cache), build_zipapp(cache=cache, bytecode=True)


def test_both_archives_are_cached_and_each_pyc_is_its_sources(archives: tuple[Path, Path]) -> None:
    plain, compiled = archives
    assert plain != compiled and plain.parent == compiled.parent
    # Building either again reuses it: neither build pruned the other.
    assert build_zipapp(cache=plain.parent) == plain and build_zipapp(cache=plain.parent, bytecode=True) == compiled
    with zipfile.ZipFile(plain) as zf:
        assert not [name for name in zf.namelist() if name.endswith(".pyc")]
    excluded = _top_level_names(NO_BYTECODE)
    with zipfile.ZipFile(compiled) as zf:
        names = set(zf.namelist())
        pycs = sorted(name for name in names if name.endswith(".pyc"))
        assert "synco_core/pull/source.pyc" in pycs and "pluggy/__init__.pyc" in pycs
        for pyc in pycs:
            data, source = zf.read(pyc), zf.read(pyc[:-1])
            # This interpreter's magic, checked hash (flags 0b11), the hash of the source beside it.
            assert data[:4] == importlib.util.MAGIC_NUMBER and data[4:8] == b"\x03\0\0\0", pyc
            assert data[8:16] == importlib.util.source_hash(source), pyc
        assert not [name for name in pycs if name.split("/")[0].removesuffix(".pyc") in excluded]
        # Every source of the others has its pyc.
        assert not [name for name in names if name.endswith(".py") and name + "c" not in names
                    and name.split("/")[0].removesuffix(".py") not in excluded and name != "__main__.py"]


@pytest.mark.parametrize("damage", ["stale", "other-magic"])
def test_a_pyc_that_is_not_its_sources_is_never_run(tmp_path: Path, archives: tuple[Path, Path],
                                                    damage: str) -> None:
    """A pyc compiled from other sources (a stale one) or for another interpreter: the source runs instead."""
    _, compiled = archives
    other = b"raise SystemExit('the pyc ran, not its source')\n"
    if damage == "stale":
        pyc = pyc_bytes(other, "synco_core/cli/main.py")
        assert pyc is not None
    else:
        pyc = b"\xff\xff\r\n" + b"\x01\0\0\0" + bytes(8) + b"garbage"  # unchecked, for another interpreter
    copy = tmp_path / "synco.pyz"
    with zipfile.ZipFile(compiled) as source, zipfile.ZipFile(copy, "w") as target:
        for info in source.infolist():
            target.writestr(info, pyc if info.filename == "synco_core/cli/main.pyc" else source.read(info))
    result = subprocess.run([sys.executable, "-I", str(copy), "_channel", "--probe"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["protocol"] == 1
