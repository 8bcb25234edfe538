"""The files of packs are written by at most PACK_WRITERS threads at a time, whatever ``--jobs`` says.

Writing a small file is a handful of system calls, each of which hands the GIL over; eight threads doing
that at once spent more time waking each other than creating files (issue 16's first sync). The other
threads still fetch: a receive with many pack tasks and ``--jobs 8`` must never have more than
PACK_WRITERS files being written at once, and must still bring every file, exactly.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from test_transfer_support import fixture_app_fixture, publish, static_server, tree_digest  # noqa: F401

import synco_core.receive.public as public
from synco_core.cli.main import cli

SESSION = "synco-writerstest012345678"


def test_at_most_pack_writers_threads_write_files_of_packs(fixture_app: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    uploads = fixture_app / "web" / "uploads"
    for number in range(120):
        (uploads / "many" / f"d{number % 4}").mkdir(parents=True, exist_ok=True)
        (uploads / "many" / f"d{number % 4}" / f"f{number:03d}.txt").write_bytes(b"x" * (100 + number))
    key = publish(fixture_app, SESSION, only=("uploads",))
    # Many small tasks, so that many threads hold pack files at the same time.
    monkeypatch.setattr(public, "PACK_TASK_FILES", 4)
    real = public.save_content
    lock = threading.Lock()
    writing = [0]
    most = [0]
    written = [0]

    def counting(*args: Any, **kwargs: Any) -> int:
        with lock:
            writing[0] += 1
            most[0] = max(most[0], writing[0])
        try:
            time.sleep(0.003)  # long enough for the other threads to arrive while this one writes
            return real(*args, **kwargs)
        finally:
            with lock:
                writing[0] -= 1
                written[0] += 1

    monkeypatch.setattr(public, "save_content", counting)
    target = tmp_path / "t"
    with static_server(fixture_app / "web") as (url, _behaviour):
        result = CliRunner().invoke(cli, ["receive", SESSION, key.secret, "--base-url", url, "--target",
                                          str(target), "--all", "--jobs", "8"])
    assert result.exit_code == 0, result.output
    source = tree_digest(uploads)
    del source["skip.tmp"]
    assert tree_digest(target / "uploads") == source
    assert written[0] >= 120, "the small files came out of packs"
    assert 1 <= most[0] <= public.PACK_WRITERS, f"{most[0]} threads wrote files of packs at once"
