"""An index that names one path as a file and as a folder (``a`` and ``a/b``), in either order.

One of the two can exist. Before, the second failed with the bare ``File exists`` of the operating system
and receive advised running the same command again, which meets the same file; now it is refused as
what the server sent, the one that arrived is complete, and no part file is left behind.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from crafted_session import CraftedServer, CraftedSession, run_receive

CONTENT = b"content of a colliding entry\n"
ENTRY = {"sizeBytes": len(CONTENT), "mTime": 1_700_000_000, "publicUri": "f.txt"}


@pytest.mark.parametrize("order", [("a", "a/b"), ("a/b", "a"), ("x/a", "x/a/b/c")])
def test_a_path_that_is_a_file_and_a_folder_is_refused(crafted: CraftedSession,
                                                       crafted_server: Callable[..., CraftedServer],
                                                       tmp_path: Path, order: tuple[str, str]) -> None:
    (crafted.web_root / "f.txt").write_bytes(CONTENT)
    crafted.ready(crafted.public_set({order[0]: ENTRY, order[1]: ENTRY}))
    server = crafted_server(crafted.web_root)
    target = tmp_path / "t"
    result = run_receive(crafted, server.url, target)
    assert result.exit_code == 1, result.output
    assert "is in the way" in result.output, result.output
    assert "is in the way" in result.output and "File exists" not in result.output
    # Not advice to run again (which meets the same file): what is in the way is named as such.
    assert "running again will not write them" in result.output and "to continue" not in result.output
    received = [path for path in (target / "public").rglob("*") if path.is_file()]
    assert len(received) == 1 and received[0].read_bytes() == CONTENT
    assert received[0].relative_to(target / "public").as_posix() in order
