"""MySQL's ``SHA2(value, bits)`` in the SQLite engine's sanitising expressions.

A framework plugin writes one expression for a site on MySQL and the same site on SQLite (WordPress with the
SQLite Database Integration plugin derives order keys with ``SHA2``): the copy must get the same values on both,
so the function answers as MySQL's does (hex digest of the text's UTF-8 bytes, NULL for NULL or for a length
MySQL does not know, 0 meaning 256).
"""

from __future__ import annotations

import hashlib
import io
import sqlite3
from pathlib import Path

import pytest

from synco_core.engines.dispatch import dump_with_engine
from synco_core.values import DatabaseConfig, DumpOptions, SanitizeRule


@pytest.mark.parametrize(("bits", "digest"), [
    (256, hashlib.sha256), (0, hashlib.sha256), (224, hashlib.sha224), (384, hashlib.sha384),
    (512, hashlib.sha512), (128, None)])
def test_sha2_in_a_sanitising_expression_answers_as_mysql(tmp_path: Path, bits: int, digest: object) -> None:
    source = tmp_path / "site.sqlite"
    conn = sqlite3.connect(source)
    conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, order_key TEXT, n TEXT)")
    conn.executemany("INSERT INTO orders (order_key, n) VALUES (?, ?)",
                     [("wc_order_AbC123", 7), ("clé-ü", 8.5), (None, "nine")])
    conn.commit()
    conn.close()
    options = DumpOptions(sanitize=(
        SanitizeRule("orders", "order_key", expression=f"SHA2(order_key, {bits})"),
        SanitizeRule("orders", "n", expression="SUBSTR(SHA2(n, 256), 1, 8)")))
    out = io.BytesIO()
    dump_with_engine(DatabaseConfig(engine="sqlite", name=str(source)), out, options)
    shipped = tmp_path / "shipped.sqlite"
    shipped.write_bytes(out.getvalue())
    rows = sqlite3.connect(shipped).execute("SELECT order_key, n FROM orders ORDER BY id").fetchall()
    expected = [None if digest is None else digest(text.encode()).hexdigest()  # type: ignore[operator]
                for text in ("wc_order_AbC123", "clé-ü")]
    assert [key for key, _ in rows] == [*expected, None]
    assert [n for _, n in rows] == [hashlib.sha256(str(n).encode()).hexdigest()[:8] for n in ("7", "8.5", "nine")]
