"""``BelowRoot``: files below a root reached by their relative path with no link followed on the way, whatever
was swapped since, and with the full path in every error."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from test_serve_wild_trees import as_unprivileged

from synco_core.beneath import BelowRoot


def test_files_are_reached_below_the_root_and_never_through_a_link(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    (outside / "b").mkdir(parents=True)
    (outside / "b" / "f").write_text("secret")
    root = tmp_path / "root"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "f").write_text("inside")
    (root / "a" / "g").write_text("g")
    below = BelowRoot(root)
    try:
        # Down from the folder kept, then back up, then down again: each time the file below the root.
        for relative, content in (("a/g", b"g"), ("a/b/f", b"inside"), ("a/g", b"g"), ("a/b/f", b"inside")):
            fd = below.open(relative, os.O_RDONLY)
            with os.fdopen(fd, "rb") as handle:
                assert handle.read() == content
        # The folder kept (a/b) swapped for a link out: what is read is still the removed folder (gone), and
        # from the root again (after another folder) the link refuses it; named in full either way.
        shutil.rmtree(root / "a" / "b")
        (root / "a" / "b").symlink_to(outside / "b")
        for expected in ((errno.ENOENT,), (errno.ELOOP, errno.ENOTDIR)):
            with pytest.raises(OSError) as caught:
                below.open("a/b/f", os.O_RDONLY)
            assert caught.value.errno in expected and caught.value.filename == os.path.join(root, "a/b/f")
            os.close(below.open("a/g", os.O_RDONLY))
        shutil.rmtree(root / "a")
        (root / "a").symlink_to(outside)
        (root / "top").write_text("top")
        os.close(below.open("top", os.O_RDONLY))
        for step in (below.lstat, below.readlink, lambda relative: below.open(relative, os.O_RDONLY)):
            with pytest.raises(OSError) as caught:
                step("a/b/f")
            assert caught.value.errno in (errno.ELOOP, errno.ENOTDIR)
    finally:
        below.close()


def test_a_folder_that_may_be_searched_but_not_listed_is_passed_through() -> None:
    """Mode 0711 (a web server's folder serve may pass, not list): a file in it whose name serve was given
    (a plugin's entry) is reached, as a full path's lookup reaches it."""
    # Outside pytest's own root, which a pytest session starting meanwhile sets back to mode 0700.
    base = Path(tempfile.mkdtemp(prefix="synco-below-root-"))
    base.chmod(0o711)
    root = base / "root"
    (root / "hidden").mkdir(parents=True)
    (root / "hidden" / "f").write_text("readable")
    (root / "hidden" / "f").chmod(0o644)
    (root / "hidden").chmod(0o711)
    root.chmod(0o755)

    def read() -> bytes:
        below = BelowRoot(root)
        try:
            with os.fdopen(below.open("hidden/f", os.O_RDONLY), "rb") as handle:
                return handle.read()
        finally:
            below.close()

    try:
        assert as_unprivileged(root, read, give=False) == b"readable"
    finally:
        shutil.rmtree(base)
