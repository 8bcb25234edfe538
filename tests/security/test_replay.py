"""Issue 14, item 7: no replay.

The meta names its session (``sessionId``), when it was made (``createdAt``) and when it ends
(``expiresAt``); receive refuses a meta that names another session than the one asked for, or whose time
ran out (beyond a few minutes of clock difference). Go synco v2 metas carry none of this and are accepted.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from crafted_session import PASSPHRASE, CraftedServer, CraftedSession, error_lines, run_receive
from test_transfer_support import fixture_app_fixture, publish  # noqa: F401

from synco_core import age
from synco_core.receive.meta import CLOCK_SKEW, identities_for
from synco_core.wire import META_FILE, Meta


def test_the_meta_of_another_session_is_refused(crafted_server: Callable[..., CraftedServer], tmp_path: Path) -> None:
    """Two sessions with the same passphrase: the old one's files served as the new one's are refused."""
    web = tmp_path / "web"
    old = CraftedSession(web, session_id="synco-0000000000000000000000a1", passphrase=PASSPHRASE)
    new = CraftedSession(web, session_id="synco-0000000000000000000000b2", passphrase=PASSPHRASE)
    old.ready(old.dump_set(b"-- last month's database\n"))
    for artifact in old.folder.iterdir():
        shutil.copy(artifact, new.folder / artifact.name)
    result = run_receive(new, crafted_server(web).url, tmp_path / "t")
    assert result.exit_code == 1, result.output
    [line] = error_lines(result.output)
    assert f"the meta at {new.session_id} belongs to session {old.session_id!r}" in line
    assert not (tmp_path / "t" / "dbDump.sql").exists()


def test_an_expired_session_is_refused(crafted: CraftedSession, crafted_server: Callable[..., CraftedServer],
                                       tmp_path: Path) -> None:
    now = int(time.time())
    crafted.ready(crafted.dump_set(), createdAt=now - 7200, expiresAt=now - CLOCK_SKEW - 60)
    result = run_receive(crafted, crafted_server(crafted.web_root).url, tmp_path / "t")
    assert result.exit_code == 1, result.output
    [line] = error_lines(result.output)
    assert f"session {crafted.session_id} expired at" in line and "ask for a new session" in line


def test_a_laptop_clock_hours_ahead_is_named_with_both_moments_in_utc(
        crafted: CraftedSession, crafted_server: Callable[..., CraftedServer], tmp_path: Path) -> None:
    """A fresh session (made a minute ago, for an hour) received on a laptop whose clock is three hours ahead
    of the server's looks expired. The refusal named only "expired at" in the laptop's local time without its
    zone, and sent the user for a new session, which the same clock refuses again: it now gives both moments
    in UTC and names the clock as the other cause."""
    laptop = int(time.time())
    server = laptop - 3 * 3600
    crafted.ready(crafted.dump_set(), createdAt=server - 60, expiresAt=server + 3600)
    result = run_receive(crafted, crafted_server(crafted.web_root).url, tmp_path / "t")
    assert result.exit_code == 1, result.output
    [line] = error_lines(result.output)
    expired = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(server + 3600))
    assert f"expired at {expired} by this computer's clock (which reads " in line
    assert "set this computer's clock right" in line
    assert not (tmp_path / "t" / "dbDump.sql").exists()


def test_an_expiry_no_calendar_holds_is_refused_in_one_line(crafted: CraftedSession,
                                                            crafted_server: Callable[..., CraftedServer],
                                                            tmp_path: Path) -> None:
    """A hostile meta's expiresAt of -10**30: formatting it for the refusal raised OverflowError, a traceback
    instead of the one-line refusal."""
    crafted.ready(crafted.dump_set(), expiresAt=-10**30)
    result = run_receive(crafted, crafted_server(crafted.web_root).url, tmp_path / "t")
    assert result.exit_code == 1, result.output
    [line] = error_lines(result.output)
    assert f"session {crafted.session_id} expired at -{10**30} s from 1970 UTC by this computer's clock" in line


def test_a_few_minutes_of_clock_difference_are_allowed(crafted: CraftedSession,
                                                       crafted_server: Callable[..., CraftedServer],
                                                       tmp_path: Path) -> None:
    crafted.ready(crafted.dump_set(), expiresAt=int(time.time()) - CLOCK_SKEW // 2)
    result = run_receive(crafted, crafted_server(crafted.web_root).url, tmp_path / "t")
    assert result.exit_code == 0, result.output


def test_a_meta_without_these_fields_is_accepted(crafted: CraftedSession,
                                                 crafted_server: Callable[..., CraftedServer],
                                                 tmp_path: Path) -> None:
    """Go synco v2 writes no session id and no times."""
    crafted.ready(crafted.dump_set(), generator=None, sessionId=None, createdAt=None, expiresAt=None)
    result = run_receive(crafted, crafted_server(crafted.web_root).url, tmp_path / "t")
    assert result.exit_code == 0, result.output


def test_serve_writes_the_session_id_and_times(fixture_app: Path, tmp_path: Path) -> None:
    session = "synco-replaytest0123456789"
    key = publish(fixture_app, session, only=("dbDump",), expires_at=int(time.time()) + 600)
    raw = (fixture_app / "web" / session / META_FILE).read_bytes()
    meta: Any = Meta.from_bytes(age.decrypt_bytes(raw, identities_for(key.secret)))
    assert meta.session_id == session
    assert abs(meta.created_at - time.time()) < 60
    assert meta.expires_at > meta.created_at


def test_an_earlier_serve_of_the_same_id_is_refused_after_a_later_one_arrived(
        crafted_server: Callable[..., CraftedServer], tmp_path: Path) -> None:
    """``serve --id X --password P`` run twice: whoever kept the first serve's files (still within its time)
    can answer with them once the second one's arrived. Same id, same passphrase, a meta of its own: only
    its ``createdAt`` tells it is the earlier one. A receive into a folder that took the later serve refuses it
    before anything is fetched; the same session again, and any later serve, are taken."""
    session_id, now = "synco-0000000000000000000000c3", int(time.time())
    servers = {}
    for name, created, dump in (("earlier", now - 1200, b"-- the first serve's database\n"),
                                ("later", now - 600, b"-- the second serve's database\n"),
                                ("latest", now - 60, b"-- the third serve's database\n")):
        crafted = CraftedSession(tmp_path / name, session_id=session_id, passphrase=PASSPHRASE)
        crafted.ready(crafted.dump_set(dump), createdAt=created, expiresAt=now + 3000)
        servers[name] = (crafted, crafted_server(crafted.web_root).url, dump)
    target = tmp_path / "t"

    def receive(name: str) -> Any:
        crafted, url, _dump = servers[name]
        return run_receive(crafted, url, target)

    assert receive("later").exit_code == 0
    for _attempt in range(2):
        result = receive("earlier")
        assert result.exit_code == 1, result.output
        [line] = error_lines(result.output)
        assert f"session {session_id}" in line and "made before" in line, line
        assert (target / "dbDump.sql").read_bytes() == servers["later"][2]
    assert receive("later").exit_code == 0, "the same session again"
    assert receive("latest").exit_code == 0
    assert (target / "dbDump.sql").read_bytes() == servers["latest"][2]
    assert receive("later").exit_code == 1
