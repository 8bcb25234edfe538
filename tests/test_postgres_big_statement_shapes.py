"""Every shape of big statement a PostgreSQL dump tool writes loads in bounded memory, as psql loads it.

PostgreSQL takes a statement in one message, so the loader holds a statement whole: about three times its size
at the peak (docs/engines.md), whatever its strings hold. It held ten times that for a 50 MB ``INSERT`` of
``pg_dump --inserts`` whose text had apostrophes (``''``): Python's regular expressions kept a step back for every
doubled quote of the string, and 24 times for an ``E''`` string with backslashes, whose value the gate made
escape by escape without needing it. ``COPY`` data is not a statement and is sent as it is read: flat.

Each shape at two sizes: the loader's peak resident size may grow by the statement held (at most four bytes a
byte of statement) and not at all for ``COPY``, compared between the sizes so that the check is of how it grows,
not of a number; and the rows must be those the script holds, at both sizes, which are those ``psql`` loads
from the smaller file into another database.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from synco_core.testing.services import postgres_url_for, require_tool

#: The two sizes of a statement, in bytes: a statement held whole grows by about three bytes a byte, 10 with the
#: doubled quotes' bug, 24 with the E'' string's; the allocator's noise is a MiB or two (under 0.1 a byte here).
SIZES = (10 << 20, 30 << 20)
#: The two sizes of a COPY block: it may not grow at all (under 0.15 bytes a byte), so the difference between
#: the sizes is larger, for the noise (5 MiB seen) to stay well below that; held whole it would grow as a
#: statement. COPY is cheap to read: the larger size costs little.
COPY_SIZES = (10 << 20, 90 << 20)
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


def _expected(shape: str, size: int) -> list[tuple[object, ...]]:
    """The rows the script of ``shape`` at ``size`` holds, as :func:`_digest` reads them."""
    def row(number: int, data: bytes) -> tuple[object, ...]:
        return number, len(data), hashlib.md5(data).hexdigest()

    def one(written: bytes, plain: bytes) -> list[tuple[object, ...]]:
        return [row(1, plain * (size // len(written)))]

    if shape in ("rows-per-insert", "copy-rows"):
        value = b"it's " + _PIECE if shape == "rows-per-insert" else _PIECE
        middle = row(0, value)[1:]
        return [(number, *middle) for number in range(size // len(_PIECE))]
    return {
        "inserts-apostrophes": lambda: one(_PIECE.replace(b"a", b"''"), _PIECE.replace(b"a", b"'")),
        "escape-string": lambda: one(_PIECE.replace(b"a", b"\\\\").replace(b"b", b"\\'"),
                                     _PIECE.replace(b"a", b"\\").replace(b"b", b"'")),
        "dollar-quoted": lambda: one(_PIECE, _PIECE.replace(b"a", b"$").replace(b"b", b"'")),
        "copy-one-row": lambda: one(_PIECE.replace(b"a", b"\\\\"), _PIECE.replace(b"a", b"\\")),
    }[shape]()


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


@pytest.mark.timeout(1200)  # an E'' string of 30 MiB takes ten seconds of CPU to read, on a loaded machine more
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_a_big_statement_is_held_at_most_a_few_times_and_loads_as_psql_loads_it(
        shape: str, postgres_database_factory: Callable[[], str], tmp_path: Path) -> None:
    psql = require_tool("psql", "postgresql-client")
    peaks: list[int] = []
    sizes = SIZES if SHAPES[shape][1] else COPY_SIZES
    for size in sizes:
        script = _script(tmp_path / f"{shape}.sql", shape, size)
        try:
            synco_url = postgres_url_for(postgres_database_factory())
            peaks.append(_peak_kib(synco_url, script))
            loaded = _digest(synco_url)
            assert loaded == _expected(shape, size), f"{shape}: synco loaded other rows at {size >> 20} MiB"
            if size == sizes[0]:
                # psql loads the smaller file only: the rows it loads are those expected (so the expected rows
                # of the larger file are psql's too), at a quarter of the cost.
                psql_url = postgres_url_for(postgres_database_factory())
                subprocess.run([psql, "-q", "-X", "-v", "ON_ERROR_STOP=1", "-d", psql_url, "-f", str(script)],
                               check=True, capture_output=True, timeout=900)
                assert _digest(psql_url) == loaded, f"{shape}: psql loaded other rows"
            assert loaded
        finally:
            script.unlink()
    grown = (peaks[1] - peaks[0]) * 1024 / (sizes[1] - sizes[0])
    print(f"{shape}: peak {peaks[0] >> 10} MiB at {sizes[0] >> 20} MiB, {peaks[1] >> 10} MiB at {sizes[1] >> 20} MiB: "
          f"{grown:.2f} bytes a byte of statement")
    if SHAPES[shape][1]:
        # Held whole: the read buffer and the statement cut from it, then the statement and libpq's message.
        assert grown < 4.5, f"{shape}: the peak grew by {grown:.2f} bytes a byte of the statement"
    else:
        assert grown < 0.15, f"{shape}: the peak grew by {grown:.2f} bytes a byte of the COPY data"
