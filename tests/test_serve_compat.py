"""``serve --compat`` (a session Go synco v2 can read), ``--zstd-level`` and the lazy zstandard import."""

from __future__ import annotations

import json
import posixpath
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote

import pytest
import zstandard
from click.testing import CliRunner
from test_age_interop import run_with_terminal
from test_serve_sanitize import PROFILE, app_factory_fixture, read_artifact, read_meta  # noqa: F401
from test_transfer_support import fixture_app_fixture, static_server  # noqa: F401

from synco_core import age, hookimpl
from synco_core.cli.main import cli
from synco_core.dburl import parse_database_url
from synco_core.testing.services import mysql_admin_connection, mysql_url_for, require_tool
from synco_core.values import DumpOptions, FileSet, FileSetOptions, Framework, SanitizeRule

MARKER = "mysql-app.txt"
GO_TYPES = {"MysqlDump", "PublicFiles", "PrivateEncryptedFiles"}


class MysqlAppPlugin:
    def __init__(self, url: str) -> None:
        self.url = url

    @hookimpl
    def detect_framework(self, project_dir: Path) -> Framework | None:
        if not (project_dir / MARKER).exists():
            return None
        return Framework(name="MysqlApp", plugin="mysqlapp", project_dir=project_dir,
                         database=parse_database_url(self.url), web_root=project_dir / "web", reason="marker",
                         dump_options=DumpOptions(sanitize=(SanitizeRule("users", "email", transform="email"),)))

    @hookimpl
    def list_file_sets(self, framework: Framework, options: FileSetOptions) -> list[FileSet] | None:
        if framework.plugin != "mysqlapp":
            return None
        return [FileSet(name="uploads", kind="public", root=framework.project_dir / "web/uploads",
                        url_prefix="uploads/", relative_base_path="web/uploads"),
                FileSet(name="private", kind="private", root=framework.project_dir / "private",
                        relative_base_path="private")]


@pytest.fixture
def mysql_app(tmp_path: Path, mysql_database_factory: Callable[[], str],
              register_plugin: Callable[[object, str], None], monkeypatch: pytest.MonkeyPatch) -> Path:
    name = mysql_database_factory()
    conn = mysql_admin_connection(name)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(100))")
        cur.execute("INSERT INTO users VALUES (1, 'ann@real.example'), (2, 'ben@real.example')")
    conn.close()
    register_plugin(MysqlAppPlugin(mysql_url_for(name)), "mysqlapp")
    app = tmp_path / "mysql-app"
    (app / "web/uploads").mkdir(parents=True)
    (app / "private").mkdir()
    (app / MARKER).write_text("x\n")
    (app / "web/uploads/a.txt").write_text("a\n")
    (app / "private/p.txt").write_text("p\n")
    # A low work factor keeps the scrypt sessions fast; the default (18) is what Go synco uses.
    monkeypatch.setattr("synco_core.serve.keys.SCRYPT_WORK_FACTOR", 10)
    monkeypatch.chdir(app)
    return app


@pytest.mark.mysql
def test_compat_session_is_go_readable_and_says_what_it_gave_up(mysql_app: Path) -> None:
    result = CliRunner().invoke(cli, ["serve", "--keep", "--compat", "--id", "compat0123456789abcd"])
    assert result.exit_code == 0, result.output
    assert "--compat gives up: X25519 keys" in result.stderr and "zstd compression" in result.stderr
    match = re.search(r"synco receive synco-compat0123456789abcd (\S+)", result.stdout)
    assert match and not match.group(1).startswith("AGE-SECRET-KEY-")
    passphrase = match.group(1)
    assert len(passphrase) >= 32 and passphrase.isalnum(), "a strong generated passphrase, safe in a shell"
    folder = mysql_app / "web/synco-compat0123456789abcd"
    # Only a scrypt identity opens it (what Go synco v2 uses), and nothing is compressed.
    meta = read_meta(folder, passphrase)
    assert {s.type for s in meta.file_sets} <= GO_TYPES and len(meta.file_sets) == 3
    for file_set in meta.file_sets:
        detail = file_set.dump or file_set.public or file_set.private
        assert detail is not None and detail.compression is None
    dump = meta.file_set("dbDump")
    assert dump is not None and dump.dump is not None and dump.dump.file_name == "dump.sql.enc"
    raw = age.decrypt_bytes((folder / "dump.sql.enc").read_bytes(), [age.ScryptIdentity(passphrase)])
    assert b"CREATE TABLE" in raw and b"ann@real.example" not in raw, "plain SQL, sanitised"
    with pytest.raises(age.AgeError):
        age.decrypt_bytes((folder / "dump.sql.enc").read_bytes(), [age.generate_identity()])


