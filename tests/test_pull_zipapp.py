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


def test_prune_removes_only_own_unused_old_archives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cache folder cannot be made, so the archive goes to the temporary folder: what else is there
    stays unless it is an older archive of this user's that nobody holds open (a running pull's upload on
    this host, another program's file, another user's archive, one being read, one just written)."""
    import fcntl
    import os

    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(temp))
    blocker = tmp_path / "file"
    blocker.write_text("")
    old = 1_000_000_000

    def place(name: str, *, age: bool = True) -> Path:
        path = temp / name
        path.write_bytes(b"x")
        if age:
            os.utime(path, (old, old))
        return path

    uid = os.getuid()
    upload = place("synco-upload-0123456789abcdef.pyz")
    loader = os.open(upload, os.O_RDONLY)
    fcntl.flock(loader, fcntl.LOCK_EX)  # the loader of a running pull holds its archive
    reader_path = place(f"synco-{uid}-{'b' * 20}.pyz")
    reader = os.open(reader_path, os.O_RDONLY)
    fcntl.flock(reader, fcntl.LOCK_SH)  # a pull uploading this archive now
    kept = [
        upload,
        reader_path,
        place("synco-notes.pyz"),
        place(f"synco-{uid + 1}-{'c' * 20}.pyz"),
        place(f"synco-{uid}-{'d' * 20}.pyz", age=False),
        place(f"synco-{'e' * 20}.pyz"),  # a cache's name, not one made in the temporary folder
    ]
    gone = place(f"synco-{uid}-{'a' * 20}.pyz")
    try:
        archive = build_zipapp(cache=blocker / "cache")
    finally:
        os.close(loader)
        os.close(reader)
    assert archive.parent == temp
    assert [path for path in kept if not path.exists()] == []
    assert not gone.exists()


def test_a_reused_archive_is_touched(archive: Path) -> None:
    """A run that finds its archive marks it as just used, so that another run's prune leaves it."""
    import os

    os.utime(archive, (1_000_000_000, 1_000_000_000))
    assert build_zipapp(cache=archive.parent) == archive
    assert archive.stat().st_mtime > 1_000_000_000


@pytest.mark.parametrize("planted", ["writable by others", "link"])
def test_an_archive_anyone_could_have_written_is_not_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            planted: str) -> None:
    """In the temporary folder anyone can make a file under the archive's name, and what the archive holds runs
    on the remote host: only a file of this user that nobody else may write is used again; another is
    replaced by a build."""
    import os

    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(temp))
    blocker = tmp_path / "file"
    blocker.write_text("")
    name = f"synco-{os.getuid()}-{plan_zipapp().fingerprint()}.pyz"
    foreign = tmp_path / "foreign.pyz"
    with zipfile.ZipFile(foreign, "w") as zf:
        zf.writestr("__main__.py", "print('not synco')\n")
    if planted == "link":
        (temp / name).symlink_to(foreign)
    else:
        (temp / name).write_bytes(foreign.read_bytes())
        (temp / name).chmod(0o666)
    archive = build_zipapp(cache=blocker / "cache")
    assert archive == temp / name and not archive.is_symlink()
    with zipfile.ZipFile(archive) as zf:
        assert zf.read("__main__.py").decode() == MAIN
