"""Issue 14, item 3: no symlink is ever followed out.

Extraction resolves every path on the real file system relative to its folder, without writing through
any link; a link whose target leaves the folder, alone or through a chain of links that each look
harmless, is refused, and hard links may only point at files extracted from the same archive.
"""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from crafted_session import (
    CraftedServer,
    CraftedSession,
    directory,
    file,
    hardlink,
    run_receive,
    symlink,
    tar_bytes,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from test_install_location import MARKER, LocalSite

from synco_core.beneath import open_root, resolve_beneath
from synco_core.cli.main import cli
from synco_core.errors import SyncoError, UnsafePathError
from synco_core.receive.tarsafe import extract_stream

Members = list[tuple[tarfile.TarInfo, bytes]]


def _receive_tar(crafted: CraftedSession, server_for: Callable[..., CraftedServer], target: Path,
                 members: Members) -> Any:
    crafted.ready(crafted.private_set(tar_bytes(*members)))
    return run_receive(crafted, server_for(crafted.web_root).url, target)


def _assert_refused(result: Any, target: Path) -> None:
    assert result.exit_code == 1, result.output
    assert "unsafe" in result.output, result.output
    assert not (target / "files").exists(), "nothing of the archive is kept"
    assert not list(target.glob("files.synco-part")), "nor its staging folder"


@pytest.mark.parametrize("target_path", ["../outside", "../../etc/passwd", "/etc/passwd", "a/../../x", "./../x",
                                         "sub/../../x", "..", "../files/x"])
def test_a_lone_link_out_of_the_set_is_refused(crafted: CraftedSession, crafted_server: Callable[..., CraftedServer],
                                               tmp_path: Path, target_path: str) -> None:
    """Nothing is written through it: the link alone is what must be refused (the suite must notice)."""
    target = tmp_path / "t"
    result = _receive_tar(crafted, crafted_server, target, [directory("sub"), symlink("link", target_path)])
    _assert_refused(result, target)


CHAINS: dict[str, Members] = {
    "dot-then-up": [symlink("s0", "."), symlink("s1", "s0/..")],
    "up-from-a-link-to-the-root": [directory("d"), symlink("d/up", ".."), symlink("x", "d/up/..")],
    "up-after-a-missing-folder": [symlink("a", "b/.."), symlink("b", ".")],
    "a-link-replaced-later": [symlink("d", "sub"), directory("sub"), symlink("a", "d/.."), symlink("d", ".")],
    "deep-chain": [symlink("s0", ".")] + [symlink(f"s{n}", f"s{n - 1}/..") for n in range(1, 8)],
    "through-a-nested-link": [directory("a"), symlink("a/b", "../c"), symlink("c", "."), symlink("x", "a/b/..")],
    "loop": [symlink("l1", "l2/x"), symlink("l2", "l1/y"), symlink("z", "l1/..")],
    "file-replaced-by-a-link": [directory("sub"), file("f", b"x"), symlink("f", "sub"), symlink("g", "f/..")],
}


@pytest.mark.parametrize("members", CHAINS.values(), ids=CHAINS.keys())
def test_chains_of_links_that_leave_the_set_are_refused(crafted: CraftedSession,
                                                        crafted_server: Callable[..., CraftedServer],
                                                        tmp_path: Path, members: Members) -> None:
    """Each target alone passes a check on its text (``s0/..`` is ``.``); on the file system they leave."""
    target = tmp_path / "t"
    _assert_refused(_receive_tar(crafted, crafted_server, target, members), target)


WRITES_THROUGH: dict[str, Members] = {
    "through-a-chain": [symlink("s0", "."), symlink("s1", "s0/.."), file("s1/escape.txt", b"evil")],
    "through-a-link-inside": [directory("sub"), symlink("in", "sub"), file("in/x.txt", b"x")],
    "folder-through-a-link": [directory("sub"), symlink("in", "sub"), directory("in/deeper")],
    "hard-link-through-a-chain": [symlink("s0", "."), symlink("s1", "s0/.."), hardlink("h", "s1/victim.txt")],
    "hard-link-out": [hardlink("h", "../victim.txt")],
    "hard-link-to-a-link": [file("a", b"x"), symlink("l", "a"), hardlink("h", "l")],
    "hard-link-to-a-folder": [directory("d"), hardlink("h", "d")],
    "hard-link-to-nothing": [hardlink("h", "missing")],
    "hard-link-to-a-later-file": [hardlink("h", "later"), file("later", b"x")],
}


@pytest.mark.parametrize("members", WRITES_THROUGH.values(), ids=WRITES_THROUGH.keys())
def test_nothing_is_written_through_a_link(crafted: CraftedSession, crafted_server: Callable[..., CraftedServer],
                                           tmp_path: Path, members: Members) -> None:
    (tmp_path / "victim.txt").write_text("keep me\n")
    target = tmp_path / "t"
    _assert_refused(_receive_tar(crafted, crafted_server, target, members), target)
    assert (tmp_path / "victim.txt").read_text() == "keep me\n"
    assert not list(tmp_path.glob("escape.txt"))


def test_links_and_hard_links_inside_the_set_are_kept(crafted: CraftedSession,
                                                      crafted_server: Callable[..., CraftedServer],
                                                      tmp_path: Path) -> None:
    target = tmp_path / "t"
    members = [directory("releases/5"), file("releases/5/app.txt", b"v5"), symlink("current", "releases/5"),
               symlink("releases/5/self", "../5/app.txt"), hardlink("copy.txt", "releases/5/app.txt"),
               symlink("forward", "later/file.txt"), file("later/file.txt", b"later"), symlink("here", ".")]
    result = _receive_tar(crafted, crafted_server, target, members)
    assert result.exit_code == 0, result.output
    files = target / "files"
    assert (files / "current" / "app.txt").read_bytes() == b"v5"
    assert (files / "releases/5/self").read_bytes() == b"v5"
    assert (files / "copy.txt").stat().st_ino == (files / "releases/5/app.txt").stat().st_ino
    assert (files / "forward").read_bytes() == b"later"


def test_a_chain_cannot_carry_a_later_set_out_of_the_project(crafted: CraftedSession,
                                                             crafted_server: Callable[..., CraftedServer],
                                                             register_plugin: Any, tmp_path: Path) -> None:
    """The issue's attack: set A plants a chain reaching above the project, set B's path runs through it."""
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    (project / MARKER).write_text("")
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep me\n")
    register_plugin(LocalSite({"a": "data", "b": "data/s2/victim"}), "localsite")
    chain = [symlink("s0", "."), symlink("s1", "s0/.."), symlink("s2", "s1/..")]
    crafted.ready(crafted.private_set(tar_bytes(*chain), name="a", relative_base_path="data"),
                  crafted.private_set(tar_bytes(file("evil.txt", b"evil")), name="b",
                                      relative_base_path="data/s2/victim"))
    server = crafted_server(crafted.web_root)
    result = CliRunner().invoke(cli, ["receive", crafted.session_id, crafted.key, "--base-url", server.url,
                                      "--target", str(tmp_path / "dump"), "--all", "--install", "--yes",
                                      "--project", str(project)])
    assert result.exit_code == 1, result.output
    assert sorted(p.name for p in victim.iterdir()) == ["precious.txt"]
    assert not list(tmp_path.glob(".victim*"))


# ------------------------------------------------------------------------------------------ properties

_NAMES = st.sampled_from(["a", "b", "c", "d/e", "d"])
_TARGETS = st.lists(st.sampled_from([".", "..", "a", "b", "c", "d", "e"]), min_size=1, max_size=5).map("/".join)
_MEMBER = st.one_of(
    st.tuples(st.just("link"), _NAMES, _TARGETS),
    st.tuples(st.just("dir"), _NAMES, st.just("")),
    st.tuples(st.just("file"), _NAMES, st.just("")),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_MEMBER, max_size=7))
