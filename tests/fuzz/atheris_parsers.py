"""Coverage-guided fuzzing of receive's parsers with atheris, run by hand (not collected by pytest).

The hypothesis tests beside this file run in CI; this drives the same parsers with libFuzzer's mutations,
guided by which branches of synco's code each input reaches. It found the Go v2 index key whose URL
urlsplit cannot read (``http://[::1/``) on its own. Usage::

    pip install atheris
    python tests/fuzz/atheris_parsers.py TARGET CORPUS_FOLDER [libFuzzer options, e.g. -max_total_time=300]

TARGET is one of :data:`TARGETS`. An input that raises anything but a ``SyncoError`` (or, for ``zstd``, the
decompressor's own ``ZstdError``) is a finding: libFuzzer writes it to ``crash-*`` and stops.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import sys
import tempfile
from pathlib import Path

import atheris  # type: ignore[import-not-found]

with atheris.instrument_imports():
    import zstandard

    from synco_core import wire
    from synco_core.age import header as age_header
    from synco_core.age import recipients
    from synco_core.errors import SyncoError
    from synco_core.index import stream
    from synco_core.pull.frames import decode_json
    from synco_core.receive import limits, tarsafe
    from synco_core.receive.session import _State

SCRATCH = Path(tempfile.mkdtemp(prefix="synco-atheris-"))
IDENTITY = recipients.X25519Identity.generate()
SCRYPT = recipients.ScryptIdentity("passphrase", max_work_factor=4)


def _index(data: bytes, index_format: int | None) -> None:
    for _ in stream.read_index(io.BufferedReader(io.BytesIO(data)), index_format, spill_dir=SCRATCH):
        pass


def _age(data: bytes) -> None:
    header = age_header.parse_header(io.BytesIO(data))
    IDENTITY.unwrap(header.stanzas)
    SCRYPT.unwrap(header.stanzas)


def _zstd(data: bytes) -> None:
    try:
        reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data), read_size=65536)
        limits.read_capped(reader, 1 << 20, "fuzzed frame")
    except zstandard.ZstdError:
        pass


def _tar(data: bytes) -> None:
    shutil.rmtree(SCRATCH / "set", ignore_errors=True)
    tarsafe.extract_stream(io.BytesIO(data), SCRATCH / "set")


def _record(data: bytes) -> None:
    (SCRATCH / ".synco-received.json").write_bytes(data)
    _State(SCRATCH)


TARGETS = {
    "meta": wire.Meta.from_bytes,
    "packs": wire.pack_table_from_bytes,
    "index": wire.public_index_from_bytes,
    "lines": lambda data: _index(data, wire.INDEX_FORMAT_LINES),
    "legacy": lambda data: _index(data, None),
    "age": _age,
    "zstd": _zstd,
    "tar": _tar,
    "record": _record,
    "frame": lambda data: decode_json(b"R", data),
}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: {sys.argv[0]} {{{','.join(TARGETS)}}} CORPUS_FOLDER [libFuzzer options]")
    target = TARGETS[sys.argv.pop(1)]

    def one(data: bytes) -> None:
        with contextlib.suppress(SyncoError):
            target(data)

    atheris.Setup(sys.argv, one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
