"""Shared helpers of the synco-neos tests: a Neos 8 copy on its own database, seeded like a real site.

The tables are reduced to the columns synco reads or rewrites, with Flow's own table and column names:
persistent resources (one duplicated content, one used only by a thumbnail, one shared by an asset and a
thumbnail, one of the static collection), assets, thumbnails, the Neos 8 event log, and the party and
account tables that hold personal data.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from synco_neos.resources import storage_key

FIXTURES = Path(__file__).parent / "fixtures"

Execute = Callable[[str, tuple[Any, ...]], None]


def sha(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


RESOURCE_DDL = (
    "CREATE TABLE neos_flow_resourcemanagement_persistentresource (persistence_object_identifier VARCHAR(40) "
    "NOT NULL PRIMARY KEY, sha1 VARCHAR(40) NOT NULL, filename VARCHAR(255) NOT NULL, collectionname VARCHAR(255) "
    "NOT NULL, filesize BIGINT NOT NULL, relativepublicationpath VARCHAR(255) NOT NULL DEFAULT '', "
    "mediatype VARCHAR(100) NOT NULL DEFAULT '')",
    "CREATE TABLE neos_media_domain_model_asset (persistence_object_identifier VARCHAR(40) NOT NULL PRIMARY KEY, "
    "resource VARCHAR(40) NULL, title VARCHAR(255) NOT NULL DEFAULT '')",
    "CREATE TABLE neos_media_domain_model_thumbnail (persistence_object_identifier VARCHAR(40) NOT NULL "
    "PRIMARY KEY, originalasset VARCHAR(40) NULL, resource VARCHAR(40) NULL, width INT NULL)",
    "CREATE TABLE neos_neos_eventlog_domain_model_event (uid INT PRIMARY KEY, eventtype VARCHAR(255), "
    "accountidentifier VARCHAR(255))",
)

#: (identifier, content, filename, collection); "thumb" is used only by a thumbnail, "shared" by both.
RESOURCES = [
    ("r-photo", b"photo bytes", "Photo 1.jpg", "persistent"),
    ("r-photo-copy", b"photo bytes", "photo-again.jpg", "persistent"),
    ("r-doc", b"a document", "doc.pdf", "persistent"),
    ("r-thumb", b"thumbnail bytes", "Photo 1-400x300.jpg", "persistent"),
    ("r-shared", b"shared bytes", "shared.png", "persistent"),
    ("r-static", b"static", "logo.svg", "static"),
]

#: Neos.Party and Flow security tables, reduced to the columns the sanitising profile names (plus keys).
PERSONAL_DDL = (
    "CREATE TABLE neos_party_domain_model_electronicaddress (persistence_object_identifier VARCHAR(40) NOT NULL "
    "PRIMARY KEY, identifier VARCHAR(255) NOT NULL, type VARCHAR(20) NOT NULL, usagetype VARCHAR(20) NULL, "
    "isapproved BOOLEAN NOT NULL)",
    "CREATE TABLE neos_party_domain_model_personname (persistence_object_identifier VARCHAR(40) NOT NULL "
    "PRIMARY KEY, title VARCHAR(255) NOT NULL, firstname VARCHAR(255) NOT NULL, middlename VARCHAR(255) NOT NULL, "
    "lastname VARCHAR(255) NOT NULL, othername VARCHAR(255) NOT NULL, alias VARCHAR(255) NOT NULL, "
    "fullname VARCHAR(255) NOT NULL)",
    "CREATE TABLE neos_flow_security_account (persistence_object_identifier VARCHAR(40) NOT NULL PRIMARY KEY, "
    "accountidentifier VARCHAR(255) NOT NULL, authenticationprovidername VARCHAR(255) NOT NULL, "
    "credentialssource VARCHAR(255) NULL, roleidentifiers TEXT NULL)",
)

#: The second account's password hash (the first one's is in PERSONAL_VALUES).
BEN_HASH = "bcrypt=>$2a$14$benshashbenshashbenshOa9S0nT7zQ5Qm0w5b3mZ9eJ1l2k3m4n5"

#: Values that must never leave the source with sanitising on.
PERSONAL_VALUES = ("ann@real.example", "+49 170 1234567", "Annemarie", "Quast", "Dr.", "Annie",
                   "Dr. Annemarie Quast", "ann.quast",
                   "bcrypt=>$2a$14$realhashrealhashrealhOa9S0nT7zQ5Qm0w5b3mZ9eJ1l2k3m4n5")


def seed(execute: Execute, project: Path, *, personal: bool = False, eventlog: bool = True) -> None:
    """The tables and rows above, and each resource's file in the project's storage folder.

    ``eventlog=False`` leaves out the Neos 8 event log (Neos 9 has none).
    """
    for statement in RESOURCE_DDL if eventlog else RESOURCE_DDL[:-1]:
        execute(statement, ())
    storage = project / "Data/Persistent/Resources"
    for identifier, content, filename, collection in RESOURCES:
        execute("INSERT INTO neos_flow_resourcemanagement_persistentresource (persistence_object_identifier, sha1, "
                "filename, collectionname, filesize) VALUES (%s, %s, %s, %s, %s)",
                (identifier, sha(content), filename, collection, len(content)))
        path = storage / storage_key(sha(content))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    execute("INSERT INTO neos_media_domain_model_asset VALUES ('a1', 'r-photo', 'Photo'), ('a2', 'r-doc', 'Doc'), "
            "('a3', 'r-shared', 'Shared')", ())
    execute("INSERT INTO neos_media_domain_model_thumbnail VALUES ('t1', 'a1', 'r-thumb', 400), "
            "('t2', 'a3', 'r-shared', 200), ('t3', 'a2', NULL, 100)", ())
    if eventlog:
        # Who published: the account's login (PERSONAL_VALUES' "ann.quast").
        execute("INSERT INTO neos_neos_eventlog_domain_model_event VALUES (1, 'Node.Published', 'ann.quast')", ())
    if personal:
        seed_personal(execute)


def seed_personal(execute: Execute) -> None:
    for statement in PERSONAL_DDL:
        execute(statement, ())
    email, phone, first, last, title, alias, full, login, hashed = PERSONAL_VALUES
    execute("INSERT INTO neos_party_domain_model_electronicaddress VALUES (%s, %s, 'Email', 'Work', TRUE), "
            "(%s, %s, 'Phone', 'Home', FALSE)", ("e1", email, "e2", phone))
    execute("INSERT INTO neos_party_domain_model_personname VALUES (%s, %s, %s, '', %s, '', %s, %s)",
            ("p1", title, first, last, alias, full))
    execute("INSERT INTO neos_flow_security_account VALUES (%s, %s, 'Neos.Neos:Backend', %s, "
            "'a:1:{i:0;s:27:\"Neos.Neos:Administrator\";}'), (%s, 'ben', 'Neos.Neos:Backend', %s, NULL)",
            ("acc1", login, hashed, "acc2", BEN_HASH))


def publish(project: Path) -> None:
    """What ``./flow resource:publish`` makes of the persistent resources with FileSystemSymlinkTarget."""
    published = project / "Web/_Resources/Persistent"
    for _identifier, content, filename, collection in RESOURCES:
        if collection != "persistent":
            continue
        link = published / storage_key(sha(content)) / filename
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.is_symlink():
            link.symlink_to(project / "Data/Persistent/Resources" / storage_key(sha(content)))


#: Per fixture: the placeholder of the database name, and the files (settings, ``flow`` stand-in) using it.
_DATABASE_NAME_SETTINGS = {
    "neos8": ("%env:DB_NAME%", ("flow", "Configuration/Development/Settings.yaml")),
    "neos9": ("%env:DATABASE_NAME%", ("flow", "Configuration/Settings.yaml")),
}


def neos_copy(fixture: str, root: Path, database: str) -> Path:
    """A copy of the ``neos8``/``neos9`` fixture at ``root`` whose database name is ``database``.

    The name is written into the settings (the YAML file and the ``flow`` stand-in that mirrors it), so
    two copies in one test can use two databases while host, port and user still come from the
    environment (``DB_*`` for Neos 8, ``DATABASE_*`` for Neos 9).
    """
    placeholder, files = _DATABASE_NAME_SETTINGS[fixture]
    root.parent.mkdir(parents=True, exist_ok=True)
    if not (root.parent / "flow-emulator.php").exists():
        shutil.copy(FIXTURES / "flow-emulator.php", root.parent / "flow-emulator.php")
    shutil.copytree(FIXTURES / fixture, root, symlinks=True)
    for relative in files:
        path = root / relative
        text = path.read_text()
        assert placeholder in text, f"{fixture}/{relative} no longer uses {placeholder}"
        path.write_text(text.replace(placeholder, database))
    assert os.access(root / "flow", os.X_OK)
    return root.resolve()


def neos8_copy(root: Path, database: str) -> Path:
    return neos_copy("neos8", root, database)
