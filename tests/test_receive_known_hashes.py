"""The hashes a receive keeps of what each local file of a public set was received as
(:mod:`synco_core.receive.knownhashes`): however the file rots, reading it never fails, never hangs, and
never names for a path a hash that was not noted for it (a wrong one only has the file fetched again)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synco_core.receive import knownhashes
from synco_core.receive.knownhashes import KnownHashes, known_hashes_file


def _noted(folder: Path, count: int = 6) -> tuple[Path, dict[str, str]]:
    hashes = {f"dir/file {number}.bin": hashlib.sha256(str(number).encode()).hexdigest() for number in range(count)}
    known = KnownHashes(known_hashes_file(folder, "uploads"))
    for path in sorted(hashes):
        known.note(path, hashes[path])
    known.commit()
    return known_hashes_file(folder, "uploads"), hashes


def _looked_up(path: Path, hashes: dict[str, str]) -> dict[str, str | None]:
    known = KnownHashes(path, write=False)
    return {name: known.lookup(name) for name in sorted(hashes)}


def test_noted_hashes_are_read_back_and_a_new_receive_replaces_them_only_when_committed(tmp_path: Path) -> None:
    path, hashes = _noted(tmp_path)
    assert _looked_up(path, hashes) == hashes
    discarded = KnownHashes(path)
    discarded.note("dir/file 0.bin", "0" * 64)
    discarded.discard()
    assert _looked_up(path, hashes) == hashes and not list(tmp_path.glob("*.part"))
    # The part file of a receive that was killed (its process gone) is removed by the next one.
    stale = path.with_name(f"{path.name}.{2 ** 22 + 4321}.part")
    stale.write_bytes(b"half")
    KnownHashes(path).discard()
    assert not stale.exists()


def test_a_killed_receives_part_files_go_with_the_very_next_receive(tmp_path: Path) -> None:
    """A receive killed while it wrote them leaves both drafts unlocked; the next receive (which holds the
    folder's receive lock, so no other receive is writing there) removes them however soon it runs: run again
    at once, as the error advises, they stayed until some receive a minute later that changed the set."""
    path, hashes = _noted(tmp_path)
    drafts = [path.with_name(f"{path.name}.t0123456789abcdef{suffix}") for suffix in (".part", ".partial.part")]
    for draft in drafts:
        draft.write_bytes(b"half")
    KnownHashes(path).discard()
    assert [draft for draft in drafts if draft.exists()] == []
    assert _looked_up(path, hashes) == hashes


def test_every_truncation_and_bit_flip_reads_safely(tmp_path: Path) -> None:
    path, hashes = _noted(tmp_path)
    whole = path.read_bytes()
    damaged = [whole[:length] for length in range(len(whole))]
    damaged += [whole[:at] + bytes([whole[at] ^ (1 << bit)]) + whole[at + 1:]
                for at in range(len(whole)) for bit in (0, 5, 7)]
    for data in damaged:
        path.write_bytes(data)
        for name, found in _looked_up(path, hashes).items():
            # The noted hash, none (size and mtime decide, as before), or one that is wrong for every file.
            assert found in (None, hashes[name]) or found not in hashes.values(), (data, name)


@pytest.mark.parametrize("kind", ["folder", "link", "fifo", "other format", "garbage"])
def test_anything_else_under_its_name_is_no_hashes(tmp_path: Path, kind: str) -> None:
    path, hashes = _noted(tmp_path)
    path.unlink()
    if kind == "folder":
        path.mkdir()
    elif kind == "link":
        elsewhere = tmp_path / "elsewhere"
        _noted(elsewhere.parent)
        os.replace(path, elsewhere) if path.exists() else None
        path.symlink_to(elsewhere)
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "other format":
        path.write_bytes(b"synco-known-sha256 0\n" + b"dir/file 0.bin\0" + b"0" * 64 + b"\n")
    else:
        path.write_bytes(os.urandom(4000))
    assert set(_looked_up(path, hashes).values()) == {None}


def _names(data: st.DataObject) -> list[str]:
    """Paths as a receive meets them: ASCII, other scripts, and bytes no encoding names (surrogateescape)."""
    parts = st.one_of(st.text(alphabet="ab/-. ", min_size=1, max_size=12),
                      st.text(alphabet="éü日本\u00a0", min_size=1, max_size=4),
                      st.binary(min_size=1, max_size=4).map(lambda raw: raw.replace(b"\0", b"x").replace(b"\n", b"y")
                                                            .decode("utf-8", "surrogateescape")))
    return sorted(set(data.draw(st.lists(parts, max_size=60))))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), read_block=st.integers(1, 300), block=st.integers(1, 9))
def test_files_written_and_read_back_are_the_format_whatever_the_block_sizes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data: st.DataObject, read_block: int, block: int) -> None:
    """Both drafts hold exactly ``path NUL sha256 LF`` per noted file (PENDING for a file to fetch in the
    partial one), and a lookup in path order finds exactly what was noted, however the lines fall across the
    reader's blocks and the writer's batches."""
    monkeypatch.setattr(knownhashes, "READ_BLOCK", read_block)
    monkeypatch.setattr(knownhashes, "BLOCK", block)
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    names = _names(data)
    noted = {name: (data.draw(st.text(alphabet="0123456789abcdefABCDEF", min_size=64, max_size=64)),
                    data.draw(st.booleans())) for name in names}
    path = known_hashes_file(folder, "uploads")
    for partial in (False, True):
        known = KnownHashes(path)
        for name in names:
            known.note(name, noted[name][0], current=noted[name][1])
        known.keep_partial() if partial else known.commit()
        lines = (f"{name}\0{sha.lower() if current or not partial else knownhashes.PENDING}\n"
                 for name, (sha, current) in noted.items())
        body = knownhashes.HEADER + b"".join(line.encode("utf-8", "surrogateescape") for line in lines)
        assert path.read_bytes() == body + b"end " + hashlib.sha256(body).hexdigest().encode() + b"\n"
        absent = sorted({name + suffix for name in names for suffix in ("", "0", "/x")} | {"", "zz"})
        reader = KnownHashes(path, write=False)
        found = {name: reader.lookup(name) for name in absent}
        assert found == {name: ((noted[name][0].lower() if noted[name][1] or not partial else knownhashes.PENDING)
                                if name in noted else None) for name in absent}


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), read_block=st.integers(1, 300), block=st.integers(1, 9))
def test_current_is_holds_then_note_whatever_the_old_file_says(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data: st.DataObject, read_block: int, block: int) -> None:
    """``current`` (the merge's one step for a file of the index's size and mtime) answers what ``holds``
    answers and, when it holds, leaves both drafts byte for byte as ``note`` would: through old files
    whose lines name the same hash (in either case), another, PENDING or none, and new hashes in any case,
    with the old file's lines copied across the reader's and writer's blocks."""
    monkeypatch.setattr(knownhashes, "READ_BLOCK", read_block)
    monkeypatch.setattr(knownhashes, "BLOCK", block)
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    local = folder / "local.bin"
    local.write_bytes(b"what the local file holds")
    local_sha = hashlib.sha256(local.read_bytes()).hexdigest()
    hashes = st.sampled_from([local_sha, local_sha.upper(), "a" * 64, "B" * 64, knownhashes.PENDING])
    names = _names(data)
    old = {name: data.draw(hashes) for name in names if data.draw(st.booleans())}
    new = {name: data.draw(hashes) for name in names}
    path = known_hashes_file(folder, "uploads")
    if data.draw(st.booleans()):
        known = KnownHashes(path)
        for name in sorted(old):
            known.note(name, old[name])
        known.commit()
    saved = path.read_bytes() if path.exists() else None

    def receive(one_step: bool, commit: bool) -> tuple[list[bool], bytes]:
        known = KnownHashes(path)
        said = []
        for name in names:
            if one_step:
                holds = known.current(name, new[name], os.fspath(local))
            else:
                holds = known.holds(name, new[name].lower(), os.fspath(local))
                if holds:
                    known.note(name, new[name], current=True)
            if not holds:
                known.note(name, new[name], current=False)
            said.append(holds)
        known.commit() if commit else known.keep_partial()
        written = path.read_bytes()
        # The next receive starts from the same old file.
        if saved is not None:
            path.write_bytes(saved)
        else:
            path.unlink()
        return said, written

    for commit in (False, True):
        assert receive(True, commit) == receive(False, commit)
