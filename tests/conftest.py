"""Shared fixtures of the core test suite (the database fixtures come from ``synco_core.testing``)."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture
def data_dir() -> Path:
    return DATA
