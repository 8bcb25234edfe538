"""An earlier serve of a session's name is refused in any folder once this user received a later one.

``serve --id X --password P`` run twice makes two sessions the same passphrase opens. ``.synco-received.json``
refused the earlier one only in a folder that had received the later one: a first receive into another (empty)
folder took it. The user's record in synco's cache folder (``synco_core.receive.seensessions``) keeps the
newest ``createdAt`` per session name and server address, whatever the folder.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from crafted_session import PASSPHRASE, CraftedServer, CraftedSession, error_lines, run_receive

from synco_core.receive import seensessions

SESSION_ID = "synco-0000000000000000000000d4"


def _servers(tmp_path: Path, crafted_server: Callable[..., CraftedServer], expires_in: int = 3000) -> dict[str, Any]:
    """Two serves of one session name and passphrase; ``server`` answers at one address with either's files,
    as a cache in front of the real server would (``_receive`` says which)."""
    now = int(time.time())
    servers: dict[str, Any] = {"server": crafted_server(None)}
    for name, created in (("earlier", now - 1200), ("later", now - 600)):
        crafted = CraftedSession(tmp_path / name, session_id=SESSION_ID, passphrase=PASSPHRASE)
        dump = f"-- the {name} serve's database\n".encode()
        crafted.ready(crafted.dump_set(dump), createdAt=created, expiresAt=now + expires_in)
        servers[name] = (crafted, dump)
    return servers


def _receive(servers: dict[str, Any], name: str, target: Path, url: str | None = None) -> Any:
    crafted, _dump = servers[name]
    server = servers["server"]
    server.root = crafted.web_root
    return run_receive(crafted, url or server.url, target)


def test_a_first_receive_into_another_folder_refuses_an_earlier_serve(
    crafted_server: Callable[..., CraftedServer], tmp_path: Path
) -> None:
    servers = _servers(tmp_path, crafted_server)
    assert _receive(servers, "later", tmp_path / "first").exit_code == 0
    fresh = tmp_path / "fresh"
    before = len(servers["server"].requests)
    result = _receive(servers, "earlier", fresh)
    assert result.exit_code == 1, result.output
    [line] = error_lines(result.output)
    assert f"session {SESSION_ID} was made before one this user received from the same address" in line, line
    # Refused before anything was fetched or written.
    assert not fresh.exists() or list(fresh.iterdir()) == []
    assert [r.path for r in servers["server"].requests[before:] if "meta" not in r.path] == []
    # The later one, and the same one again, are taken anywhere.
    assert _receive(servers, "later", fresh).exit_code == 0
    assert (fresh / "dbDump.sql").read_bytes() == servers["later"][1]


@pytest.mark.parametrize("other", ["another host", "another port", "another path"])
def test_another_address_with_the_same_name_is_not_held_against_it(
    crafted_server: Callable[..., CraftedServer], tmp_path: Path, other: str
) -> None:
    """Two servers, or two projects under different paths of one server, may both use ``--id X``: the record
    is per address, so none refuses the other's sessions."""
    servers = _servers(tmp_path, crafted_server)
    server = servers["server"]
    if other == "another path":
        # The same server's other project: its sessions under /other/.
        (tmp_path / "earlier-under-path").mkdir()
        (tmp_path / "earlier-under-path" / "other").symlink_to(servers["earlier"][0].web_root)
    assert _receive(servers, "later", tmp_path / "a").exit_code == 0
    if other == "another host":
        result = _receive(servers, "earlier", tmp_path / "b", url=server.url.replace("127.0.0.1", "localhost"))
    elif other == "another port":
        result = run_receive(servers["earlier"][0], crafted_server(servers["earlier"][0].web_root).url, tmp_path / "b")
    else:
        server.root = tmp_path / "earlier-under-path"
        result = run_receive(servers["earlier"][0], server.url + "other/", tmp_path / "b")
    assert result.exit_code == 0, result.output


def test_the_record_holds_times_only_and_goes_when_its_session_expired(
    crafted_server: Callable[..., CraftedServer], tmp_path: Path
) -> None:
    servers = _servers(tmp_path, crafted_server)
    assert _receive(servers, "later", tmp_path / "a").exit_code == 0
    folder = seensessions.record_folder()
    [record] = [path for path in folder.iterdir() if path.suffix == ".json"]
    assert oct(folder.stat().st_mode & 0o777) == "0o700" and oct(record.stat().st_mode & 0o777) == "0o600"
    data = json.loads(record.read_text())
    assert set(data) == {"createdAt", "expiresAt"}
    assert SESSION_ID not in record.name and PASSPHRASE not in record.read_text()
    # Past its expiry (and the clock difference allowed), the next note of any session removes it.
    seensessions._remove_expired(folder, data["expiresAt"] + seensessions.KEPT_PAST_EXPIRY + 1)
    assert not record.exists()


def test_an_unusable_record_folder_is_a_warning_not_a_failure(
    crafted_server: Callable[..., CraftedServer],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    blocker = tmp_path / "cache-is-a-file"
    blocker.write_text("")
    monkeypatch.setenv("SYNCO_CACHE_DIR", str(blocker))
    servers = _servers(tmp_path, crafted_server)
    result = _receive(servers, "later", tmp_path / "a")
    assert result.exit_code == 0, result.output
    assert "cannot keep the sessions this user received" in result.output + caplog.text
    assert os.path.isfile(blocker)
