"""Unit tests of the MySQL engine's pure parts: TLS policy, DEFINER stripping, collation mapping,
literal formatting and sanitising transforms (no database needed)."""

from __future__ import annotations

import re
import ssl

import pytest

from synco_core.dburl import parse_database_url
from synco_core.engines.mysql.connect import quote_name, quote_string, tls_settings
from synco_core.engines.mysql.literals import (
    Column,
    escape_carriage_returns,
    escape_text,
    format_raw,
    literal_sql,
    row_format,
)
from synco_core.engines.mysql.load import _COLLATION, map_collation
from synco_core.engines.mysql.sanitize import transform_sql
from synco_core.engines.mysql.schema import strip_definer
from synco_core.errors import ConfigError
from synco_core.values import DatabaseConfig, SanitizeRule


def db(host: str | None = "db.example.com", **options: str) -> DatabaseConfig:
    return DatabaseConfig(engine="mysql", name="app", host=host, options=options)


def test_tls_is_off_for_loopback_and_sockets() -> None:
    assert tls_settings(db("127.0.0.1")) == {"ssl_disabled": True}
    assert tls_settings(db("localhost")) == {"ssl_disabled": True}
    assert tls_settings(DatabaseConfig(engine="mysql", name="app", socket="/run/mysqld.sock")) == {"ssl_disabled": True}


