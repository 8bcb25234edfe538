"""A receive folder that exists but takes nothing (a read-only disk or mount, a folder of another user) is
refused in one line before anything is fetched.

Before, every set failed in turn with an error of its own ("Read-only file system: .../dbDump.sqlite.part")
and the receive ended with the advice to run the same command again, which met the same refusal.
"""

from __future__ import annotations

from pathlib import Path

from test_receive_bad_input import build, receive
from test_serve_wild_trees import small_file_system
from test_transfer_support import fixture_app_fixture, static_server  # noqa: F401


def test_a_read_only_receive_folder_is_refused_in_one_line(fixture_app: Path, tmp_path: Path) -> None:
    target = tmp_path / "laptop"
    (target / "old").mkdir(parents=True)
    (target / "old" / "kept.txt").write_text("kept")
    key = build(fixture_app)
    with small_file_system(target, "1m", read_only=True), static_server(fixture_app / "web") as (url, behaviour):
        result = receive(url, key.secret, target)
        assert result.exit_code == 1, result.output
        assert result.output == (f"Error: cannot write into the receive folder {target}: it is on a read-only "
                                 "file system; pass --target FOLDER\n"), result.output
        assert not [path for path in behaviour.requests if "synco-" in path and not path.endswith("meta.json.enc")]
        assert sorted(path.name for path in target.rglob("*")) == ["kept.txt", "old"]
