"""A session of a newer synco, as this receive sees it: refused in words that name the upgrade.

A newer serve is simulated by editing the meta of a session this serve built, as a newer writer would
write it: a compression, a state, an index format or a file set type this synco does not know. Each was
refused before, but as damage ("unsupported compression", "malformed meta: unknown state") with the advice
to ask for a new session or check the server, which a newer session cannot fix. Now every such value stops
the receive in words naming this synco's version and the upgrade, with nothing half-written.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from test_receive_bad_input import SESSION, build, receive
from test_transfer_support import fixture_app_fixture, static_server  # noqa: F401

from synco_core import __version__, age
from synco_core.receive.meta import identities_for
from synco_core.serve import SessionFolder, SessionKey
from synco_core.wire import META_FILE

UPGRADE = f"which this synco ({__version__}) does not know: the session needs a newer synco here; upgrade synco on " \
          "this machine"


def newer_meta(web: Path, key: SessionKey, change: Callable[[dict[str, Any]], None]) -> None:
    """Rewrite the session's meta as a newer serve would have written it (same key, same artifacts)."""
    folder = SessionFolder(web / SESSION, key.recipients)
    data = json.loads(age.decrypt_bytes((folder.path / META_FILE).read_bytes(), identities_for(key.secret)))
    change(data)
    folder.write_small(META_FILE, json.dumps(data).encode())


def detail(data: dict[str, Any], key: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s[key] for s in data["fileSets"] if key in s)
    return found


#: Whole-session refusals: the meta itself cannot be read by this synco.
WHOLE = {
    "state": (lambda d: d.update(state="Sealed"), "the meta's state is 'Sealed'"),
    "dump-compression": (lambda d: detail(d, "sqliteDump").update(compression="brotli"),
                         "file set 'dbDump' is compressed with 'brotli'"),
    "tar-compression": (lambda d: detail(d, "privateEncryptedFiles").update(compression="xz"),
                        "file set 'private' is compressed with 'xz'"),
    "must-understand": (lambda d: d.update(mustUnderstand=["leftOutCount", "deltaIndex"]),
                        "the session needs deltaIndex"),
}
#: One set refused, the others received: the advice names the upgrade.
ONE_SET = {
    "index-format": (lambda d: detail(d, "publicFiles").update(indexFormat=4),
                     "uploads (PublicFiles) - the public files index is of format 4"),
    "set-type": (lambda d: d["fileSets"].append({"name": "cache", "type": "RedisDump", "redisDump": {"fileName": "x"}}),
                 "cache (RedisDump) - file set type 'RedisDump'"),
    "set-must-understand": (lambda d: public_entry(d).update(mustUnderstand=["deltaIndex"]),
                            "uploads (PublicFiles) - file set 'uploads' needs deltaIndex"),
}


def public_entry(data: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in data["fileSets"] if "publicFiles" in s)
    return found


def run(fixture_app: Path, tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> tuple[Any, Path]:
    key = build(fixture_app)
    newer_meta(fixture_app / "web", key, change)
    target = tmp_path / "t"
    with static_server(fixture_app / "web") as (url, _):
        return receive(url, key.secret, target), target


def no_half_written(target: Path) -> None:
    leftovers = [p for p in target.rglob("*") if p.name.endswith((".part", ".synco-part", ".tmp"))]
    assert not leftovers, leftovers


@pytest.mark.parametrize("case", list(WHOLE))
def test_a_newer_meta_is_refused_naming_the_upgrade(fixture_app: Path, tmp_path: Path, case: str) -> None:
    change, what = WHOLE[case]
    result, target = run(fixture_app, tmp_path, change)
    assert result.exit_code == 1, result.output
    assert result.output.strip().splitlines() == [f"Error: {what}, {UPGRADE}"]
    assert not target.exists() or not any(target.iterdir())


@pytest.mark.parametrize("case", list(ONE_SET))
def test_a_set_of_a_newer_form_fails_with_the_upgrade_as_advice(fixture_app: Path, tmp_path: Path, case: str) -> None:
    change, what = ONE_SET[case]
    result, target = run(fixture_app, tmp_path, change)
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert f"  failed     {what}, {UPGRADE}" in lines, result.output
    assert lines[-1].endswith("part of the session is in a form only a newer synco reads (see above); running the "
                              "same command again would get the same: upgrade synco on this machine, then receive "
                              "again."), result.output
    assert "ask for a new session" not in result.output
    # The sets this synco reads arrived, and the refused one left nothing under a final name.
    assert (target / "dbDump.sqlite").exists() and (target / "private").is_dir()
    if case in ("index-format", "set-must-understand"):
        assert not (target / "uploads").exists() and not (target / ".uploads.synco-new").exists()
    no_half_written(target)


@pytest.mark.parametrize("where", ["meta", "set"])
def test_delete_removes_nothing_a_newer_session_asks_to_be_understood(fixture_app: Path, tmp_path: Path,
                                                                      where: str) -> None:
    """A newer writer names in ``mustUnderstand`` what a reader must not ignore (an index that lists only part
    of the folder, say): under ``--delete`` a reader that went on without it would remove the laptop's copies
    of every file it does not list. The set (or the session) is refused instead, and nothing is removed."""
    key = build(fixture_app)
    target = tmp_path / "t"
    with static_server(fixture_app / "web") as (url, _):
        assert receive(url, key.secret, target).exit_code == 0
    mine = target / "uploads" / "local only.bin"
    mine.write_bytes(b"the laptop's own")
    before = sorted(str(p.relative_to(target)) for p in (target / "uploads").rglob("*"))

    def partial_index(data: dict[str, Any]) -> None:
        (data if where == "meta" else public_entry(data)).update(mustUnderstand=["partialIndex"])

    newer_meta(fixture_app / "web", key, partial_index)
    with static_server(fixture_app / "web") as (url, _):
        result = receive(url, key.secret, target, "--delete")
    assert result.exit_code == 1, result.output
    assert "needs partialIndex" in result.output
    assert sorted(str(p.relative_to(target)) for p in (target / "uploads").rglob("*")) == before
    assert mine.read_bytes() == b"the laptop's own"
