"""Receive of a session whose JSON a compromised server made nested too deep, or with a number too long.

Python's JSON parser raised RecursionError and a bare ValueError for these, which no handler of receive
took for malformed JSON: the user saw ``Error: RecursionError: maximum recursion depth exceeded ...``.
The parsers themselves are fuzzed in tests/fuzz; this is what the user sees, end to end.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from crafted_session import CraftedServer, CraftedSession, error_lines, run_receive

DEEP = "[" * 5000 + "]" * 5000
LONG = "9" * 5000


@pytest.mark.parametrize("meta", [DEEP, '{"state": "Ready", "expiresAt": ' + LONG + "}"], ids=["deep", "long-number"])
def test_a_meta_no_parser_reads_is_malformed_in_one_line(
    meta: str, crafted: CraftedSession, crafted_server: Callable[..., CraftedServer], tmp_path: Path
) -> None:
    crafted.write_meta(meta.encode())
    result = run_receive(crafted, crafted_server(crafted.web_root).url, tmp_path / "target")
    assert result.exit_code == 1, result.output
    assert error_lines(result.output) == [
        f"Error: malformed meta: not JSON ({'nested too deeply' if meta == DEEP else 'a number too long to read'})"
    ]
    assert "Traceback" not in result.output and "RecursionError" not in result.output


@pytest.mark.parametrize("value", [DEEP, LONG], ids=["deep", "long-number"])
def test_an_index_entry_no_parser_reads_fails_its_set_in_one_line(
    value: str, crafted: CraftedSession, crafted_server: Callable[..., CraftedServer], tmp_path: Path
) -> None:
    index = '{\n"a.txt":{"sizeBytes":1,"mTime":1,"publicUri":"a.txt","x":' + value + "}\n}\n"
    written = crafted.artifact("Resources-public.index.json.enc", index.encode(), compress=True)
    info = {
        "indexFileName": written.name,
        "sizeBytes": 1,
        "compression": "zstd",
        "fileCount": 1,
        "encryptedSizeBytes": written.encrypted_size,
        "indexSizeBytes": written.plain_size,
        "relativeBasePath": "public",
        "indexFormat": 2,
    }
    crafted.ready({"name": "public", "type": "PublicFiles", "publicFiles": info})
    result = run_receive(crafted, crafted_server(crafted.web_root).url, tmp_path / "target")
    assert result.exit_code == 1, result.output
    assert "malformed public files index: not JSON" in result.output, result.output
    assert "Traceback" not in result.output and "RecursionError" not in result.output
    assert not (tmp_path / "target" / "public" / "a.txt").exists()


@pytest.mark.parametrize("value", [DEEP, '{"serverVersion": ' + LONG + "}"], ids=["deep", "long-number"])
def test_a_dump_header_no_parser_reads_is_malformed_in_one_line(value: str, tmp_path: Path) -> None:
    # db load reads a dump's `-- synco-requires:` line before any change; a dump is anyone's text.
    import sqlite3

    from click.testing import CliRunner

    from synco_core.cli.main import cli
    from synco_core.dumpheader import REQUIRES_PREFIX

    database = tmp_path / "app.db"
    with sqlite3.connect(database) as conn:
        conn.execute("CREATE TABLE kept (id INTEGER)")
    before = database.read_bytes()
    dump = tmp_path / "dump.sql"
    dump.write_bytes(REQUIRES_PREFIX + value.encode() + b"\nCREATE TABLE t (id INTEGER);\n")
    result = CliRunner().invoke(cli, ["db", "load", f"sqlite:///{database}", str(dump), "--yes"])
    assert result.exit_code == 1, result.output
    lines = error_lines(result.output)
    assert len(lines) == 1 and lines[0].startswith("Error: malformed -- synco-requires line of the dump "), lines
    assert ("nested too deeply" if value == DEEP else "a number too long to read") in lines[0]
    assert "Traceback" not in result.output and "RecursionError" not in result.output
    assert database.read_bytes() == before
