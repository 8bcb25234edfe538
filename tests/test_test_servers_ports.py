"""The servers the tests start on a port found free (sshd, Apache, tinyproxy, nginx, a private MariaDB or
PostgreSQL) start again on another port when
that one was taken before they could bind it, as another xdist worker's server may take it in between; one
that failed for that reason failed whichever test needed it, depending on what ran beside it."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import private_servers
import pull_support
import pytest
import test_receive_web_servers
import test_transfer_proxy

from synco_core.testing import services
from synco_core.testing.services import require_tool


@contextlib.contextmanager
def _taken_first(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> Iterator[list[int]]:
    """``module.name`` (its free-port probe) gives first a port this test listens on; the ports it gave."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    taken = holder.getsockname()[1]
    probe: Callable[[], int] = getattr(module, name)
    given: list[int] = []

    def first_taken() -> int:
        given.append(taken if not given else probe())
        return given[-1]

    monkeypatch.setattr(module, name, first_taken)
    with holder:
        yield given


@contextlib.contextmanager
def _sshd(tmp_path: Path) -> Iterator[int]:
    with pull_support.run_sshd(tmp_path / "sshd", tmp_path / "plugin") as sshd:
        yield sshd.port


@contextlib.contextmanager
def _apache(tmp_path: Path) -> Iterator[int]:
    (tmp_path / "web").mkdir()
    with test_receive_web_servers.apache(tmp_path / "web", tmp_path / "apache") as url:
        yield int(url.rstrip("/").rsplit(":", 1)[1])


@contextlib.contextmanager
def _tinyproxy(tmp_path: Path) -> Iterator[int]:
    with test_transfer_proxy.tinyproxy(tmp_path / "proxy") as (port, _log):
        yield port


@contextlib.contextmanager
def _nginx(tmp_path: Path) -> Iterator[int]:
    (tmp_path / "web").mkdir()
    with services.nginx(tmp_path / "web", tmp_path / "nginx") as server:
        yield server.port


@contextlib.contextmanager
def _mariadb(tmp_path: Path) -> Iterator[int]:
    require_tool("mariadbd", "mariadb-server", "mysqld")
    with private_servers.mariadb(tmp_path / "mariadb") as server:
        assert server.port is not None
        yield server.port


@contextlib.contextmanager
def _postgresql(tmp_path: Path) -> Iterator[int]:
    with private_servers.postgresql() as server:
        assert server.port is not None
        yield server.port


@pytest.mark.parametrize(("start", "module", "probe"), [
    (_sshd, pull_support, "free_port"),
    (_apache, pull_support, "free_port"),
    (_tinyproxy, test_transfer_proxy, "_free_port"),
    (_nginx, services, "free_port"),
    (_mariadb, private_servers, "free_port"),
    (_postgresql, private_servers, "free_port"),
], ids=["sshd", "apache", "tinyproxy", "nginx", "mariadb", "postgresql"])
def test_a_server_whose_port_was_taken_starts_on_another(
        start: Callable[[Path], contextlib.AbstractContextManager[int]], module: Any, probe: str,
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with _taken_first(monkeypatch, module, probe) as given, start(tmp_path) as port:
        # It answers where it says it listens, not on the port that was taken.
        socket.create_connection(("127.0.0.1", port), timeout=10).close()
    assert len(given) >= 2 and port == given[-1] != given[0], given


def test_a_refused_port_refuses_and_cannot_be_taken_while_held() -> None:
    """The port of a "nothing listens there" test: found free and let go, another test's server could take it
    before the connection, which would then be answered."""
    with services.refused_port() as port:
        with socket.socket() as other:
            other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers bind
            with pytest.raises(OSError, match="in use"):
                other.bind(("127.0.0.1", port))
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=10).close()
