"""End to end: serve -> receive -> install, Neos 8 on the real MariaDB and Neos 9 on the real PostgreSQL.

The source copy's ``Web/`` is served by a real HTTP server on 127.0.0.1, as a production web server
would, with the persistent resources published into ``Web/_Resources/Persistent`` as symlinks (what
``./flow resource:publish`` makes with FileSystemSymlinkTarget). ``serve --keep`` publishes the session
there and exits; ``receive`` downloads it and ``install`` puts it into a second copy with its own, empty
database. Run with PHP (settings from ``./flow``) and without (settings read from the files), with the
smart transfer and sanitising on (the default), with ``--all``, and with ``--no-sanitize``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from neos_support import BEN_HASH, PERSONAL_VALUES, RESOURCES, neos8_copy, neos_copy, publish, seed, sha
from synco_neos import plugin
from synco_neos.resources import storage_key
from synco_neos.sanitize import PASSWORD_HASH

from synco_core.testing.services import (
    MYSQL_HOST,
    MYSQL_PASSWORD,
    MYSQL_PORT,
    MYSQL_USER,
    POSTGRES_HOST,
    POSTGRES_USER,
    mysql_admin_connection,
    postgres_admin_connection,
    serve_receive_install,
)

RESOURCE_TABLE = "neos_flow_resourcemanagement_persistentresource"


def _query(database: str, sql: str) -> list[tuple[Any, ...]]:
    conn = mysql_admin_connection(database)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return [tuple(row) for row in cur.fetchall()]
    finally:
        conn.close()


@pytest.mark.mysql
@pytest.mark.slow
@pytest.mark.parametrize("serve_args", [(), ("--all",), ("--no-sanitize",)], ids=["smart", "all", "no-sanitize"])
def test_serve_receive_install_mysql(tmp_path: Path, php_mode: str, monkeypatch: pytest.MonkeyPatch,
                                     register_plugin: Callable[[object, str], None],
                                     mysql_database_factory: Callable[[], str],
                                     web_server: Callable[[Path], str], serve_args: tuple[str, ...]) -> None:
    register_plugin(plugin, "neos")
    for name, value in {"DB_HOST": MYSQL_HOST, "DB_PORT": str(MYSQL_PORT), "DB_USER": MYSQL_USER,
                        "DB_PASSWORD": MYSQL_PASSWORD}.items():
        monkeypatch.setenv(name, value)
    source_db, target_db = mysql_database_factory(), mysql_database_factory()
    source = neos8_copy(tmp_path / "source/neos8", source_db)
    target = neos8_copy(tmp_path / "target/neos8", target_db)
    conn = mysql_admin_connection(source_db)
    try:
        seed(lambda sql, args: conn.cursor().execute(sql, args or None), source, personal=True)
    finally:
        conn.close()
    publish(source)

    serve_receive_install(source, web_server(source / "Web"), tmp_path / "received", target, serve_args)

    smart = "--all" not in serve_args
    counts = {table: _query(target_db, f"SELECT COUNT(*) FROM {table}")[0][0]
              for table in (RESOURCE_TABLE, "neos_media_domain_model_asset", "neos_media_domain_model_thumbnail",
                            "neos_neos_eventlog_domain_model_event")}
    assert counts == {
        RESOURCE_TABLE: 5 if smart else 6,  # smart: all but the resource only a thumbnail uses
        "neos_media_domain_model_asset": 3,
        "neos_media_domain_model_thumbnail": 0 if smart else 3,
        "neos_neos_eventlog_domain_model_event": 0 if smart else 1,
    }
    storage = target / "Data/Persistent/Resources"
    for identifier, content, _filename, collection in RESOURCES:
        stored = storage / storage_key(sha(content))
        if collection != "persistent" or (smart and identifier == "r-thumb"):
            assert not stored.exists(), f"{identifier} must not arrive"
        else:
            assert stored.read_bytes() == content, identifier
    # Only Flow's layout lands in the storage folder: no "Resources/Resources", nothing of the session.
    assert {p.name for p in storage.iterdir()} == {storage_key(sha(c))[0] for i, c, _f, col in RESOURCES
                                                   if col == "persistent" and (not smart or i != "r-thumb")}

    accounts = _query(target_db, "SELECT persistence_object_identifier, accountidentifier, credentialssource "
                                 "FROM neos_flow_security_account ORDER BY 1")
    dump = b"".join(p.read_bytes() for p in (tmp_path / "received").rglob("*") if p.is_file())
    if "--no-sanitize" in serve_args:
        # Raw personal data, as asked for (serve warned about it).
        assert accounts == [("acc1", PERSONAL_VALUES[7], PERSONAL_VALUES[8]), ("acc2", "ben", BEN_HASH)]
        assert PERSONAL_VALUES[0].encode() in dump
        return
    # Sanitising is on by default (with and without --all): the Neos profile masked the personal data.
    assert accounts == [("acc1", "useracc1@example.invalid", PASSWORD_HASH),
                        ("acc2", "useracc2@example.invalid", PASSWORD_HASH)]
    assert _query(target_db, "SELECT identifier FROM neos_party_domain_model_electronicaddress ORDER BY 1") == [
        ("usere1@example.invalid",), ("usere2@example.invalid",)]
    assert _query(target_db, "SELECT title, firstname, lastname, alias, fullname "
                             "FROM neos_party_domain_model_personname") == [("", "Demo", "User", "", "Demo User")]
    for value in PERSONAL_VALUES:
        assert value.encode() not in dump, f"{value!r} left the source"


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.parametrize("serve_args", [(), ("--all",)], ids=["smart", "all"])
def test_serve_receive_install_neos9_postgres(tmp_path: Path, php_mode: str, monkeypatch: pytest.MonkeyPatch,
                                              register_plugin: Callable[[object, str], None],
                                              postgres_database_factory: Callable[[], str],
                                              web_server: Callable[[Path], str],
                                              serve_args: tuple[str, ...]) -> None:
    """Neos 9 on PostgreSQL: thumbnails stay behind, the content repository's events always come along."""
    register_plugin(plugin, "neos")
    monkeypatch.setenv("DATABASE_HOST", POSTGRES_HOST)
    monkeypatch.setenv("DATABASE_USER", POSTGRES_USER)
    source_db, target_db = postgres_database_factory(), postgres_database_factory()
    source = neos_copy("neos9", tmp_path / "source/neos9", source_db)
    target = neos_copy("neos9", tmp_path / "target/neos9", target_db)
    conn = postgres_admin_connection(source_db)
    try:
        seed(lambda sql, args: conn.execute(sql, args or None), source, personal=True, eventlog=False)
        conn.execute("CREATE TABLE cr_default_events (sequencenumber BIGINT PRIMARY KEY, type VARCHAR(255))")
        conn.execute("INSERT INTO cr_default_events VALUES (1, 'NodeAggregateWithNodeWasCreated'), "
                     "(2, 'NodePropertiesWereSet')")
    finally:
        conn.close()
    publish(source)

    serve_receive_install(source, web_server(source / "Web"), tmp_path / "received", target, serve_args)

    smart = not serve_args
    conn = postgres_admin_connection(target_db)
    try:
        def count(table: str) -> int:
            row = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
            assert row is not None
            return int(row[0])

        assert count("cr_default_events") == 2  # the content: never left out
        assert count(RESOURCE_TABLE) == (5 if smart else 6)
        assert count("neos_media_domain_model_thumbnail") == (0 if smart else 3)
        accounts = conn.execute("SELECT accountidentifier, credentialssource FROM neos_flow_security_account "
                                "ORDER BY 1").fetchall()
    finally:
        conn.close()
    assert [tuple(a) for a in accounts] == [("useracc1@example.invalid", PASSWORD_HASH),
                                            ("useracc2@example.invalid", PASSWORD_HASH)]
    storage = target / "Data/Persistent/Resources"
    for identifier, content, _filename, collection in RESOURCES:
        stored = storage / storage_key(sha(content))
        if collection != "persistent" or (smart and identifier == "r-thumb"):
            assert not stored.exists(), f"{identifier} must not arrive"
        else:
            assert stored.read_bytes() == content, identifier
