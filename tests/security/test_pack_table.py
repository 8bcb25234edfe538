"""The pack table is read whole, so the meta does not get to decide how much memory it takes.

A hostile meta declared any ``packsSizeBytes`` (or none, which allowed 512 MiB) and receive held that much
in memory, then the JSON objects made from it. Now a pack table is at most
:data:`~synco_core.receive.limits.PACK_TABLE_LIMIT` (16 MiB, over 80,000 packs); one declared bigger is not
even asked for, one that arrives bigger is cut off there, and the set's files come by their own URLs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest
from crafted_session import CraftedServer, CraftedSession, Reply, endless, run_receive

from synco_core.receive.limits import PACK_TABLE_LIMIT

CONTENT = b"a small public file\n"
TABLE = "Resources-public.packs.json.enc"


def _session(crafted: CraftedSession, **pack_details: object) -> None:
    (crafted.web_root / "f.txt").write_bytes(CONTENT)
    entry = {"sizeBytes": len(CONTENT), "mTime": 1_700_000_000, "publicUri": "f.txt", "pack": 0, "packOffset": 0,
             "sha256": hashlib.sha256(CONTENT).hexdigest()}
    crafted.ready(crafted.public_set({"f.txt": entry}, packsFileName=TABLE, **pack_details))


def test_a_pack_table_declared_bigger_than_any_is_never_fetched(crafted: CraftedSession,
                                                              crafted_server: Callable[..., CraftedServer],
                                                              tmp_path: Path) -> None:
    _session(crafted, packsSizeBytes=1 << 30, packsEncryptedSizeBytes=(1 << 30) + 65536)
    server = crafted_server(crafted.web_root)
    server.reply(f"/{crafted.session_id}/{TABLE}", Reply(body=endless(), length=None))
    result = run_receive(crafted, server.url, tmp_path / "t")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "t" / "public" / "f.txt").read_bytes() == CONTENT
    assert server.requests_for(f"/{crafted.session_id}/{TABLE}") == []


@pytest.mark.parametrize("declared", [None, 1 << 30], ids=["undeclared", "only-encrypted-size-declared"])
def test_a_pack_table_without_end_is_cut_off_at_the_limit(crafted: CraftedSession,
                                                         crafted_server: Callable[..., CraftedServer],
                                                         tmp_path: Path, declared: int | None) -> None:
    _session(crafted, **({"packsEncryptedSizeBytes": declared} if declared else {}))
    server = crafted_server(crafted.web_root)
    path = f"/{crafted.session_id}/{TABLE}"
    server.reply(path, Reply(body=endless(), length=None))
    result = run_receive(crafted, server.url, tmp_path / "t")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "t" / "public" / "f.txt").read_bytes() == CONTENT
    # What left the server before receive hung up: the limit, plus what the sockets held.
    assert server.sent.get(path, 0) < PACK_TABLE_LIMIT + (8 << 20), server.sent