@pytest.mark.mysql
def test_compat_keeps_a_given_password(mysql_app: Path) -> None:
    result = CliRunner().invoke(cli, ["serve", "--keep", "--compat", "--password", "correct horse battery",
                                      "--id", "compat1123456789abcd"])
    assert result.exit_code == 0, result.output
    meta = read_meta(mysql_app / "web/synco-compat1123456789abcd", "correct horse battery")
    assert meta.state == "Ready"
    assert "Go synco v2 receive also needs --compat" not in result.output


def test_compat_refuses_other_engines(app_factory: Callable[[DumpOptions], Path],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    app = app_factory(PROFILE)
    monkeypatch.chdir(app)
    result = CliRunner().invoke(cli, ["serve", "--keep", "--compat", "--id", "compat2123456789abcd"])
    assert result.exit_code == 1
    assert "Go synco v2 can only load MySQL dumps, not sqlite" in result.stderr
    assert not (app / "web/synco-compat2123456789abcd").exists()
    monkeypatch.setattr("synco_core.serve.keys.SCRYPT_WORK_FACTOR", 10)
    files_only = CliRunner().invoke(cli, ["serve", "--keep", "--compat", "--only", "uploads",
                                          "--id", "compat3123456789abcd"])
    assert files_only.exit_code == 0, files_only.output


def test_zstd_level_option(app_factory: Callable[[DumpOptions], Path], monkeypatch: pytest.MonkeyPatch) -> None:
    app = app_factory(PROFILE)
    monkeypatch.chdir(app)
    # A compressible private file, so the level makes a difference to the packed folder too.
    (app / "private/log.txt").write_text("".join(f"{i * 7919 % 1000:04d} request served\n" for i in range(20000)))
    sizes, tar_sizes = {}, {}
    for level in (1, 19):
        result = CliRunner().invoke(cli, ["serve", "--keep", "--zstd-level", str(level),
                                          "--id", f"zstd{level:02d}0123456789ab"])
        assert result.exit_code == 0, result.output
        secret = re.search(r"(AGE-SECRET-KEY-\S+)", result.stdout)
        assert secret
        folder = app / f"web/synco-zstd{level:02d}0123456789ab"
        meta = read_meta(folder, secret.group(1))
        dump = meta.file_set("dbDump")
        assert dump is not None and dump.dump is not None and dump.dump.compression == "zstd"
        assert read_artifact(folder / dump.dump.file_name, secret.group(1))[:16] == b"SQLite format 3\x00"
        sizes[level] = dump.dump.encrypted_size_bytes
        private = meta.file_set("private")
        assert private is not None and private.private is not None and private.private.compression == "zstd"
        packed = read_artifact(folder / private.private.tar_uri, secret.group(1))
        assert b"request served" in packed and len(packed) == private.private.size_bytes, "a plain tar inside"
        tar_sizes[level] = private.private.encrypted_size_bytes
        assert tar_sizes[level] is not None and tar_sizes[level] < private.private.size_bytes / 4, "compressed"
    assert sizes[1] != sizes[19], "the level reaches the compressor"
    assert tar_sizes[1] != tar_sizes[19], "the level reaches the packed private folders"
    bad = CliRunner().invoke(cli, ["serve", "--zstd-level", "0"])
    assert bad.exit_code == 2 and "--zstd-level" in bad.output


def test_folder_module_imports_without_zstandard(tmp_path: Path) -> None:
    # synco pull's zipapp runs on hosts without zstandard: the module must import, and uncompressed
    # artifacts must work; only compressing needs the package.
    script = f"""
import sys
sys.modules["zstandard"] = None
from pathlib import Path
from synco_core import age
from synco_core.serve.folder import SessionFolder
identity = age.generate_identity()
folder = SessionFolder(Path({str(tmp_path / "s")!r}), [identity.recipient()])
folder.create()
with folder.artifact("a", compress=False) as (plain, stats):
    plain.write(b"hello")
assert age.decrypt_bytes((folder.path / "a").read_bytes(), [identity]) == b"hello"
try:
    with folder.artifact("b") as (plain, stats):
        plain.write(b"x")
except ImportError:
    print("compress needs zstandard")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "compress needs zstandard"


def test_password_alone_is_an_scrypt_key_age_opens_and_keeps_zstd(fixture_app: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # --password changes the key type only; what Go synco v2 reads (no compression) takes --compat.
    require_tool("age", "age")
    monkeypatch.chdir(fixture_app)
    monkeypatch.setattr("synco_core.serve.keys.SCRYPT_WORK_FACTOR", 10)
    password = "scrypt & spaces 42"
    result = CliRunner().invoke(cli, ["serve", "--keep", "--id", "pwonly", "--only", "dbDump", "--password", password])
    assert result.exit_code == 0, result.output
    folder = fixture_app / "web/synco-pwonly"
    encrypted_meta = (folder / "meta.json.enc").read_bytes()
    assert b"\n-> scrypt " in encrypted_meta and b"X25519" not in encrypted_meta
    # The age command opens it with the passphrase typed at its prompt.
    status = run_with_terminal(["age", "-d", "-o", str(tmp_path / "meta.json"), str(folder / "meta.json.enc")],
                               password)
    assert status == 0
    meta = json.loads((tmp_path / "meta.json").read_text())
    [dump] = [s for s in meta["fileSets"] if s["name"] == "dbDump"]
    detail = next(value for value in dump.values() if isinstance(value, dict) and "fileName" in value)
    assert detail["compression"] == "zstd"
    # So does synco decrypt; the plaintext is zstd, not what Go synco v2 could load.
    out = tmp_path / "dump.zst"
    decrypted = CliRunner().invoke(cli, ["decrypt", "--key", password, str(folder / detail["fileName"]),
                                         "-o", str(out)])
    assert decrypted.exit_code == 0, decrypted.output
    plain = zstandard.ZstdDecompressor().decompressobj().decompress(out.read_bytes())
    assert plain == (fixture_app / "data.db").read_bytes()


@pytest.mark.parametrize("args, noted", [
    (["--password", "correct horse battery"], True),
    ([], False),
    (["--password", "correct horse battery", "--compat"], False),
], ids=["password", "x25519", "password-compat"])
def test_password_without_compat_prints_one_note(fixture_app: Path, monkeypatch: pytest.MonkeyPatch,
                                                 args: list[str], noted: bool) -> None:
    monkeypatch.chdir(fixture_app)
    monkeypatch.setattr("synco_core.serve.keys.SCRYPT_WORK_FACTOR", 10)
    # --only uploads: --compat refuses the fixture's non-MySQL dump, and the note does not depend on the sets.
    result = CliRunner().invoke(cli, ["serve", "--keep", "--id", "note0123456789abcdef", "--only", "uploads", *args])
    assert result.exit_code == 0, result.output
    notes = [line for line in result.stderr.splitlines() if "also needs --compat" in line]
    if noted:
        assert notes == ["Note: --password only changes the key type; the session stays zstd-compressed, so a "
                         "Go synco v2 receive also needs --compat (uncompressed)."]
    else:
        assert notes == [], result.stderr
    assert "Go synco v2 receive also needs --compat" not in result.stdout


def _go_v2_fetch_path(session_folder: str, public_uri: str) -> str:
    """The path, below the site's root, that Go synco v2's receive asks for: it joins the base URL, the
    session folder and the ``publicUri`` (``<BASE>`` replaced by ``..``) with Go's url.JoinPath, which
    cleans the path."""
    return posixpath.normpath(posixpath.join("/", session_folder, public_uri.replace("<BASE>", ".."))).lstrip("/")


def test_compat_public_uris_resolve_where_go_v2_fetches_them(fixture_app: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Go synco v2's receive reads a relative ``publicUri`` against the session folder (its serve writes
    ``<BASE>/<path>``): a --compat session that wrote ``uploads/...`` sent it to
    ``/synco-<id>/uploads/...``, a 404 for every file. This receive reads either form from the site's root."""
    monkeypatch.chdir(fixture_app)
    monkeypatch.setattr("synco_core.serve.keys.SCRYPT_WORK_FACTOR", 10)
    result = CliRunner().invoke(cli, ["serve", "--keep", "--compat", "--only", "uploads", "--password",
                                      "correct horse battery", "--id", "compat4123456789abcd"])
    assert result.exit_code == 0, result.output
    web = fixture_app / "web"
    folder = web / "synco-compat4123456789abcd"
    meta = read_meta(folder, "correct horse battery")
    uploads = meta.file_set("uploads")
    assert uploads is not None and uploads.public is not None and uploads.public.compression is None
    index = json.loads(read_artifact(folder / uploads.public.index_file_name, "correct horse battery"))
    assert len(index) >= 10
    for path, entry in index.items():
        fetched = web / unquote(_go_v2_fetch_path(folder.name, entry["publicUri"]))
        assert fetched.is_file() and fetched.stat().st_size == entry["sizeBytes"], (path, entry["publicUri"])
    target = tmp_path / "t"
    with static_server(web) as (url, _):
        received = CliRunner().invoke(cli, ["receive", folder.name, "correct horse battery", "--base-url", url,
                                            "--target", str(target), "--all"])
    assert received.exit_code == 0, received.output
    for path, entry in index.items():
        assert (target / "uploads" / path).stat().st_size == entry["sizeBytes"]
