"""A private set's files keep their mtimes to the nanosecond, before 1970 and after 2038 too.

Public files carry whole seconds (the index's ``mTime``); a private set travels as a PAX tar, which can carry
any time exactly. Serve wrote each member's time as a float of seconds and receive stamped the file with a
float again: 2023-11-14 22:13:20.123456789 arrived as .123456835 (a float holds about 7 digits after the
point at today's dates), so what the laptop got was not the server's time.
"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

from synco_core.receive.tarsafe import extract_stream
from synco_core.serve.private_tar import add_members
from synco_core.testing.services import unavailable

#: Nanosecond mtimes: today's, before 1970 (negative, with a fraction), past 2038 and 2106.
TIMES = {"today": 1_700_000_000_123_456_789, "y1960": -315_619_199_987_654_321, "y2038": (2**31 + 5) * 10**9 + 1,
         "y2106": (2**32 + 5) * 10**9 + 999_999_999, "whole": 1_600_000_000 * 10**9}


def _walk(root: Path) -> list[tuple[str, os.DirEntry[str]]]:
    return [(entry.name, entry) for entry in sorted(os.scandir(root), key=lambda e: e.name)]


def test_private_files_keep_their_nanosecond_mtimes(tmp_path: Path) -> None:
    root = tmp_path / "storage"
    root.mkdir()
    for name, ns in TIMES.items():
        (root / name).write_bytes(name.encode())
        os.utime(root / name, ns=(ns, ns))
        if os.stat(root / name).st_mtime_ns != ns:
            unavailable(f"this file system does not hold {name}'s time")
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        assert add_members(tar, root, iter(_walk(root)), lambda size: None) == len(TIMES)
    archive.seek(0)
    assert extract_stream(archive, tmp_path / "got") == len(TIMES)
    got = {name: os.stat(tmp_path / "got" / name).st_mtime_ns for name in TIMES}
    assert got == TIMES
