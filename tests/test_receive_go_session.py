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
