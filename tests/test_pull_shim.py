"""``synco pull`` through docker, docker compose and kubectl, with shims of those tools first on PATH.

No container engine or cluster runs here: ``tests/shims/docker`` and ``tests/shims/kubectl`` check the
arguments the way the real tools need them (``exec -i``, ``compose exec -T``, ``-- command``) and run the
command locally, as it would run inside the container. Every call is logged, so the tests also check
the argv synco built.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import sqlite3
import stat
import sys
from pathlib import Path

import pytest
from pull_support import (
    Project,
    latin1_locale,
    make_project,
    remote_environment,
    row_count,
    run_synco,
    tree_digest,
)


@pytest.fixture
def shim_env(tmp_path: Path) -> dict[str, str]:
    return remote_environment(tmp_path, SYNCO_SHIM_KUBE_CONTEXTS="prod,staging")


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return make_project(tmp_path / "app", public_files=4)


def _calls(env: dict[str, str]) -> list[list[str]]:
    log = Path(env["SYNCO_SHIM_LOG"])
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def _check(target: Path, project: Project) -> None:
    assert row_count(target / "dbDump.sqlite") == project.rows
    assert tree_digest(target / "uploads") == tree_digest(project.root / "public" / "uploads")
    assert tree_digest(target / "private") == tree_digest(project.root / "storage")


def test_pull_docker_shim(shim_env: dict[str, str], project: Project, tmp_path: Path) -> None:
    result = run_synco(["pull", f"docker://web-1{project.root}", "--target", "out"], shim_env, tmp_path)
    assert result.returncode == 0, result.stderr
    _check(tmp_path / "out", project)
    calls = _calls(shim_env)
    assert calls and all(call[:4] == ["docker", "exec", "-i", "web-1"] for call in calls)
    assert list(Path(shim_env["TMPDIR"]).iterdir()) == []


def test_pull_named_database_only_when_asked(shim_env: dict[str, str], project: Project, tmp_path: Path) -> None:
    """A framework's named database comes with ``--only dbDump-<name>``, beside the streamed default one."""
    connection = sqlite3.connect(project.root / "logs.sqlite")
    with connection:
        connection.execute("CREATE TABLE hits (id INTEGER PRIMARY KEY, path TEXT)")
        connection.executemany("INSERT INTO hits (path) VALUES (?)", [(f"/page/{i}",) for i in range(7)])
    connection.close()
    (project.root / "synco-pulltest.json").write_text('{"sqlite": "db.sqlite", "named": {"logs": "logs.sqlite"}}')
    result = run_synco(["pull", f"docker://web-1{project.root}", "--target", "plain"], shim_env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "plain" / "dbDump-logs.sqlite").exists(), "not asked for: not dumped"
    result = run_synco(["pull", f"docker://web-1{project.root}", "--target", "out", "--only", "dbDump,dbDump-logs"],
                       shim_env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert row_count(tmp_path / "out" / "dbDump.sqlite") == project.rows
    with contextlib.closing(sqlite3.connect(tmp_path / "out" / "dbDump-logs.sqlite")) as logs:
        assert logs.execute("SELECT COUNT(*) FROM hits").fetchone() == (7,)


def test_pull_docker_compose_shim_with_zipapp(shim_env: dict[str, str], project: Project, tmp_path: Path) -> None:
    env = dict(shim_env, SYNCO_REMOTE_SYNCO="upload", SYNCO_REMOTE_PYTHON=f"{sys.executable} -S")
    result = run_synco(["pull", f"docker-compose://php{project.root}", "--target", "out"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "uploaded zipapp" in result.stderr
    _check(tmp_path / "out", project)
    calls = _calls(env)
    assert all(call[:5] == ["docker", "compose", "exec", "-T", "php"] for call in calls)
    # The uploaded archive and the temporary session are gone.
    assert list(Path(env["TMPDIR"]).iterdir()) == []


def test_pull_kubectl_shim_with_context_and_container(shim_env: dict[str, str], project: Project,
                                                      tmp_path: Path) -> None:
    url = f"kubectl://prod/shop/web-0/php/{str(project.root).lstrip('/')}"
    url = url.replace("/php/", "/php//", 1)
    result = run_synco(["pull", url, "--target", "out"], shim_env, tmp_path)
    assert result.returncode == 0, result.stderr
    _check(tmp_path / "out", project)
    exec_calls = [call for call in _calls(shim_env) if call[1] == "exec"]
    assert exec_calls
    for call in exec_calls:
        assert call[:9] == ["kubectl", "exec", "-i", "--context", "prod", "-n", "shop", "web-0", "-c"]
        assert call[9:11] == ["php", "--"]


def test_pull_kubectl_shim_known_context_without_container(shim_env: dict[str, str], project: Project,
                                                           tmp_path: Path) -> None:
    result = run_synco(["pull", f"kubectl://staging/shop/web-0{project.root}", "--only", "dbDump",
                        "--target", "out"], shim_env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert row_count(tmp_path / "out" / "dbDump.sqlite") == project.rows
    exec_calls = [call for call in _calls(shim_env) if call[1] == "exec"]
    assert exec_calls[0][:8] == ["kubectl", "exec", "-i", "--context", "staging", "-n", "shop", "web-0"]
    assert "-c" not in exec_calls[0][: exec_calls[0].index("--")]


def test_pull_shim_remote_python_too_old(shim_env: dict[str, str], project: Project, tmp_path: Path) -> None:
    fake = tmp_path / "python3.8"
    fake.write_text("#!/bin/sh\ncase \"$2\" in *exit*) exit 1;; esac\necho 3.8\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    env = dict(shim_env, SYNCO_REMOTE_SYNCO="upload", SYNCO_REMOTE_PYTHON=str(fake))
    result = run_synco(["pull", f"docker://web{project.root}"], env, tmp_path)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: python3 >= 3.10 missing on docker://web") and "found 3.8" in last


def test_pull_shim_no_python_at_all(shim_env: dict[str, str], project: Project, tmp_path: Path) -> None:
    env = dict(shim_env, SYNCO_REMOTE_SYNCO="upload", SYNCO_REMOTE_PYTHON="/nonexistent/python3")
    result = run_synco(["pull", f"docker://web{project.root}"], env, tmp_path)
    assert result.returncode == 1
    assert "neither synco nor /nonexistent/python3 found" in result.stderr.strip().splitlines()[-1]


def test_pull_shim_postgres_without_psycopg_names_it(shim_env: dict[str, str], tmp_path: Path) -> None:
    # A PostgreSQL project on a host whose python has no psycopg (the zipapp cannot carry libpq bindings).
    app = tmp_path / "pgapp"
    app.mkdir()
    (app / "synco-pulltest.json").write_text('{"database_url": "postgresql://postgres@127.0.0.1:5432/x"}')
    (app / "public").mkdir()
    # The zipapp ships psycopg's pure-Python part; asking it for the binary implementation, which "-S" hides,
    # makes its import fail the way it does on a host without libpq bindings.
    env = dict(shim_env, SYNCO_REMOTE_SYNCO="upload", SYNCO_REMOTE_PYTHON=f"{sys.executable} -S",
               PSYCOPG_IMPL="binary")
    result = run_synco(["pull", f"docker://web{app}"], env, tmp_path)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: psycopg is not installed on the remote host (needed for PostgreSQL)")


def test_pull_shim_other_protocol_falls_back_to_upload(shim_env: dict[str, str], project: Project,
                                                        tmp_path: Path) -> None:
    # A remote synco of another version: its greeting names protocol 99.
    fake = tmp_path / "old-synco"
    fake.write_text(
        f"#!{sys.executable}\n"
        "import json, struct, sys\n"
        "payload = json.dumps({'protocol': 99, 'version': '9.9'}).encode()\n"
        "sys.stdout.buffer.write(b'\\x00\\x00SYNCO-CHANNEL-1\\n' + struct.pack('>cI', b'H', len(payload)) + payload)\n"
    )
    fake.chmod(0o755)
    env = dict(shim_env, SYNCO_REMOTE_SYNCO=str(fake), SYNCO_REMOTE_PYTHON=f"{sys.executable} -S")
    result = run_synco(["pull", f"docker://web{project.root}", "--target", "out"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "protocol 99" in result.stderr and "uploaded zipapp" in result.stderr
    _check(tmp_path / "out", project)


def test_pull_shim_remote_failure_is_one_line_and_cleaned_up(shim_env: dict[str, str], project: Project,
                                                             tmp_path: Path) -> None:
    # The database file is unreadable garbage: the remote build fails after its temporary folder exists.
    project.database.write_bytes(b"this is not a database" * 100)
    result = run_synco(["pull", f"docker://web{project.root}", "--target", "out"], shim_env, tmp_path)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: ") and "Traceback" not in result.stderr
    assert list(Path(shim_env["TMPDIR"]).iterdir()) == []
    assert not (tmp_path / "out" / "dbDump.sqlite").exists()


@pytest.mark.parametrize(("package", "version"), [("cryptography", "38.0.4"), ("zstandard", "0.19.0")])
def test_pull_docker_shim_zipapp_hides_a_too_old_host_package(shim_env: dict[str, str], project: Project,
                                                             tmp_path: Path, package: str, version: str) -> None:
    # Debian 12's system python3 has python3-cryptography 38, whose AEAD refuses memoryviews: the uploaded
    # zipapp used it and failed in the middle of the build with "TypeError: data must be bytes". An old host
    # copy must count as missing (the fallbacks take over), never be imported.
    host_packages = tmp_path / "dist-packages"
    (host_packages / package).mkdir(parents=True)
    # It imports fine, as the real old one does; anything taken from it fails.
    (host_packages / package / "__init__.py").write_text(
        f"def __getattr__(name):\n    raise RuntimeError('the host {package} {version} was used')\n")
    info = host_packages / f"{package}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n")
    # Only the remote interpreter sees the host's old package, ahead of this interpreter's site-packages
    # (so the other compiled package is there and new enough); the local synco keeps its own.
    remote_path = f"{shim_env['PYTHONPATH']}{os.pathsep}{host_packages}"
    env = dict(shim_env, SYNCO_REMOTE_SYNCO="upload",
               SYNCO_REMOTE_PYTHON=f"env PYTHONPATH={remote_path} {sys.executable}")
    result = run_synco(["pull", f"docker://web{project.root}", "--target", "out"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "uploaded zipapp" in result.stderr and "was used" not in result.stderr
    _check(tmp_path / "out", project)
    assert list(Path(env["TMPDIR"]).iterdir()) == []


#: Runs the real remote side, forwards its first CUT_AFTER bytes of output, then kills it: as a connection
#: that drops or an OOM killer would. CUT_MODE "exit": the remote shell reports it (status 137); "signal":
#: this process, which the docker shim exec'd into (so it is the local "docker" process), dies of SIGKILL.
_CUTTING_SYNCO = '''\
import os, signal, subprocess, sys
child = subprocess.Popen([sys.executable, "-c", "from synco_core.cli.main import main; main()", *sys.argv[1:]],
                         stdout=subprocess.PIPE)
left = int(os.environ["CUT_AFTER"])
while left > 0:
    chunk = child.stdout.read1(min(left, 65536))
    if not chunk:
        break
    os.write(1, chunk)
    left -= len(chunk)
child.kill()
child.wait()
if os.environ["CUT_MODE"] == "signal":
    os.kill(os.getpid(), signal.SIGKILL)
sys.exit(137)
'''


# 137 is what docker exec ends with when the command got SIGKILL (the out-of-memory killer, ulimit -t).
@pytest.mark.parametrize(("mode", "cause"), [("exit", "the remote side was killed: SIGKILL: out of memory, the hard "
                                                      "end of a CPU time limit (ulimit -t), or killed by hand"),
                                             ("signal", "the local docker process got signal 9")])
def test_pull_docker_shim_connection_cut_mid_transfer_is_one_line(shim_env: dict[str, str], tmp_path: Path,
                                                                  mode: str, cause: str) -> None:
    # The dump's frames stop halfway: the pull printed one "failed ... the channel closed in the middle of a
    # frame" per file set on stdout, and nothing at all on stderr.
    project = make_project(tmp_path / "big", public_files=4, rows=16, blob_bytes=64 * 1024)
    cutter = tmp_path / "cutting-synco"
    cutter.write_text(f"#!{sys.executable}\n{_CUTTING_SYNCO}")
    cutter.chmod(0o755)
    env = dict(shim_env, SYNCO_REMOTE_SYNCO=str(cutter), CUT_AFTER="400000", CUT_MODE=mode)
    result = run_synco(["pull", f"docker://web{project.root}", "--target", "out"], env, tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[-1] == (f"Error: the connection to docker://web{project.root} broke during the transfer ({cause}); "
                         "what arrived is kept: run the same command again to continue")
    assert "Error" not in "\n".join(lines[:-1]) and "failed" not in result.stdout
    assert not (tmp_path / "out" / "dbDump.sqlite").exists()
    # The next run takes it from there.
    again = run_synco(["pull", f"docker://web{project.root}", "--target", "out"], shim_env, tmp_path)
    assert again.returncode == 0, again.stderr
    _check(tmp_path / "out", project)
    assert not list((tmp_path / "out").glob("*.part"))


def _container_bin(folder: Path, python_names: tuple[str, ...]) -> str:
    """A container PATH with sh and the interpreter under the given names only."""
    folder.mkdir()
    (folder / "sh").symlink_to("/bin/sh")
    for name in python_names:
        (folder / name).symlink_to(sys.executable)
    return str(folder)


@pytest.mark.parametrize("kind", ["docker", "kubectl"])
def test_pull_docker_and_kubectl_shim_image_with_python_but_no_python3(shim_env: dict[str, str], project: Project,
                                                                       tmp_path: Path, kind: str) -> None:
    # An image whose interpreter is called "python" only: pull said "neither synco nor python3 found".
    env = {k: v for k, v in shim_env.items() if k != "SYNCO_REMOTE_PYTHON"}
    env["SYNCO_SHIM_CONTAINER_PATH"] = _container_bin(tmp_path / "bin", ("python",))
    url = f"docker://web{project.root}" if kind == "docker" else f"kubectl://shop/web-0{project.root}"
    result = run_synco(["pull", url, "--target", "out"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "run by python (" in result.stderr
    _check(tmp_path / "out", project)


def test_pull_docker_shim_image_without_any_python_names_both(shim_env: dict[str, str], project: Project,
                                                             tmp_path: Path) -> None:
    env = {k: v for k, v in shim_env.items() if k != "SYNCO_REMOTE_PYTHON"}
    env["SYNCO_SHIM_CONTAINER_PATH"] = _container_bin(tmp_path / "bin", ())
    result = run_synco(["pull", f"docker://web{project.root}", "--target", "out"], env, tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith(
        "Error: neither synco nor python3 (nor python) found on docker://web")


def test_pull_docker_shim_uploads_linked_from_a_shared_folder(shim_env: dict[str, str], tmp_path: Path) -> None:
    # Capistrano/Deployer layout: current -> releases/1, whose public/uploads links to shared/uploads, outside
    # the project. The web server follows the link and the index listed the files, but the channel refused
    # every one of them ("5 not given by the server").
    base = tmp_path / "deploy"
    project = make_project(base / "releases" / "1", public_files=5)
    shared = base / "shared"
    shared.mkdir()
    (project.root / "public" / "uploads").rename(shared / "uploads")
    (project.root / "public" / "uploads").symlink_to(shared / "uploads")
    (base / "current").symlink_to(project.root)
    result = run_synco(["pull", f"docker://web{base / 'current'}", "--target", "out"], shim_env, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert tree_digest(tmp_path / "out" / "uploads") == tree_digest(shared / "uploads")
    assert len(tree_digest(tmp_path / "out" / "uploads")) == 5

    # Only the set's own root is allowed: a link inside it to a file anywhere else is left out of the index
    # (and the channel would refuse it all the same).
    outside = tmp_path / "outside.txt"
    outside.write_text("not public")
    (shared / "uploads" / "leak.txt").symlink_to(outside)
    again = run_synco(["pull", f"docker://web{base / 'current'}", "--target", "out2"], shim_env, tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert not (tmp_path / "out2" / "uploads" / "leak.txt").exists()
    assert len(tree_digest(tmp_path / "out2" / "uploads")) == 5


def test_pull_deployed_release_into_a_linked_laptop_copy(shim_env: dict[str, str], tmp_path: Path) -> None:
    """Both sides laid out as deploy tools and Docker setups do: the server's ``current`` links to a release
    whose uploads folder links into ``shared/``, with a link to /etc/hostname planted there; the laptop's
    uploads folder links to a Docker volume outside the project. The pull serves the shared files (not the
    planted link's target) and the install fills the volume, the laptop's link left as it is."""
    server = tmp_path / "srv"
    release = make_project(server / "releases" / "1", public_files=4).root
    shared = server / "shared" / "uploads"
    shared.parent.mkdir(parents=True)
    os.rename(release / "public" / "uploads", shared)
    (release / "public" / "uploads").symlink_to("../../../shared/uploads")
    (server / "current").symlink_to("releases/1")
    (shared / "etc-hostname").symlink_to("/etc/hostname")
    (shared / "inside.bin").symlink_to("nested/file 1.bin")
    laptop = make_project(tmp_path / "laptop", public_files=0).root
    volume = tmp_path / "volumes" / "uploads" / "_data"
    volume.parent.mkdir(parents=True)
    os.rename(laptop / "public" / "uploads", volume)
    (volume / "old.bin").write_bytes(b"old")
    (laptop / "public" / "uploads").symlink_to(volume)
    result = run_synco(["pull", f"docker://web-1{server}/current", "--target", "out", "--install", "--yes"],
                       shim_env, laptop)
    assert result.returncode == 0, result.stderr
    assert (laptop / "public" / "uploads").is_symlink() and os.readlink(laptop / "public" / "uploads") == str(volume)
    expected = {path: digest for path, digest in tree_digest(shared).items() if path != "etc-hostname"}
    assert tree_digest(volume) == expected and "inside.bin" in expected
    assert (volume.parent / "._data.synco-previous" / "old.bin").read_bytes() == b"old"
    assert tree_digest(laptop / "storage") == tree_digest(release / "storage")


def test_pull_from_a_read_only_application(shim_env: dict[str, str], project: Project, tmp_path: Path) -> None:
    """The way out serve names for a read-only application root (Platform.sh, Upsun): pull writes only into
    the remote side's temporary folder, so it works unchanged."""
    from test_serve_wild_trees import small_file_system

    with small_file_system(project.root, "32m", read_only=True):
        result = run_synco(["pull", f"docker://web-1{project.root}", "--target", "out"], shim_env, tmp_path)
        assert result.returncode == 0, result.stderr
        _check(tmp_path / "out", project)
    assert list(Path(shim_env["TMPDIR"]).iterdir()) == []


def test_pull_docker_shim_shows_the_remote_sides_warnings(shim_env: dict[str, str], project: Project,
                                                          tmp_path: Path) -> None:
    """What the remote synco warns about (a file it skips, a plugin that failed, what a dump leaves out) is on
    its stderr, which pull only logged under --debug: a pull that left files behind looked complete."""
    uploads = os.fsencode(project.root / "public" / "uploads")
    with open(uploads + b"/latin1-\xe9.bin", "wb") as handle:
        handle.write(b"not reachable by any URL")
    with open(os.fsencode(project.root / "storage") + b"/note-\xff.txt", "wb") as handle:
        handle.write(b"not writable by a receiver")
    for synco in ("", "upload"):
        env = dict(shim_env, SYNCO_REMOTE_SYNCO=synco)
        result = run_synco(["pull", f"docker://web-1{project.root}", "--target", f"out-{synco}"], env, tmp_path)
        assert result.returncode == 0, result.stderr
        warnings = [line for line in result.stderr.splitlines() if "remote side warned:" in line]
        assert len(warnings) == 2, result.stderr
        assert "latin1-\\udce9.bin': its name is not valid UTF-8, so no URL" in warnings[0] + warnings[1]
        assert "its name is not valid UTF-8, so a receiver could not write it" in warnings[0] + warnings[1]
        assert all(line.startswith("WARNING ") for line in warnings)


_BROKEN_SYNCOS = {
    # A venv or pipx install whose interpreter went away with an upgrade of the system's python.
    "interpreter-gone": "#!/nonexistent/python3.9\n",
    # An older synco that has no channel command yet (click's usage error).
    "no-channel-command": "#!/bin/sh\necho \"Usage: synco [OPTIONS] COMMAND [ARGS]...\" >&2\n"
                          "echo \"Error: No such command '_channel'.\" >&2\nexit 2\n",
    # A half-removed install.
    "import-error": "#!/bin/sh\necho 'Traceback (most recent call last):' >&2\n"
                    "echo \"ModuleNotFoundError: No module named 'synco_core'\" >&2\nexit 1\n",
}


@pytest.mark.parametrize("broken", sorted(_BROKEN_SYNCOS))
def test_pull_docker_shim_uploads_when_the_remote_synco_found_does_not_start(
        shim_env: dict[str, str], project: Project, tmp_path: Path, broken: str) -> None:
    """A synco on the remote PATH that cannot start its channel was the end of the pull (`command not found`
    although it was found, `No such command '_channel'`); as for one of another protocol, this synco is
    uploaded instead. One the user named (synco: in .synco.yml) stays an error."""
    bin_dir = tmp_path / "container-bin"
    bin_dir.mkdir()
    synco = bin_dir / "synco"
    synco.write_text(_BROKEN_SYNCOS[broken])
    synco.chmod(0o755)
    # Not this interpreter's folder (sh would go on to the synco there): the remote python is named in full.
    env = dict(shim_env, SYNCO_SHIM_CONTAINER_PATH=f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin")
    result = run_synco(["pull", f"docker://web-1{project.root}", "--target", "out"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"the remote synco at {synco} did not start" in result.stderr
    assert "uploading this synco instead" in result.stderr and "uploaded zipapp" in result.stderr
    _check(tmp_path / "out", project)
    assert list(Path(env["TMPDIR"]).iterdir()) == []

    configured = run_synco(["pull", f"docker://web-1{project.root}", "--target", "out2"],
                           dict(env, SYNCO_REMOTE_SYNCO=str(synco)), tmp_path)
    assert configured.returncode == 1
    assert configured.stderr.strip().splitlines()[-1].startswith("Error: ")
    assert "uploading" not in configured.stderr



@pytest.mark.parametrize("synco", ["", "upload"])
def test_pull_docker_shim_from_a_host_with_a_latin1_locale(shim_env: dict[str, str], tmp_path: Path,
                                                           synco: str) -> None:
    """The remote python decoded file names with the host's locale: under ISO-8859-1 'café' arrived as
    'cafÃ©', a Japanese folder was skipped as holding control characters, and the private tar was named alike.
    Names on the wire are UTF-8 (docs/wire-format.md), so the remote side runs in Python's UTF-8 mode."""
    project = make_project(tmp_path / "app é", public_files=2)
    uploads = project.root / "public" / "uploads"
    (uploads / "café ü.bin").write_bytes(b"cafe")
    (uploads / "日本 語").mkdir()
    (uploads / "日本 語" / "ファイル.txt").write_bytes(b"jp")
    remote_env = latin1_locale(tmp_path / "locales", "en_US")
    env = dict(shim_env, SYNCO_REMOTE_SYNCO=synco, SYNCO_SHIM_CONTAINER_ENV=json.dumps(remote_env))
    result = run_synco(["pull", f"docker://web-1{project.root}", "--target", "out"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "remote side warned" not in result.stderr
    _check(tmp_path / "out", project)
    assert (tmp_path / "out" / "uploads" / "日本 語" / "ファイル.txt").read_bytes() == b"jp"
    assert (tmp_path / "out" / "private" / "app" / "notes ü.txt").is_file()


@pytest.mark.parametrize(("said", "reason"), [
    # A docker without the compose plugin (compose v1 only).
    (["docker: 'compose' is not a docker command.", "See 'docker --help'"],
     "docker: 'compose' is not a docker command."),
    (["unknown shorthand flag: 'T' in -T", "See 'docker exec --help'."], "unknown shorthand flag: 'T' in -T"),
    (["error: unknown flag: --context", "See 'kubectl exec -h' for help and examples"],
     "error: unknown flag: --context"),
    (["unknown flag: --foo", "Run 'docker compose exec --help' for more information"], "unknown flag: --foo"),
])
def test_pull_shim_tool_failure_names_the_reason_not_the_help_pointer(shim_env: dict[str, str], tmp_path: Path,
                                                                      said: list[str], reason: str) -> None:
    """docker and kubectl end their errors with a pointer to their help, which pull gave as the reason."""
    fake = tmp_path / "tool-bin"
    fake.mkdir()
    lines = "".join(f"echo {shlex.quote(line)} >&2\n" for line in said)
    for tool in ("docker", "kubectl"):
        (fake / tool).write_text(f"#!/bin/sh\n{lines}exit 1\n")
        (fake / tool).chmod(0o755)
    env = dict(shim_env, PATH=f"{fake}{os.pathsep}{shim_env['PATH']}")
    for url in ("docker-compose://web/srv/app", "kubectl://ns/pod-1//srv/app"):
        result = run_synco(["pull", url, "--target", "out"], env, tmp_path)
        assert result.returncode == 1
        assert result.stderr.strip().splitlines()[-1] == f"Error: {reason}"


NOISY_REMOTE_PLUGIN = '''
import os, subprocess, sys
from synco_core import hookimpl

print("printed at import")
os.write(1, b"fd 1 at import\\n")

@hookimpl
def detect_framework(project_dir):
    print("printed in detect_framework")
    os.write(1, b"fd 1 in detect_framework\\n")
    subprocess.run([sys.executable, "-c", "print('child in detect_framework')"], check=True)
    return None

@hookimpl
def list_file_sets(framework, options):
    os.write(1, b"fd 1 in list_file_sets\\n")
    return None
'''


def test_pull_with_a_plugin_writing_to_stdout_on_the_remote_side(shim_env: dict[str, str], project: Project,
                                                                  tmp_path: Path) -> None:
    """On the remote side stdout is the channel: a plugin there printing, writing to descriptor 1 or starting a
    program that does, at import and in its hooks, leaves the frames intact (its text reaches stderr)."""
    from synco_core.testing import write_distribution

    write_distribution(Path(shim_env["PYTHONPATH"]), "synco-noisy", {"noisy": "synco_noisy_remote"},
                       {"synco_noisy_remote": NOISY_REMOTE_PLUGIN})
    result = run_synco(["--debug", "pull", f"docker://web-1{project.root}", "--target", "out"], shim_env, tmp_path)
    assert result.returncode == 0, result.stderr
    _check(tmp_path / "out", project)
    # The plugin did run over there: its text is what the remote side said on stderr (logged under --debug).
    assert "fd 1 in detect_framework" in result.stderr, result.stderr


@pytest.mark.parametrize("runs", ["shell", "argv"])
def test_pull_through_a_hosting_tools_command_shim(shim_env: dict[str, str], project: Project, tmp_path: Path,
                                                   runs: str) -> None:
    """A remote of type command (platform ssh, lando ssh -c, ddev exec: tests/shims/hosting-cli stands in): the
    tool's words from .synco.yml, then the script, as one command line for a remote shell or as words."""
    subcommand = "ssh" if runs == "shell" else "exec"
    (tmp_path / ".synco.yml").write_text(
        "remotes:\n  main:\n    type: command\n"
        f"    command: hosting-cli {subcommand} -p abc123 -e 'main branch' --\n"
        f"    runs: {runs}\n    path: {project.root}\n")
    for synco in ("", "upload"):
        env = dict(shim_env, SYNCO_REMOTE_SYNCO=synco)
        result = run_synco(["pull", "main", "--target", f"out-{synco}"], env, tmp_path)
        assert result.returncode == 0, result.stderr
        _check(tmp_path / f"out-{synco}", project)
    calls = _calls(shim_env)
    assert calls and all(call[:7] == ["hosting-cli", subcommand, "-p", "abc123", "-e", "main branch", "--"]
                         for call in calls)
    assert list(Path(shim_env["TMPDIR"]).iterdir()) == []


def test_a_hosting_tool_that_fails_is_named_in_one_line(shim_env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / ".synco.yml").write_text(
        "remotes:\n  main:\n    type: command\n    command: [hosting-cli, deploy, --]\n    path: /app\n")
    result = run_synco(["pull", "main", "--target", "out"], shim_env, tmp_path)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: ") and "hosting-cli: usage" in last, result.stderr
    assert "Traceback" not in result.stderr
