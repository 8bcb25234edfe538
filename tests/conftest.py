"""Shared fixtures of the core test suite (the database fixtures come from ``synco_core.testing``)."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture
def data_dir() -> Path:
    return DATA


#: The ``hash`` transform's key while :func:`pinned_hash_key` holds it.
PINNED_HASH_KEY = "pinned-hash-key-of-the-tests"


@pytest.fixture
def pinned_hash_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """Every engine's ``hash`` key fixed, for a test that checks the digests themselves (each dump makes a
    random one otherwise)."""
    for module in ("synco_core.engines.mysql.dump", "synco_core.engines.postgresql.dataplan",
                   "synco_core.engines.sqlite.dump"):
        monkeypatch.setattr(f"{module}.new_hash_key", lambda: PINNED_HASH_KEY)
    return PINNED_HASH_KEY
