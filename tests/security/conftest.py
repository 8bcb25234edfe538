"""Fixtures of the security tests: a crafted session and crafted servers (see ``crafted_session.py``)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# The suite's shared helpers (test_transfer_support, test_receive_support) live one folder up; pytest puts
# that folder on the path only when it collects a test there, so a run of this folder alone adds it here.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crafted_session import PASSPHRASE, CraftedServer, CraftedSession


@pytest.fixture
def crafted(tmp_path: Path) -> CraftedSession:
    """An X25519 session under ``tmp_path / "web"``, empty until the test writes artifacts and a meta."""
    return CraftedSession(tmp_path / "web")


@pytest.fixture(params=["x25519", "scrypt"])
def crafted_any_key(request: pytest.FixtureRequest, tmp_path: Path) -> CraftedSession:
    """The same, once with an X25519 key and once with an scrypt passphrase."""
    return CraftedSession(tmp_path / "web", passphrase=None if request.param == "x25519" else PASSPHRASE)


@pytest.fixture
def crafted_server() -> Iterator[Callable[..., CraftedServer]]:
    """``crafted_server(root=None)`` starts a :class:`CraftedServer` on 127.0.0.1, stopped after the test."""
    servers: list[CraftedServer] = []

    def start(root: Path | None = None) -> CraftedServer:
        server = CraftedServer(root)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