def test_whatever_is_accepted_stays_inside_once_everything_is_extracted(tmp_path_factory: Any,
                                                                        members: list[tuple[str, str, str]]) -> None:
    """After an accepted extraction, every link still resolves inside (later members cannot change that)."""
    root = tmp_path_factory.mktemp("x") / "set"
    built = [symlink(name, target) if kind == "link" else directory(name) if kind == "dir" else file(name, b"x")
             for kind, name, target in members]
    try:
        extract_stream(io.BytesIO(tar_bytes(*built)), root)
    except SyncoError:
        return
    fd = open_root(root)
    try:
        for folder, dirs, names in os.walk(root):
            for name in dirs + names:
                path = Path(folder) / name
                if path.is_symlink():
                    relative = path.relative_to(root)
                    try:
                        resolve_beneath(fd, relative.parent.parts, os.readlink(path), str(relative))
                    except UnsafePathError as exc:
                        # A loop of links (a -> a) resolves nowhere, which is harmless; leaving is not.
                        if "links on the way" not in str(exc):
                            raise AssertionError(f"{relative} -> {os.readlink(path)} leaves after extraction: "
                                                 f"{exc}") from None
                    assert os.path.realpath(path).startswith(os.path.realpath(root)), relative
    finally:
        os.close(fd)
