"""Personal data and secrets Drupal keeps outside its field tables: login names that are e-mail addresses
(the E-mail Registration module makes them so), the TFA module's second factors in ``users_data``, the site's
private key and cron key in the state, the expirable store (forms being filled in, private drafts) and the
cache bins' serialized copies of accounts.

Markers (``pii...``) are planted in the tables as Drupal's schema creates them, on each engine; after a dump as
``serve`` makes it (with and without ``--all``) none is left, in text or in a blob's hexadecimal form, what is
not personal stays, and the dump loads into an empty database.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from synco_core import Framework
from synco_core.testing import SyncoPluginManager, assert_no_markers, dump_as_served
from synco_core.testing.services import database_from_script, install_into_empty_copy

BLOB = {"mysql": "LONGBLOB", "postgresql": "bytea", "sqlite": "BLOB"}


def schema(engine: str) -> list[str]:
    blob = BLOB[engine]
    return [
        """CREATE TABLE users_field_data (uid INT NOT NULL, langcode VARCHAR(12) NOT NULL, name VARCHAR(60) NOT NULL,
            pass VARCHAR(255), mail VARCHAR(254), init VARCHAR(254), PRIMARY KEY (uid, langcode),
            UNIQUE (name, langcode))""",
        """INSERT INTO users_field_data VALUES (0, 'en', '', NULL, NULL, NULL),
            (1, 'en', 'kept-admin', '$2y$10$pii-hash', 'pii-admin@real.example', 'pii-admin@real.example'),
            (2, 'en', 'pii-ann@real.example', '$2y$10$pii-ann', 'pii-ann@real.example', 'pii-ann@real.example'),
            (2, 'de', 'pii-ann@real.example', '$2y$10$pii-ann', 'pii-ann@real.example', 'pii-ann@real.example')""",
        f"""CREATE TABLE users_data (uid INT NOT NULL, module VARCHAR(50) NOT NULL, name VARCHAR(128) NOT NULL,
            value {blob}, serialized SMALLINT, PRIMARY KEY (uid, module, name))""",
        """INSERT INTO users_data VALUES (2, 'tfa', 'tfa_totp_seed', 'a:1:{s:4:"seed";s:8:"pii-seed";}', 1),
            (2, 'tfa', 'tfa_recovery_code', 'pii-codes', 0), (2, 'contact', 'enabled', 'kept-contact', 0)""",
        f"""CREATE TABLE key_value (collection VARCHAR(128) NOT NULL, name VARCHAR(128) NOT NULL, value {blob} NOT
            NULL, PRIMARY KEY (collection, name))""",
        """INSERT INTO key_value VALUES ('state', 'system.private_key', 's:12:"pii-private1";'),
            ('state', 'system.cron_key', 's:8:"pii-cron";'), ('state', 'kept.cron_last', 's:11:"kept-state1";')""",
        f"""CREATE TABLE key_value_expire (collection VARCHAR(128) NOT NULL, name VARCHAR(128) NOT NULL,
            value {blob} NOT NULL, expire INT NOT NULL, PRIMARY KEY (collection, name))""",
        """INSERT INTO key_value_expire VALUES ('tempstore.private.node_preview', 'x', 's:9:"pii-draft";', 2147483647),
            ('form', 'form-1', 's:21:"pii-typed@real.example";', 2147483647)""",
        f"""CREATE TABLE cache_entity (cid VARCHAR(255) PRIMARY KEY, data {blob}, expire INT NOT NULL,
            serialized SMALLINT NOT NULL, tags TEXT, checksum VARCHAR(255) NOT NULL)""",
        """INSERT INTO cache_entity VALUES ('values:user:2', 'O:4:"User":1:{s:4:"mail";s:20:"pii-ann@real.example";}',
            -1, 1, '', '0')""",
        "CREATE TABLE node_field_data (nid INT NOT NULL, langcode VARCHAR(12) NOT NULL, title VARCHAR(255) NOT NULL)",
        "INSERT INTO node_field_data VALUES (1, 'en', 'kept-title')",
    ]


@pytest.mark.mysql
@pytest.mark.postgres
@pytest.mark.hook("default_dump_options")
@pytest.mark.parametrize("all_rows", [False, True], ids=["default", "serve-all"])
@pytest.mark.parametrize("engine", ["mysql", "postgresql", "sqlite"])
def test_no_personal_data_or_secret_leaves(engine: str, all_rows: bool, drupal_manager: SyncoPluginManager,
                                           tmp_path: Path, request: pytest.FixtureRequest) -> None:
    database = database_from_script(engine, schema(engine), request, tmp_path / "source.sqlite")
    framework = Framework(name="Drupal", plugin="drupal", project_dir=tmp_path, database=database,
                          settings={"root": str(tmp_path), "site_path": "sites/default", "version": "10.3.0"})
    out = tmp_path / "dump"
    result = dump_as_served(framework, out, all=all_rows, manager=drupal_manager)
    dumped = out.read_bytes()
    assert_no_markers(dumped, kept=(b"kept-admin", b"kept-title"), in_blobs=True)
    for kept in (b"kept-contact", b"kept-state1"):
        assert kept in dumped or kept.hex().encode() in dumped.lower(), f"{kept!r} is not a secret and must stay"
    install_into_empty_copy(database, out, result, request, tmp_path / "copy.sqlite", drupal_manager)
