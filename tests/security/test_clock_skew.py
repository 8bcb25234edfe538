"""A session's expiry is the server's clock's: a laptop whose clock is hours off is not refused for it.

``expiresAt`` is written by the server's clock and was judged by the laptop's alone (give or take five
minutes): a laptop running hours ahead (its clock set to local time as if it were UTC, a wrong zone) refused
every fresh session it was given, and a new session met the same refusal. Receive now reads the server's
clock from the ``Date`` of its answer to the meta: when the laptop's clock says expired and the server's does
not, and the two are at most :data:`MAX_CLOCK_OFFSET` apart, the server's decides. Replay protection stays:
a meta expired by the server's own clock, a difference beyond that bound, or a cache's copy (``Age``: its
``Date`` is of when the server made it) are still refused.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from crafted_session import CraftedServer, CraftedSession, Reply, error_lines, run_receive

from synco_core.receive import seensessions
from synco_core.receive.meta import CLOCK_SKEW, MAX_CLOCK_OFFSET

HOUR = 3600


def server_behind(server: CraftedServer, seconds: float) -> None:
    """Make ``server``'s clock (its ``Date``) run ``seconds`` behind this computer's."""
    def date_time_string(self: object, timestamp: float | None = None) -> str:
        return email.utils.formatdate((timestamp or time.time()) - seconds, usegmt=True)

    server._server.RequestHandlerClass.date_time_string = date_time_string  # type: ignore[attr-defined]


@pytest.mark.parametrize("hours", [3, 9, 14])
def test_a_laptop_clock_hours_ahead_receives_a_live_session(
        crafted: CraftedSession, crafted_server: Callable[..., CraftedServer], tmp_path: Path, hours: int) -> None:
    server_now = int(time.time()) - hours * HOUR
    crafted.ready(crafted.dump_set(b"-- today's database\n"), createdAt=server_now - 60, expiresAt=server_now + HOUR)
    server = crafted_server(crafted.web_root)
    server_behind(server, hours * HOUR)
    result = run_receive(crafted, server.url, tmp_path / "t")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "t" / "dbDump.sql").read_bytes() == b"-- today's database\n"
    assert "ahead of the server's" in result.output
    # What it received is remembered while the session may be accepted, so an earlier serve of its name is
    # refused in any folder (a record was removed at once, its session expired by this computer's clock).
    records = [path for path in seensessions.record_folder().iterdir() if path.suffix == ".json"]
    assert [json.loads(path.read_text())["createdAt"] for path in records] == [server_now - 60]


def test_a_session_expired_by_the_servers_own_clock_is_refused(
        crafted: CraftedSession, crafted_server: Callable[..., CraftedServer], tmp_path: Path) -> None:
    server_now = int(time.time()) - 3 * HOUR
    crafted.ready(crafted.dump_set(), createdAt=server_now - 2 * HOUR, expiresAt=server_now - CLOCK_SKEW - 60)
    server = crafted_server(crafted.web_root)
    server_behind(server, 3 * HOUR)
    result = run_receive(crafted, server.url, tmp_path / "t")
    assert result.exit_code == 1, result.output
    [line] = error_lines(result.output)
    assert f"session {crafted.session_id} expired at" in line and "the server's" in line
    assert not (tmp_path / "t" / "dbDump.sql").exists()


def test_a_server_clock_too_far_behind_does_not_excuse_an_expiry(
        crafted: CraftedSession, crafted_server: Callable[..., CraftedServer], tmp_path: Path) -> None:
    """A replayed meta comes with whatever ``Date`` its sender likes: days back would revive any old session."""
    behind = MAX_CLOCK_OFFSET + HOUR
    server_now = int(time.time()) - behind
    crafted.ready(crafted.dump_set(), createdAt=server_now - 60, expiresAt=server_now + HOUR)
    server = crafted_server(crafted.web_root)
    server_behind(server, behind)
    result = run_receive(crafted, server.url, tmp_path / "t")
    assert result.exit_code == 1, result.output
    assert not (tmp_path / "t" / "dbDump.sql").exists()


def test_a_caches_copy_does_not_give_the_servers_clock(
        crafted: CraftedSession, crafted_server: Callable[..., CraftedServer], tmp_path: Path) -> None:
    """A cache answers with the server's ``Date`` of when it took its copy, and ``Age`` since: an expired
    session kept by a cache must not pass for a live one by the copy's ``Date``."""
    server_now = int(time.time()) - 3 * HOUR
    crafted.ready(crafted.dump_set(), createdAt=server_now - 60, expiresAt=server_now + HOUR)
    server = crafted_server(crafted.web_root)
    server_behind(server, 3 * HOUR)
    meta = f"/{crafted.session_id}/meta.json.enc"
    server.reply(meta, Reply(body=(crafted.folder / "meta.json.enc").read_bytes(), headers={"Age": str(3 * HOUR)}))
    result = run_receive(crafted, server.url, tmp_path / "t")
    assert result.exit_code == 1, result.output
    [line] = error_lines(result.output)
    assert f"session {crafted.session_id} expired at" in line
    assert server.requests_for(meta)
    assert not (tmp_path / "t" / "dbDump.sql").exists()
