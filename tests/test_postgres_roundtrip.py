"""PostgreSQL round trips on the real server: synco dump -> synco load, psql and pg_dump interoperability."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from test_postgres_support import (
    CHINOOK,
    FIDELITY,
    cli_round_trip,
    fingerprints,
    load_fixture,
    pg_dump_plain,
    psql_load,
    require,
    schema_dump,
    sequences,
)

from synco_core.dburl import parse_database_url
from synco_core.engines.dispatch import dump_with_engine, install_with_engine
from synco_core.testing.services import postgres_url_for, unavailable
from synco_core.values import DumpOptions, DumpResult, InstallOptions

pytestmark = pytest.mark.postgres


def dump_to(url: str, path: Path, options: DumpOptions | None = None) -> DumpResult:
    with path.open("wb") as out:
        return dump_with_engine(parse_database_url(url), out, options or DumpOptions())


def install_from(url: str, path: Path, result: DumpResult | None = None) -> None:
    options = InstallOptions(yes=True, manifest=result.tables if result else {})
    with path.open("rb") as dump:
        install_with_engine(parse_database_url(url), dump, options)


def test_chinook_round_trip_through_the_cli(postgres_database_factory: Callable[[], str], tmp_path: Path,
                                            plugin_manager: object) -> None:
    source, target = postgres_database_factory(), postgres_database_factory()
    load_fixture(postgres_url_for(source), CHINOOK)
    assert "Dumped 11 tables, 15607 rows" in cli_round_trip(source, target, tmp_path / "chinook.sql")
    assert sequences(postgres_url_for(target)) == sequences(postgres_url_for(source))
    assert fingerprints(postgres_url_for(target)) == fingerprints(postgres_url_for(source))
    assert schema_dump(target) == schema_dump(source)


def test_our_dump_loads_with_psql(postgres_database_factory: Callable[[], str], tmp_path: Path,
                                  plugin_manager: object) -> None:
    source, target = postgres_database_factory(), postgres_database_factory()
    load_fixture(postgres_url_for(source), FIDELITY)
    dump = tmp_path / "dump.sql"
    dump_to(postgres_url_for(source), dump, DumpOptions(secrets=True))
    loaded = psql_load(target, dump)
    assert loaded.returncode == 0, loaded.stderr

    assert fingerprints(postgres_url_for(target)) == fingerprints(postgres_url_for(source))
    assert sequences(postgres_url_for(target)) == sequences(postgres_url_for(source))
    assert schema_dump(target) == schema_dump(source)


def test_pg_dump_output_loads_with_our_loader(postgres_database_factory: Callable[[], str], tmp_path: Path,
                                              plugin_manager: object) -> None:
    source, target = postgres_database_factory(), postgres_database_factory()
    load_fixture(postgres_url_for(source), FIDELITY)
    dump = tmp_path / "pg_dump.sql"
    pg_dump_plain(source, dump)
    if _writes_restrict(_pg_dump_version()):
        assert re.search(rb"^\\restrict \w+$", dump.read_bytes(), re.M)
        assert re.search(rb"^\\unrestrict \w+$", dump.read_bytes(), re.M)
    install_from(postgres_url_for(target), dump)

    assert fingerprints(postgres_url_for(target)) == fingerprints(postgres_url_for(source))
    assert sequences(postgres_url_for(target)) == sequences(postgres_url_for(source))
    assert schema_dump(target) == schema_dump(source)


def test_dump_and_load_run_without_postgresql_client_tools(postgres_database_factory: Callable[[], str],
                                                           tmp_path: Path) -> None:
    """The source host has no pg_dump: the installed ``synco`` dumps and loads with no PATH to any client."""
    synco = Path(sys.executable).parent / "synco"
    if not synco.exists():
        unavailable(f"no installed synco script next to {sys.executable}")
    empty = tmp_path / "bin"
    empty.mkdir()
    env = {**os.environ, "PATH": str(empty)}
    assert shutil.which("pg_dump", path=env["PATH"]) is None and shutil.which("psql", path=env["PATH"]) is None
    source, target = postgres_database_factory(), postgres_database_factory()
    load_fixture(postgres_url_for(source), FIDELITY)
    dump = tmp_path / "dump.sql"

    def synco_run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(synco), *args], env=env, capture_output=True, text=True, check=False,
                              stdin=subprocess.DEVNULL, cwd=tmp_path)

    dumped = synco_run("db", "dump", postgres_url_for(source), "-o", str(dump))
    assert dumped.returncode == 0, dumped.stderr
    loaded = synco_run("db", "load", postgres_url_for(target), str(dump), "--yes")
    assert loaded.returncode == 0, loaded.stderr
    assert fingerprints(postgres_url_for(target)) == fingerprints(postgres_url_for(source))
    assert sequences(postgres_url_for(target)) == sequences(postgres_url_for(source))


def _pg_dump_version() -> tuple[int, int]:
    output = subprocess.run([require("pg_dump"), "--version"], capture_output=True, text=True, check=True).stdout
    match = re.search(r"(\d+)\.(\d+)", output)
    assert match, output
    return int(match[1]), int(match[2])


def _writes_restrict(version: tuple[int, int]) -> bool:
    """pg_dump writes \\restrict / \\unrestrict from these minor releases on (CVE-2025-8714)."""
    first = {13: 22, 14: 19, 15: 14, 16: 10, 17: 6}
    major, minor = version
    return major >= 18 or (major in first and minor >= first[major])
