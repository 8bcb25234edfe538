"""The zipapp uploaded to hosts without synco, and the fallbacks it runs with there."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from synco_core.pull.fallback import plain_session_folder_class
from synco_core.pull.zipapp import EXIT_OLD_PYTHON, MAIN, build_zipapp, plan_zipapp
from synco_core.wire import Meta


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_zipapp(cache=tmp_path_factory.mktemp("zipapp"))


def test_archive_holds_pure_python_only(archive: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
    assert "__main__.py" in names
    assert "synco_core/pull/frames.py" in names
    assert "pluggy/__init__.py" in names and "click/__init__.py" in names and "pymysql/__init__.py" in names
    assert "yaml/__init__.py" in names
    assert not [n for n in names if n.endswith((".so", ".pyd", ".pyc"))]
    assert not [n for n in names if n.split("/")[0] in ("cryptography", "zstandard", "psycopg_binary")]
    assert any(n.startswith("synco-") and n.endswith(".dist-info/entry_points.txt") for n in names)


def test_plan_names_what_it_leaves_out() -> None:
    plan = plan_zipapp()
    assert "cryptography" in plan.skipped and "zstandard" in plan.skipped
    assert any(d.startswith("synco ") for d in plan.distributions)


def test_archive_is_cached_by_content(archive: Path) -> None:
    assert build_zipapp(cache=archive.parent) == archive


def _run_bare(archive: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # "-S": no site-packages, as on a host where synco and its compiled dependencies are not installed.
    return subprocess.run([sys.executable, "-S", str(archive), *args], capture_output=True, text=True, timeout=60)


def test_archive_runs_without_site_packages(archive: Path) -> None:
    result = _run_bare(archive, "_channel", "--probe")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["protocol"] == 1
    assert info["capabilities"]["age"] is False
    assert info["capabilities"]["zstd"] is False


def test_archive_loads_plugins_from_its_own_metadata(archive: Path) -> None:
    result = _run_bare(archive, "plugins", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    names = {plugin["name"] for plugin in data["plugins"]}
    # The built-in engines and the plugins registered through the archive's own entry-point metadata.
    assert {"mysql", "sqlite"} <= names
    assert {ep.name for ep in entry_points(group="synco")} <= names


def test_missing_compiled_package_is_named_in_one_line(archive: Path) -> None:
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from synco_core.pull.fallback import install_standins; "
            "print(install_standins()); import synco_core.serve.folder; import zstandard; "
            "zstandard.ZstdCompressor(level=3)")
    result = subprocess.run([sys.executable, "-S", "-c", code, str(archive)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1
    assert result.stdout.strip() == "['cryptography', 'zstandard']"
    assert result.stderr.strip().splitlines()[-1] == (
        "synco_core.errors.ConfigError: zstandard is not installed on this host (needed for zstd compression); "
        "install synco here with pip")


def test_main_refuses_old_python_in_one_line(tmp_path: Path) -> None:
    # The archive's entry point compares sys.version_info; run it with a version faked to 3.8.
    main = tmp_path / "main.py"
    main.write_text("import sys\nsys.version_info = (3, 8, 0)\n" + MAIN)
    result = subprocess.run([sys.executable, str(main)], capture_output=True, text=True, timeout=30)
    assert result.returncode == EXIT_OLD_PYTHON
    assert result.stderr.strip() == "Error: python3 >= 3.10 is needed on the remote host, found 3.8"


def test_plain_session_folder(tmp_path: Path) -> None:
    folder = plain_session_folder_class()(tmp_path / "synco-x")
    folder.create()
    assert (folder.path.stat().st_mode & 0o777) == 0o700
    folder.write_meta(Meta(state="Ready", framework_name="X"))
    assert Meta.from_bytes((folder.path / "meta.json.enc").read_bytes()).framework_name == "X"
    with folder.artifact("dump.enc", compress=True) as (plain, stats):
        plain.write(b"hello " * 1000)
    assert (folder.path / "dump.enc").read_bytes() == b"hello " * 1000
    assert stats[0].size_bytes == 6000 and stats[0].compression is None
    assert stats[0].encrypted_size_bytes == 6000
    assert not list(folder.path.glob("*.tmp"))
    with pytest.raises(RuntimeError), folder.artifact("broken.enc") as (plain, _):
        plain.write(b"x")
        raise RuntimeError("boom")
    assert not (folder.path / "broken.enc").exists() and not list(folder.path.glob("*.tmp"))
