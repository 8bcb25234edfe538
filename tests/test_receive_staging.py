"""A set received for the first time fills a staging folder that becomes the set's folder once complete.

The files of a first receive are written under their own names (no part file and rename per file) into
``.<set>.synco-new`` beside the set's folder, which appears only when the receive is through: a half file
is never found under the set's folder. These tests stop a first receive halfway, check that nothing but the
staging folder exists, leave a file in it cut short (as a kill in the middle of a write would), and check
that the next receive and ``--plan`` continue from what the staging folder holds. A set folder that exists
(or a link the user put there) is updated in place, as before.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from test_transfer_support import fixture_app_fixture, make_app, publish, static_server, tree_digest  # noqa: F401

from synco_core.cli.main import cli
from synco_core.errors import TransferError
from synco_core.receive import files
from synco_core.receive.staging import put_in_place, receiving_folder, staging_folder

SESSION = "synco-stagingtest012345678"
FILES = 60


@pytest.fixture
def app(tmp_path: Path, register_plugin: Any) -> Path:
    from test_transfer_support import FixturePlugin

    register_plugin(FixturePlugin(), "fixture")
    return make_app(tmp_path / "app", files=FILES)


def expected(app: Path) -> dict[str, str]:
    digests = tree_digest(app / "web" / "uploads")
    del digests["skip.tmp"]
    return digests


def receive(url: str, key: Any, target: Path, *extra: str) -> Any:
    return CliRunner().invoke(cli, ["receive", SESSION, key.secret, "--base-url", url, "--target", str(target),
                                    "--all", *extra])


def stop_after(monkeypatch: pytest.MonkeyPatch, count: int) -> list[str]:
    """Make the ``count``-th file written into a staging folder stop the receive (as Ctrl-C would)."""
    written: list[str] = []
    real = files._save_staged

    def save(destination: Any, entry: Any, data: bytes, folders: Any) -> int:
        if len(written) >= count:
            raise KeyboardInterrupt
        written.append(os.fspath(destination))
        return real(destination, entry, data, folders)

    monkeypatch.setattr(files, "_save_staged", save)
    return written


def test_a_stopped_first_receive_leaves_only_its_staging_folder_and_the_next_one_finishes_it(
        app: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = publish(app, SESSION, only=("uploads",))
    target = tmp_path / "t"
    with static_server(app / "web") as (url, behaviour):
        written = stop_after(monkeypatch, 20)
        stopped = receive(url, key, target, "--jobs", "1")
        assert stopped.exit_code != 0, stopped.output
        staging = target / ".uploads.synco-new"
        assert len(written) == 20 and all(path.startswith(os.fspath(staging)) for path in written)
        assert not (target / "uploads").exists(), "the set's folder appears only once the receive is through"
        assert not list(staging.rglob("*.synco-part")), "files of packs go in under their own names"

        # A kill in the middle of a write leaves a file cut short, with the time of its writing.
        cut = Path(written[0])
        cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])
        monkeypatch.undo()

        # Left to fetch: the file cut short and the one the stop came in for; the rest is up to date.
        total = len(expected(app))
        plan = receive(url, key, target, "--plan")
        assert plan.exit_code == 0, plan.output
        assert f"{total} files: 2 to download" in plan.output and f"{total - 2} up to date" in plan.output, \
            plan.output

        before = sum(behaviour.requests.values())
        finished = receive(url, key, target)
        assert finished.exit_code == 0, finished.output
        assert f"{total - 2} up to date" in finished.output, finished.output
    assert tree_digest(target / "uploads") == expected(app)
    assert not staging.exists(), "the staging folder became the set's folder"
    assert sum(behaviour.requests.values()) > before


def test_a_set_folder_that_exists_is_updated_in_place(app: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    key = publish(app, SESSION, only=("uploads",))
    target = tmp_path / "t"
    (target / "uploads").mkdir(parents=True)
    (target / "uploads" / "mine.txt").write_text("kept\n")
    staged = stop_after(monkeypatch, 10**9)
    with static_server(app / "web") as (url, _behaviour):
        done = receive(url, key, target)
    assert done.exit_code == 0, done.output
    assert not staged, "no file went through a staging folder"
    got = tree_digest(target / "uploads")
    assert got.pop("mine.txt") and got == expected(app)
    assert not staging_folder(target / "uploads").exists()


def test_a_link_in_place_of_the_set_folder_is_followed_as_before(app: Path, tmp_path: Path) -> None:
    key = publish(app, SESSION, only=("uploads",))
    target, elsewhere = tmp_path / "t", tmp_path / "elsewhere"
    target.mkdir()
    elsewhere.mkdir()
    (target / "uploads").symlink_to(elsewhere)
    assert receiving_folder(target / "uploads") == (target / "uploads", False)
    with static_server(app / "web") as (url, _behaviour):
        done = receive(url, key, target)
    assert done.exit_code == 0, done.output
    assert tree_digest(elsewhere) == expected(app)


def test_the_staging_folder_is_not_put_over_a_folder_that_appeared_meanwhile(tmp_path: Path) -> None:
    set_dir = tmp_path / "uploads"
    staging, staged = receiving_folder(set_dir)
    assert staged and staging == tmp_path / ".uploads.synco-new"
    (staging / "a").mkdir(parents=True)
    (staging / "a" / "b.txt").write_text("new\n")
    set_dir.mkdir()
    (set_dir / "theirs.txt").write_text("someone else's\n")
    with pytest.raises(TransferError) as raised:
        put_in_place(staging, set_dir)
    message = str(raised.value)
    assert "\n" not in message and str(set_dir) in message
    assert (staging / "a" / "b.txt").read_text() == "new\n" and (set_dir / "theirs.txt").exists()
