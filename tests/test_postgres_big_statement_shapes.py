"""Every shape of big statement a PostgreSQL dump tool writes loads in bounded memory, as psql loads it.

PostgreSQL takes a statement in one message, so the loader holds a statement whole: about three times its size
at the peak (docs/engines.md), whatever its strings hold. It held ten times that for a 50 MB ``INSERT`` of
``pg_dump --inserts`` whose text had apostrophes (``''``): Python's regular expressions kept a step back for every
doubled quote of the string, and 24 times for an ``E''`` string with backslashes, whose value the gate made
escape by escape without needing it. ``COPY`` data is not a statement and is sent as it is read: flat.

Each shape at two sizes: the loader's peak resident size may grow by the statement held (at most four bytes a
byte of statement) and not at all for ``COPY``, compared between the sizes so that the check is of how it grows,
not of a number; and the rows must be those ``psql`` loads from the same file into another database.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from synco_core.testing.services import postgres_url_for, require_tool

#: The two sizes of the statement (or the COPY block), in bytes.
SIZES = (30 << 20, 90 << 20)
_PIECE = b"0123456789abcdef" * 4096
#: Runs ``synco db load`` in a child and prints its exit status and peak resident size (KiB) on the last line.
PEAK = """
import resource, subprocess, sys
done = subprocess.run([sys.executable, "-m", "synco_core", *sys.argv[1:]], capture_output=True, text=True)
sys.stdout.write(done.stdout + done.stderr)
print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def _repeated(text: bytes, size: int) -> bytes:
    return text * (size // len(text))


#: Each shape: what follows the table's creation, given the size, and whether it is a statement (held whole).
SHAPES: dict[str, tuple[Callable[[int], bytes], bool]] = {
    # pg_dump --inserts: a text with an apostrophe every 16 bytes.
    "inserts-apostrophes": (lambda size: b"INSERT INTO public.big VALUES (1, '"
                            + _repeated(_PIECE.replace(b"a", b"''"), size) + b"');\n", True),
    # An E'' string with backslash escapes (what older dumps and hand-written scripts hold).
    "escape-string": (lambda size: b"INSERT INTO public.big VALUES (1, E'"
                      + _repeated(_PIECE.replace(b"a", b"\\\\").replace(b"b", b"\\'"), size) + b"');\n", True),
    "dollar-quoted": (lambda size: b"INSERT INTO public.big VALUES (1, $x$"
                      + _repeated(_PIECE.replace(b"a", b"$").replace(b"b", b"'"), size) + b"$x$);\n", True),
    # pg_dump --inserts --rows-per-insert: many rows in one statement.
    "rows-per-insert": (lambda size: b"INSERT INTO public.big VALUES\n" + b",\n".join(
        b"(%d, 'it''s %s')" % (number, _PIECE) for number in range(size // len(_PIECE))) + b";\n", True),
    "copy-one-row": (lambda size: b"COPY public.big (id, data) FROM stdin;\n1\t"
                     + _repeated(_PIECE.replace(b"a", b"\\\\"), size) + b"\n\\.\n", False),
    "copy-rows": (lambda size: b"COPY public.big (id, data) FROM stdin;\n" + b"".join(
        b"%d\t%s\n" % (number, _PIECE) for number in range(size // len(_PIECE))) + b"\\.\n", False),
}


def _script(path: Path, shape: str, size: int) -> Path:
    path.write_bytes(b"CREATE TABLE public.big (id int PRIMARY KEY, data text);\n" + SHAPES[shape][0](size)
                     + b"SELECT 1;\n")
    return path


def _peak_kib(url: str, script: Path) -> int:
    done = subprocess.run([sys.executable, "-c", PEAK, "db", "load", url, str(script), "--yes"],
                          capture_output=True, text=True, timeout=900)
    *said, last = done.stdout.strip().splitlines()
    status, peak = (int(value) for value in last.split())
    assert status == 0, "\n".join(said)
    return peak


def _digest(url: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as connection:
        return connection.execute("SELECT id, length(data), md5(data) FROM public.big ORDER BY id").fetchall()


@pytest.mark.timeout(1200)  # an E'' string of 90 MiB takes half a minute of CPU to read, and psql loads it too
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_a_big_statement_is_held_at_most_a_few_times_and_loads_as_psql_loads_it(
        shape: str, postgres_database_factory: Callable[[], str], tmp_path: Path) -> None:
    psql = require_tool("psql", "postgresql-client")
    peaks: list[int] = []
    for size in SIZES:
        script = _script(tmp_path / f"{shape}.sql", shape, size)
        try:
            synco_url, psql_url = (postgres_url_for(postgres_database_factory()) for _ in range(2))
            peaks.append(_peak_kib(synco_url, script))
            subprocess.run([psql, "-q", "-X", "-v", "ON_ERROR_STOP=1", "-d", psql_url, "-f", str(script)],
                           check=True, capture_output=True, timeout=900)
            loaded = _digest(synco_url)
            assert loaded == _digest(psql_url)
            assert loaded
        finally:
            script.unlink()
    grown = (peaks[1] - peaks[0]) * 1024 / (SIZES[1] - SIZES[0])
    print(f"{shape}: peak {peaks[0] >> 10} MiB at {SIZES[0] >> 20} MiB, {peaks[1] >> 10} MiB at {SIZES[1] >> 20} MiB: "
          f"{grown:.2f} bytes a byte of statement")
    if SHAPES[shape][1]:
        # Held whole: the read buffer and the statement cut from it, then the statement and libpq's message.
        assert grown < 4.5, f"{shape}: the peak grew by {grown:.2f} bytes a byte of the statement"
    else:
        assert grown < 0.15, f"{shape}: the peak grew by {grown:.2f} bytes a byte of the COPY data"
