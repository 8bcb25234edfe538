"""A session as Go synco v2 publishes it, built by hand from the wire format, receives correctly.

Go synco writes: a scrypt passphrase, the JSON of ../shared/DESIGN.md with ``null`` for the detail keys
of other types and none of this implementation's additions, an uncompressed ``dump.sql.enc``, public
files indexes whose ``publicUri`` is relative to the base URL (or ``<BASE>/...`` in older versions) and
``PrivateEncryptedFiles`` as a plain tar.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path
from urllib.parse import quote

from click.testing import CliRunner
from test_transfer_support import static_server, tree_digest

from synco_core import age
from synco_core.cli.main import cli

PASSWORD = "GoSyncoPassw0rd"
SQL = b"-- MySQL dump\nCREATE TABLE `t` (`id` int);\nINSERT INTO `t` VALUES (1),(2);\n" * 500


def _encrypt(path: Path, data: bytes) -> None:
    # Go synco uses work factor 18; a smaller one keeps the test fast and is read the same way.
    path.write_bytes(age.encrypt_bytes(data, [age.ScryptRecipient(PASSWORD, work_factor=10)]))


def make_go_session(web: Path) -> tuple[str, Path]:
    session = "synco-4f9a2c1d"
    folder = web / session
    folder.mkdir(parents=True)
    resources = web / "_Resources" / "Persistent"
    files = {"a/b/logo.png": b"\x89PNG" + b"x" * 5000, "c.txt": b"hello go\n"}
    index = {}
    for number, (relative, content) in enumerate(files.items()):
        path = resources / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        uri = f"_Resources/Persistent/{relative}" if number else f"<BASE>/_Resources/Persistent/{relative}"
        index[f"Resources/{relative}"] = {"sizeBytes": len(content), "mTime": 1600000000 + number, "publicUri": uri}
    index_bytes = json.dumps(index).encode()
    _encrypt(folder / "Resources-Resources.index.json.enc", index_bytes)
    _encrypt(folder / "dump.sql.enc", SQL)
    private_src = web.parent / "private-src"
    (private_src / "sub").mkdir(parents=True)
    (private_src / "sub" / "secret.yaml").write_text("key: value\n")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(private_src / "sub", arcname="sub")
    tar_bytes = buffer.getvalue()
    _encrypt(folder / "encrypted-resources-local", tar_bytes)
    meta = {
        "state": "Ready",
        "frameworkName": "Neos/Flow",
        "fileSets": [
            {"name": "dbDump", "type": "MysqlDump", "mysqlDump": {"fileName": "dump.sql.enc", "sizeBytes": len(SQL)},
             "postgresDump": None, "publicFiles": None, "privateEncryptedFiles": None},
            {"name": "Resources", "type": "PublicFiles", "mysqlDump": None, "postgresDump": None,
             "publicFiles": {"indexFileName": "Resources-Resources.index.json.enc",
                             "sizeBytes": sum(map(len, files.values()))},
             "privateEncryptedFiles": None},
            {"name": "local", "type": "PrivateEncryptedFiles", "mysqlDump": None, "postgresDump": None,
             "publicFiles": None, "privateEncryptedFiles": {"sizeBytes": len(tar_bytes),
                                                            "tarUri": "encrypted-resources-local",
                                                            "relativeBasePath": "Data/Persistent/local"}},
        ],
    }
    _encrypt(folder / "meta.json.enc", json.dumps(meta).encode() + b"\n")
    (folder / "state").write_text("Ready")
    return session, private_src


def test_go_v2_session_receives(tmp_path: Path) -> None:
    web = tmp_path / "web"
    session, private_src = make_go_session(web)
    target = tmp_path / "dump"
    with static_server(web) as (url, _):
        result = CliRunner().invoke(cli, ["receive", session, PASSWORD, "--base-url", url, "--target", str(target),
                                          "--all"])
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    # Go synco v2 lists no content hashes: the files are received and said to be checked by size only.
    assert "2 downloaded, 0 up to date, 0 failed, 5.0 KB, size-checked (the session lists no content hashes)" \
        in result.output
    assert (target / "dbDump.sql").read_bytes() == SQL
    assert (target / "Resources" / "Resources" / "c.txt").read_bytes() == b"hello go\n"
    assert (target / "Resources" / "Resources" / "a/b/logo.png").stat().st_mtime == 1600000000
    assert tree_digest(target / "local") == tree_digest(private_src)
    received = json.loads((target / ".synco-received.json").read_text())
    assert received["frameworkName"] == "Neos/Flow"
    local = next(s for s in received["fileSets"] if s["name"] == "local")
    assert local["relativeBasePath"] == "Data/Persistent/local"
    assert os.path.isfile(target / "dbDump.sql")


# ------------------------------------------------------------------------- Laravel, as Go synco serves it
#
# pkg/frameworks/laravelServe of Go synco v2: the database as above; every local disk with
# visibility "public" becomes a PublicFiles set named after the disk, whose index keys are the disk's
# root plus the file's path (filepath.Walk, so dotfiles too) and whose publicUri is
# url.JoinPath(disk url, file path): a full URL built from APP_URL, or a path when APP_URL is empty. The
# meta's publicFiles has no relativeBasePath. Private disks are PrivateEncryptedFiles with the disk's
# root relative to the project as relativeBasePath, public disks inside them left out.

GO_LARAVEL_ROOT = "/var/www/app"
PUBLIC_FILES = {"img/logo.png": b"\x89PNG" + b"l" * 3000, "avatars/1 (big).jpg": b"\xff\xd8" + b"a" * 9000,
                "avatars/2.jpg": b"\xff\xd8" + b"b" * 100, ".gitignore": b"*\n!.gitignore\n"}


def make_go_laravel_session(web: Path, app_url: str) -> str:
    """A Go synco v2 Laravel session of a disk ``public`` (root ``/var/www/app/storage/app/public``, served
    at ``<app_url>/storage``) in ``web``, whose ``storage`` serves the files."""
    session = "synco-7b2e91c4"
    folder = web / session
    folder.mkdir(parents=True)
    storage = web / "storage"
    root = f"{GO_LARAVEL_ROOT}/storage/app/public"
    index = {}
    for number, (relative, content) in enumerate(sorted(PUBLIC_FILES.items())):
        (storage / relative).parent.mkdir(parents=True, exist_ok=True)
        (storage / relative).write_bytes(content)
        file_path = "/" + relative  # strings.TrimPrefix(walked path, root)
        escaped = "/".join(quote(part) for part in relative.split("/"))  # url.JoinPath escapes each segment
        # Both forms url.JoinPath gives: a full URL from APP_URL, and a path when APP_URL is empty.
        uri = f"{app_url}/storage/{escaped}" if number % 2 == 0 else f"/storage/{escaped}"
        index[root + file_path] = {"sizeBytes": len(content), "mTime": 1650000000 + number, "publicUri": uri}
    _encrypt(folder / "Resources-public.index.json.enc", json.dumps(index).encode())
    _encrypt(folder / "dump.sql.enc", SQL)
    private = io.BytesIO()
    with tarfile.open(fileobj=private, mode="w") as tar:
        data = b"invoice\n"
        member = tarfile.TarInfo("invoice-1.txt")
        member.size = len(data)
        tar.addfile(member, io.BytesIO(data))
    _encrypt(folder / "encrypted-resources-local", private.getvalue())
    meta = {
        "state": "Ready",
        "frameworkName": "Laravel",
        "fileSets": [
            {"name": "dbDump", "type": "MysqlDump", "mysqlDump": {"fileName": "dump.sql.enc", "sizeBytes": len(SQL)},
             "postgresDump": None, "publicFiles": None, "privateEncryptedFiles": None},
            {"name": "public", "type": "PublicFiles", "mysqlDump": None, "postgresDump": None,
             "publicFiles": {"indexFileName": "Resources-public.index.json.enc",
                             "sizeBytes": sum(map(len, PUBLIC_FILES.values()))},
             "privateEncryptedFiles": None},
            {"name": "local", "type": "PrivateEncryptedFiles", "mysqlDump": None, "postgresDump": None,
             "publicFiles": None, "privateEncryptedFiles": {"sizeBytes": len(private.getvalue()),
                                                            "tarUri": "encrypted-resources-local",
                                                            "relativeBasePath": "storage/app/private"}},
        ],
    }
    _encrypt(folder / "meta.json.enc", json.dumps(meta).encode() + b"\n")
    return session


def test_go_v2_laravel_session_receives(tmp_path: Path) -> None:
    web = tmp_path / "web"
    target = tmp_path / "dump"
    with static_server(web) as (url, behaviour):
        session = make_go_laravel_session(web, url.rstrip("/"))
        result = CliRunner().invoke(cli, ["receive", session, PASSWORD, "--base-url", url, "--target", str(target),
                                          "--all"])
    assert result.exit_code == 0, result.output
    # The absolute keys are files of the disk's root: each lands at its path below the set, nowhere else.
    received = {path.relative_to(target / "public").as_posix(): path.read_bytes()
                for path in (target / "public").rglob("*") if path.is_file()}
    assert received == PUBLIC_FILES
    assert not (target / "public" / "var").exists()
    assert (target / "public" / "img" / "logo.png").stat().st_mtime == 1650000000 + sorted(PUBLIC_FILES).index(
        "img/logo.png")
    assert (target / "dbDump.sql").read_bytes() == SQL
    assert (target / "local" / "invoice-1.txt").read_bytes() == b"invoice\n"
    # Both publicUri forms were fetched from the site: the full URL, and the path relative to the site.
    assert behaviour.requests["/storage/img/logo.png"] == 1
    assert behaviour.requests["/storage/avatars/1%20%28big%29.jpg"] == 1


def test_go_v2_laravel_keys_outside_the_root_are_refused(tmp_path: Path) -> None:
    """A key that is not a file of the set's root (another absolute path) makes the index refused whole."""
    web = tmp_path / "web"
    target = tmp_path / "dump"
    with static_server(web) as (url, _behaviour):
        session = make_go_laravel_session(web, url.rstrip("/"))
        folder = web / session
        index = json.loads(age.decrypt_bytes((folder / "Resources-public.index.json.enc").read_bytes(),
                                             [age.parse_identity(PASSWORD)]))
        index["/home/deploy/.ssh/authorized_keys"] = {"sizeBytes": 10, "mTime": 1,
                                                      "publicUri": f"{url}storage/authorized_keys"}
        _encrypt(folder / "Resources-public.index.json.enc", json.dumps(index).encode())
        result = CliRunner().invoke(cli, ["receive", session, PASSWORD, "--base-url", url, "--target", str(target),
                                          "--only", "public"])
    assert result.exit_code == 1, result.output
    # The index is refused whole: with a key outside, no root fits, so every key is named absolute.
    assert "unsafe path '/" in result.output and "absolute" in result.output
    assert not (target / "public").exists() or not any((target / "public").rglob("*"))
    assert not (tmp_path / "home").exists()
