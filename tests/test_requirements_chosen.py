"""The interactive set chooser of ``receive --install``: what the dump needs of the local server is checked once
the person has chosen, and only when they chose the database; still before anything is downloaded.

Before, the check came before the question: a person leaving the database out was refused for its needs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_requirements_planned import MISSING, error_lines, published, receive
from test_requirements_refused import SESSION

import synco_core.cli.receive_cmd as receive_cmd
from synco_core.cli.options import TerminalInteraction
from synco_core.wire import WireFileSet

__all__ = ["published"]


@pytest.fixture
def chooser(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """A terminal whose person picks the sets of ``chooser[0]``; what they were offered is appended."""
    picks: list[list[str]] = [[]]

    def choose(sets: list[WireFileSet]) -> list[str]:
        picks.append([s.name for s in sets])
        return picks[0]

    monkeypatch.setattr(TerminalInteraction, "interactive", property(lambda self: True))
    monkeypatch.setattr(receive_cmd, "_choose_interactively", choose)
    return picks


@pytest.mark.postgres
def test_a_chosen_set_without_the_database_is_not_refused_for_its_needs(
        published: tuple[str, str, object, str], tmp_path: Path, chooser: list[list[str]]) -> None:
    url, key, _, _ = published
    chooser[0] = ["uploads"]
    result = receive(url, key, tmp_path, "--install", "--yes")
    assert result.exit_code == 0, result.output
    assert chooser[1] == ["dbDump", "uploads"], chooser
    assert MISSING not in result.output, result.output
    assert (tmp_path / "local" / "web" / "uploads" / "a.txt").read_text() == "upload\n"


@pytest.mark.postgres
def test_a_chosen_database_is_refused_for_its_needs_before_the_download(
        published: tuple[str, str, object, str], tmp_path: Path, chooser: list[list[str]]) -> None:
    url, key, behaviour, _ = published
    chooser[0] = ["dbDump"]
    result = receive(url, key, tmp_path, "--install", "--yes")
    assert result.exit_code == 1, result.output
    errors = error_lines(result.output)
    assert len(errors) == 1 and MISSING in errors[0] and "nothing was downloaded" in errors[0], result.output
    # The person was asked first; then only the meta had been fetched.
    assert len(chooser) == 2, chooser
    assert list(behaviour.requests) == [f"/{SESSION}/meta.json.enc"]  # type: ignore[attr-defined]
