"""Personal data Craft CMS keeps beyond the e-mail address and password of its accounts: their names, the search
index (which repeats every indexed attribute of every element: accounts' addresses and names, addresses,
orders), Commerce's order notes and order history, and Craft 3 Commerce's own address table.

Markers (``pii...``, addresses in 203.0.113.0/24) are planted in the tables as Craft's install migration makes
them, on MySQL and PostgreSQL (whose search index also keeps a text search vector); after a dump as ``serve``
makes it (with and without ``--all``) none is left, content's keywords stay, and the dump loads.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from synco_core import Framework
from synco_core.testing import SyncoPluginManager, assert_no_markers, dump_as_served
from synco_core.testing.services import database_from_script, install_into_empty_copy


def schema(engine: str) -> list[str]:
    slash = "\\\\" if engine == "mysql" else "\\"
    element = {name: f"craft{slash}elements{slash}{name}" for name in ("User", "Entry", "Address")}
    blob = "bytea" if engine == "postgresql" else "BLOB"
    vector = ', "keywords_vector" tsvector NOT NULL' if engine == "postgresql" else ""
    vectors = ([", to_tsvector('simple', 'pii-ann real example')", ", to_tsvector('simple', 'pii-Ann')",
                ", to_tsvector('simple', 'kept-title')", ", to_tsvector('simple', 'pii-street')"]
               if engine == "postgresql" else ["", "", "", ""])
    return [
        """CREATE TABLE users (id INT PRIMARY KEY, username VARCHAR(255), "fullName" VARCHAR(255),
            "firstName" VARCHAR(255), "lastName" VARCHAR(255), email VARCHAR(255), password VARCHAR(255),
            "lastLoginAttemptIp" VARCHAR(45), "verificationCode" VARCHAR(255), "unverifiedEmail" VARCHAR(255))""",
        """INSERT INTO users VALUES (1, 'kept-admin', 'pii-Ann Example', 'pii-Ann', 'pii-Example',
            'pii-ann@real.example', '$2y$13$pii-hash', '203.0.113.6', 'pii-code', 'pii-new@real.example')""",
        "CREATE TABLE elements (id INT PRIMARY KEY, type VARCHAR(255) NOT NULL)",
        f"""INSERT INTO elements VALUES (1, '{element["User"]}'), (2, '{element["Entry"]}'),
            (3, '{element["Address"]}')""",
        f"""CREATE TABLE searchindex ("elementId" INT NOT NULL, attribute VARCHAR(25) NOT NULL, "fieldId" INT NOT NULL,
            "siteId" INT NOT NULL, keywords TEXT NOT NULL{vector},
            PRIMARY KEY ("elementId", attribute, "fieldId", "siteId"))""",
        f"""INSERT INTO searchindex VALUES (1, 'email', 0, 1, ' pii-ann real example '{vectors[0]}),
            (1, 'fullname', 0, 1, ' pii-ann '{vectors[1]}), (2, 'title', 0, 1, ' kept-title '{vectors[2]}),
            (3, 'addressline1', 0, 1, ' pii-street '{vectors[3]})""",
        """CREATE TABLE commerce_orders (id INT PRIMARY KEY, number VARCHAR(32), reference VARCHAR(255),
            email VARCHAR(255), "lastIp" VARCHAR(255), message TEXT)""",
        "INSERT INTO commerce_orders VALUES (5, 'n', 'kept-R1', 'pii-ann@real.example', '203.0.113.7', 'pii-note')",
        """CREATE TABLE commerce_orderhistories (id INT PRIMARY KEY, "orderId" INT NOT NULL, message TEXT)""",
        "INSERT INTO commerce_orderhistories VALUES (1, 5, 'pii-call the customer on 555')",
        f"CREATE TABLE cache (id CHAR(128) PRIMARY KEY, expire INT, data {blob})",
        "INSERT INTO cache VALUES ('user-1', 0, 'a:1:{s:5:\"email\";s:20:\"pii-ann@real.example\";}')",
        """CREATE TABLE templatecaches (id INT PRIMARY KEY, "cacheKey" VARCHAR(36) NOT NULL, body TEXT NOT NULL)""",
        "INSERT INTO templatecaches VALUES (1, 'account', '<p>Hello pii-Ann</p>')",
        """CREATE TABLE commerce_addresses (id INT PRIMARY KEY, "countryId" INT, "firstName" VARCHAR(255),
            "lastName" VARCHAR(255), address1 VARCHAR(255), city VARCHAR(255), "zipCode" VARCHAR(255),
            phone VARCHAR(255), "businessName" VARCHAR(255), "businessTaxId" VARCHAR(255))""",
        """INSERT INTO commerce_addresses VALUES (1, 41, 'pii-Ann', 'pii-Example', 'pii-street', 'pii-city',
            'pii-3000', 'pii-555', 'pii-business', 'pii-tax')""",
    ]


@pytest.mark.mysql
@pytest.mark.postgres
@pytest.mark.hook("default_dump_options")
@pytest.mark.parametrize("all_rows", [False, True], ids=["default", "serve-all"])
@pytest.mark.parametrize("engine", ["mysql", "postgresql"])
def test_no_personal_data_leaves(engine: str, all_rows: bool, craft_manager: SyncoPluginManager, tmp_path: Path,
                                 request: pytest.FixtureRequest) -> None:
    database = database_from_script(engine, schema(engine), request, tmp_path / "source.sqlite",
                                    mysql_sql_mode="ANSI_QUOTES")
    framework = Framework(name="Craft CMS", plugin="craftcms", project_dir=tmp_path, database=database)
    out = tmp_path / "dump.sql"
    result = dump_as_served(framework, out, all=all_rows, manager=craft_manager)
    dumped = out.read_bytes()
    assert_no_markers(dumped, kept=(b"kept-admin", b"kept-title", b"kept-R1"), in_blobs=True)
    install_into_empty_copy(database, out, result, request, tmp_path / "copy.sqlite", craft_manager)


def _elsewhere(statement: str, prefix: str) -> str:
    """``statement`` for the tables of another installation: ``prefix`` before each table it creates or fills."""
    return re.sub(r"^(\s*(?:CREATE TABLE|INSERT INTO)\s+)(\w+)", lambda m: m.group(1) + prefix + m.group(2), statement)


@pytest.mark.mysql
@pytest.mark.postgres
@pytest.mark.hook("default_dump_options")
@pytest.mark.parametrize(("engine", "configured", "other"), [
    ("mysql", {}, "craft2_"), ("mysql", {"tablePrefix": "cr_"}, ""), ("postgresql", {}, "craft2_"),
    ("postgresql", {}, "second."), ("postgresql", {"schema": "second"}, ""),
    ("postgresql", {"tablePrefix": "cr_"}, "second.old_")])
def test_another_installation_in_the_database_is_sanitised(engine: str, configured: dict[str, str], other: str,
                                                           craft_manager: SyncoPluginManager, tmp_path: Path,
                                                           request: pytest.FixtureRequest) -> None:
    """serve dumps the whole database (on PostgreSQL every schema): another Craft installation in it, under
    another table prefix or in another schema, is sanitised as the configured one is."""
    own = configured.get("tablePrefix", "")
    if configured.get("schema"):
        own = configured["schema"] + "." + own
    script = []
    for qualifier in {own, other}:
        if "." in qualifier:
            script.append(f"CREATE SCHEMA IF NOT EXISTS {qualifier.split('.')[0]}")
    script += [_elsewhere(s, other) for s in schema(engine)]
    script.append(_elsewhere("CREATE TABLE users (id INT PRIMARY KEY, username VARCHAR(255), email VARCHAR(255), "
                             'password VARCHAR(255), "verificationCode" VARCHAR(255))', own))
    database = database_from_script(engine, script, request, tmp_path / "source.sqlite", mysql_sql_mode="ANSI_QUOTES")
    framework = Framework(name="Craft CMS", plugin="craftcms", project_dir=tmp_path, database=database,
                          settings=configured)
    out = tmp_path / "dump.sql"
    dump_as_served(framework, out, manager=craft_manager)
    assert_no_markers(out.read_bytes(), kept=(b"kept-admin", b"kept-title", b"kept-R1"), in_blobs=True)
