"""What a session says never reaches the terminal as escape sequences or forged lines.

Free text of a session (its framework name, a set's type, a redirect's target) was printed as it came: a
hostile server could set the window title, write the clipboard (OSC 52), clear the screen, or print a line
of its own ("all done"). Every such text now passes :func:`synco_core.redaction.printable`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from crafted_session import CraftedServer, CraftedSession, Reply, run_receive
from hypothesis import given, settings
from hypothesis import strategies as st

from synco_core.redaction import one_line, printable

ESCAPES = "\x1b]52;c;ZXZpbA==\x07\x1b[2J\x9b31m\rForged: all done\n\u202etxt.exe"


def _crafted_framework(crafted: CraftedSession, server: CraftedServer) -> None:
    crafted.ready(crafted.dump_set(b"SELECT 1;\n"), frameworkName=ESCAPES)


def _crafted_type(crafted: CraftedSession, server: CraftedServer) -> None:
    crafted.ready({**crafted.dump_set(b"SELECT 1;\n"), "type": ESCAPES})


def _crafted_redirect(crafted: CraftedSession, server: CraftedServer) -> None:
    (crafted.web_root / "f.txt").write_bytes(b"abc")
    crafted.ready(crafted.public_set({"x.txt": {"sizeBytes": 3, "mTime": 1, "publicUri": "f.txt"}}))
    server.reply("/f.txt", Reply(status=302, headers={"Location": "http://elsewhere.example/" + ESCAPES[:20]}))


def _crafted_unavailable(crafted: CraftedSession, server: CraftedServer) -> None:
    # Why serve could not read a set's folder: free text, shown in the set's line.
    crafted.ready({**crafted.public_set({}), "unavailable": ESCAPES,
                   "mustUnderstand": ["leftOutCount", "unavailable"]})


@pytest.mark.parametrize("craft", [_crafted_framework, _crafted_type, _crafted_redirect, _crafted_unavailable],
                         ids=["framework name", "set type", "redirect target", "unavailable reason"])
def test_session_text_is_shown_escaped(crafted: CraftedSession, crafted_server: Callable[..., CraftedServer],
                                       tmp_path: Path, craft: Callable[[CraftedSession, CraftedServer], Any]) -> None:
    server = crafted_server(crafted.web_root)
    craft(crafted, server)
    result = run_receive(crafted, server.url, tmp_path / "t")
    assert "\x1b" not in result.output and "\x07" not in result.output and "\x9b" not in result.output
    assert "\r" not in result.output and "\u202e" not in result.output
    assert "\\u001b]52" in result.output, result.output
    assert not any(line.startswith("Forged") for line in result.output.splitlines())


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_printable_leaves_nothing_a_terminal_acts_on(text: str) -> None:
    for shown in (printable(text), one_line(text)):
        assert not any(unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn") for char in shown)
    # Plain text is left as it is, indentation included.
    if text.isprintable():
        assert printable(text) == text