def test_tls_is_preferred_elsewhere_and_never_verified_unless_asked() -> None:
    # A context makes PyMySQL upgrade whenever the server offers TLS (test_mysql_tls.py checks it on the wire).
    context = tls_settings(db())["ssl"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_NONE
    assert context.check_hostname is False
    assert tls_settings(db(sslmode="disable")) == {"ssl_disabled": True}


@pytest.mark.parametrize(("options", "verify", "hostname"), [
    ({"sslmode": "require"}, False, False),
    ({"sslmode": "verify-ca"}, True, False),
    ({"sslmode": "verify-full"}, True, True),
    ({"ssl-mode": "VERIFY_IDENTITY"}, True, True),
    ({"ssl_verify_cert": "true"}, True, False),
])
def test_tls_required_and_verified_when_asked(options: dict[str, str], verify: bool, hostname: bool) -> None:
    context = tls_settings(db(**options))["ssl"]
    assert isinstance(context, ssl.SSLContext)
    assert (context.verify_mode == ssl.CERT_REQUIRED) is verify
    assert context.check_hostname is hostname
    # Asked for on loopback too: the configuration wins.
    assert "ssl" in tls_settings(db("127.0.0.1", **options))


def test_strip_definer_variants() -> None:
    assert strip_definer(b"CREATE DEFINER=`root`@`localhost` TRIGGER t") == b"CREATE TRIGGER t"
    view = b"CREATE DEFINER='a b'@'%' VIEW v AS SELECT 'DEFINER=x'"
    assert strip_definer(view) == b"CREATE VIEW v AS SELECT 'DEFINER=x'"
    assert strip_definer(b"/*!50013 DEFINER=`admin`@`%` SQL SECURITY DEFINER */") == b"/*!50013 SQL SECURITY DEFINER */"
    assert strip_definer(b"CREATE DEFINER=CURRENT_USER PROCEDURE p()") == b"CREATE PROCEDURE p()"
    assert strip_definer(b"CREATE VIEW v AS SELECT 1") == b"CREATE VIEW v AS SELECT 1"


@pytest.mark.parametrize(("collation", "known", "expected"), [
    (b"utf8mb4_0900_ai_ci", set(), b"utf8mb4_unicode_520_ci"),
    (b"utf8mb4_0900_as_cs", set(), b"utf8mb4_bin"),
    (b"utf8mb4_0900_bin", set(), b"utf8mb4_bin"),
    (b"utf8mb4_de_pb_0900_ai_ci", set(), b"utf8mb4_unicode_520_ci"),
    (b"utf8mb3_0900_ai_ci", set(), b"utf8mb3_unicode_520_ci"),
    (b"utf8mb4_0900_ai_ci", {"utf8mb4_0900_ai_ci"}, b"utf8mb4_0900_ai_ci"),
    # NO PAD where the server has it; accents, case or kana told apart: binary.
    (b"utf8mb4_0900_ai_ci", {"utf8mb4_unicode_520_nopad_ci"}, b"utf8mb4_unicode_520_nopad_ci"),
    (b"utf8mb4_0900_as_ci", {"utf8mb4_nopad_bin"}, b"utf8mb4_nopad_bin"),
    (b"utf8mb4_ja_0900_as_cs_ks", set(), b"utf8mb4_bin"),
    (b"utf8mb3_0900_bin", {"utf8mb3_nopad_bin"}, b"utf8mb3_nopad_bin"),
])
def test_mysql8_collations_map_to_the_nearest(collation: bytes, known: set[str], expected: bytes) -> None:
    warnings: list[str] = []
    match = _COLLATION.search(b"COLLATE " + collation + b" NOT NULL")
    assert match is not None
    assert map_collation(match, known, set(), warnings.append) == expected
    assert len(warnings) == (0 if collation.decode() in known else 1)


def test_literal_sql_per_type() -> None:
    assert literal_sql(Column("n", "bigint")) == "IFNULL(`n`,'NULL')"
    assert "CAST(`f` AS DOUBLE)" in literal_sql(Column("f", "float"))
    assert "BIN(`b`+0)" in literal_sql(Column("b", "bit"))
    assert "CONCAT('_binary',QUOTE(`v`))" in literal_sql(Column("v", "varbinary"))
    assert "CONCAT('_binary',QUOTE(`g`))" in literal_sql(Column("g", "point"))
    assert literal_sql(Column("s", "varchar", "utf8mb4")) == "QUOTE(CAST(`s` AS BINARY))"
    assert literal_sql(Column("l", "varchar", "latin1")) == "QUOTE(CAST(CONVERT(`l` USING utf8mb4) AS BINARY))"
    assert literal_sql(Column("d", "datetime")) == "IFNULL(CONCAT('''',`d`,''''),'NULL')"
    assert literal_sql(Column("d", "date", nullable=False)) == "CONCAT('''',`d`,'''')"
    # NOT NULL columns need no NULL test, unless an expression (sanitising) replaces their value.
    assert literal_sql(Column("n", "bigint", nullable=False)) == "`n`"
    assert literal_sql(Column("n", "bigint", nullable=False), "(NULL)") == "IFNULL((NULL),'NULL')"
    assert literal_sql(Column("f", "float", nullable=False)) == "CAST(`f` AS DOUBLE)"
    assert literal_sql(Column("v", "varbinary", nullable=False)) == "CONCAT('_binary',QUOTE(`v`))"
    assert "CONCAT('_binary',QUOTE(`c`))" in literal_sql(Column("c", "char", "binary"))


def test_raw_formatting_matches_the_server_expressions() -> None:
    assert escape_text(b"a'b\\c\0d\x1ae\r\nf") == b"'a\\'b\\\\c\\0d\\Ze\r\nf'"
    assert format_raw(Column("b", "longblob"), b"\x00\xff\r") == b"_binary'\\0\xff\r'"
    assert escape_carriage_returns(b"(1,'a\r\n\\r')") == b"(1,'a\\r\n\\r')"
    assert format_raw(Column("b", "longblob"), b"") == b"_binary''"
    assert format_raw(Column("t", "longtext", "utf8mb4"), None) == b"NULL"


def test_row_format_fetches_large_columns_raw_and_skips_generated() -> None:
    fmt = row_format([Column("id", "int"), Column("big", "longblob"), Column("g", "int", generated=True),
                      Column("s", "varchar", "utf8mb4")])
    assert [c.name for c in fmt.columns] == ["id", "big", "s"]
    assert [r.name if r else None for r in fmt.raw] == [None, "big", None]
    assert fmt.select_list[1] == "`big`"


def test_transforms() -> None:
    def sql(transform: str, pk: tuple[str, ...] = ("id",)) -> str:
        return transform_sql(SanitizeRule("users", "email", transform=transform), pk, raw_key=True)

    assert sql("null") == "NULL"
    assert "CONCAT('user',`id`,'@example.invalid')" in sql("email")
    assert "CONCAT_WS('-',`a`,`b`)" in sql("email", ("a", "b"))
    assert "UUID()" in sql("email", ())
    assert "'it''s'" in sql("fixed:it's")
    assert sql("hash") == "SHA2(CONCAT(CAST(@synco_hash_key AS BINARY),`email`),256)", "the dump's key goes first"
    assert sql("truncate:5") == "LEFT(`email`,5)"
    with pytest.raises(ConfigError, match="unknown transform 'rot13'"):
        sql("rot13")
    assert transform_sql(SanitizeRule("t", "c", expression="LOWER(c)"), (), raw_key=True) == "LOWER(c)"


def test_quoting() -> None:
    assert quote_name("a`b") == "`a``b`"
    assert quote_string("it's \\") == "'it''s \\\\'"
    assert re.fullmatch(r"`.*`", quote_name("select"))


@pytest.mark.parametrize("url", ["mysql://u@localhost/app", "mysql://u@LOCALHOST:3306/app", "mysql://u@[::1]:3306/app",
                                 "mariadb://u@127.0.0.1/app", "mysql://u@127.0.0.2/app",
                                 "mysql://u@localhost/app?unix_socket=/run/mysqld/mysqld.sock"])
def test_loopback_hosts_and_sockets_count_as_local(url: str) -> None:
    assert parse_database_url(url).is_local()


def test_other_hosts_are_local_only_when_declared() -> None:
    database = parse_database_url("mysql://u@DB:3306/app")
    assert not database.is_local()
    assert database.is_local(("db",)) and database.is_local(("DB",))
    assert not parse_database_url("mysql://u@2130706433/app").is_local()  # 127.0.0.1 in disguise stays remote


@pytest.mark.parametrize("piece", [1, 2, 5, 1 << 20])
def test_literal_pieces_join_to_the_literal_and_its_checksum(piece: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Huge rows are written and checksummed from pieces (escaped slice by slice): joined, they are the
    row literal the ordinary way builds, and their running crc32 is its crc32."""
    import zlib

    from synco_core.engines.mysql import literals

    monkeypatch.setattr(literals, "PIECE_BYTES", piece)
    columns = [Column("id", "int"), Column("b", "longblob"), Column("t", "longtext", charset="utf8mb4"),
               Column("c", "mediumtext", charset="cp1250"), Column("v", "varbinary")]
    fmt = row_format(columns, raw_binary=True)
    every_byte = bytes(range(256)) * 3
    text = "é€😀'\\\0\x1a\r\n".encode() * 3
    rows: list[list[bytes | None]] = []
    for b, t, c_bytes, c_text, v in [(every_byte, text, None, b"plain", b"\x00'\\"),
                                     (None, None, b"\x81\\'", None, None), (b"", b"", None, b"", b"")]:
        row: list[bytes | None] = []
        for index, raw in enumerate(fmt.raw):
            if raw is None:
                row.append(b"(1," if index == 0 else b",")
            elif index in fmt.bytes_unless_text:
                row.append(c_bytes)
            else:
                row.append({"b": b, "t": t, "c": c_text, "v": v}[raw.name])
        row[-1] = b")"
        rows.append(row)
    for row in rows:
        whole = literals.assemble(row, fmt)
        pieces = literals.literal_pieces(row, fmt)
        assert whole is not None and pieces is not None
        assert b"".join(pieces) == whole
        assert literals.pieces_checksum(literals.literal_pieces(row, fmt) or iter(())) == zlib.crc32(whole)
    unformatted = [*rows[0][:-1], None]
    assert literals.literal_pieces(unformatted, fmt) is None and literals.assemble(unformatted, fmt) is None
