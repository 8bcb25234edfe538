"""A set's ``unavailable`` reason is free text of bounded length, whoever wrote it.

serve writes why it could not read a set's folder (naming the folder, whose path may take 4,096 bytes), and a
receiver shows it in the set's line, in ``--plan`` and in pull's output. A hostile meta's reason of a megabyte
was kept and printed whole, in every line naming the set. Both ends now cut it at
:data:`synco_core.wire.MAX_UNAVAILABLE_CHARS` characters, with ``...`` where it was cut.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from crafted_session import CraftedServer, CraftedSession, run_receive

from synco_core.serve.setroot import unavailable_reason
from synco_core.wire import MAX_UNAVAILABLE_CHARS, WireFileSet, shortened_reason


def _public_set(reason: str) -> WireFileSet:
    return WireFileSet.from_json({
        "name": "uploads", "type": "PublicFiles", "mustUnderstand": ["leftOutCount", "unavailable"],
        "unavailable": reason,
        "publicFiles": {"indexFileName": "Resources-uploads.index.json.enc", "sizeBytes": 0, "fileCount": 0,
                        "indexFormat": 3, "leftOutCount": 1}})


@pytest.mark.parametrize("length", [0, 1, MAX_UNAVAILABLE_CHARS - 1, MAX_UNAVAILABLE_CHARS,
                                    MAX_UNAVAILABLE_CHARS + 1, 10 * MAX_UNAVAILABLE_CHARS, 1_000_000])
def test_a_reason_read_from_a_meta_is_cut_with_an_ellipsis(length: int) -> None:
    reason = ("folder /var/www/" + "é" * length)[:length]
    read = _public_set(reason).unavailable
    assert read is not None and len(read) <= MAX_UNAVAILABLE_CHARS
    if length <= MAX_UNAVAILABLE_CHARS:
        assert read == reason
    else:
        assert read.endswith("...") and reason.startswith(read[:-3])
    assert shortened_reason(read) == read


def test_serve_cuts_the_reason_naming_a_long_folder(tmp_path: Path) -> None:
    missing = tmp_path.joinpath(*["f" * 200] * 19)
    assert len(str(missing)) > MAX_UNAVAILABLE_CHARS
    reason = unavailable_reason(missing)
    assert reason is not None and reason.startswith("folder ") and reason.endswith("...")
    assert len(reason) == MAX_UNAVAILABLE_CHARS


def test_a_hostile_reason_of_a_megabyte_is_shown_cut(crafted: CraftedSession, tmp_path: Path,
                                                    crafted_server: Callable[..., CraftedServer]) -> None:
    server = crafted_server(crafted.web_root)
    crafted.ready({**crafted.public_set({}), "unavailable": "the share is gone " + "x" * 1_000_000,
                   "mustUnderstand": ["leftOutCount", "unavailable"]})
    result = run_receive(crafted, server.url, tmp_path / "t")
    assert "the share is gone" in result.output and "x" * MAX_UNAVAILABLE_CHARS not in result.output
    assert max(len(line) for line in result.output.splitlines()) < 2 * MAX_UNAVAILABLE_CHARS, result.output[:2000]
    assert "..." in result.output
