"""The fuzz tests: what receive parses of a hostile server's bytes, driven by hypothesis (see ``fuzzing.py``)."""

from __future__ import annotations

import sys
from pathlib import Path

# crafted_session (tests/security) builds real sessions for the tests here that go through receive itself.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "security"))
