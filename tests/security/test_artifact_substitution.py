"""An artifact served in another's place: refused as such, nothing of it kept, the laptop's data untouched.

Whoever controls the web server (or the network, or a cache in front of it) but not the session key can
still move the session's own files around: every artifact of a session is encrypted to the same key, so
the dump, an index, a private tar, a pack table or a pack served under another's name decrypts and
authenticates, whole, with its final chunk. Only the meta, which the attacker cannot forge, says what each
name must hold (sizes, SHA-256). A substitute must therefore be refused as what the server sent, never taken
for a download cut short ("run the same command again to continue", with the substitute kept as a part file
that the next run continues and fails on again): running again gets the same substitute.

The session is a real one (serve's build, two public sets with packs, a private set, a dump) published by a
real HTTP server; every artifact is served in place of every other.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from test_transfer_support import fixture_app_fixture, publish, static_server, tree_digest  # noqa: F401

from synco_core.cli.main import cli
from synco_core.receive import HttpTransport, ReceiveOptions, receive_session
from synco_core.receive.session import ReceiveSummary
from synco_core.serve.server import start_server

SESSION = "synco-5b571707e0123456789abcde"

#: What the laptop held before: each set's earlier copy, which a refused set must leave as it was.
OLD_DUMP = b"the laptop's earlier dump"
OLD_FILE = "earlier.txt"


def _laptop(target: Path) -> None:
    target.mkdir(parents=True)
    (target / "dbDump.sqlite").write_bytes(OLD_DUMP)
    for folder in ("private", "uploads", "thumbs"):
        (target / folder).mkdir()
        (target / folder / OLD_FILE).write_text(f"the laptop's own {folder}\n")


def _check(summary: ReceiveSummary, app: Path, target: Path, what: str) -> list[str]:
    """What is wrong with the laptop after ``summary``: each set as the server has it, or refused and untouched."""
    wrong = []
    halves = [str(path.relative_to(target)) for path in target.rglob("*") if "part" in path.name]
    if halves:
        wrong.append(f"{what}: half-written files left: {halves}")
    def public(name: str) -> bool:
        server = {path: digest for path, digest in tree_digest(app / "web" / name).items() if path != "skip.tmp"}
        return tree_digest(target / name) == {**server, OLD_FILE: tree_digest(target / name).get(OLD_FILE)}

    expected = {
        "dbDump": lambda: (target / "dbDump.sqlite").read_bytes() == (app / "data.db").read_bytes(),
        "private": lambda: tree_digest(target / "private") == tree_digest(app / "private"),
        "uploads": lambda: public("uploads"),
        "thumbs": lambda: public("thumbs"),
    }
    untouched = {
        "dbDump": lambda: (target / "dbDump.sqlite").read_bytes() == OLD_DUMP,
        "private": lambda: [p.name for p in (target / "private").iterdir()] == [OLD_FILE],
        "uploads": lambda: [p.name for p in (target / "uploads").iterdir()] == [OLD_FILE],
        "thumbs": lambda: [p.name for p in (target / "thumbs").iterdir()] == [OLD_FILE],
    }
    for outcome in summary.sets:
        if outcome.status in ("downloaded", "skipped"):
            if not expected[outcome.name]():
                wrong.append(f"{what}: {outcome.name} was taken, but is not what the server has")
            continue
        if outcome.cause != "refused":
            wrong.append(f"{what}: {outcome.name} failed as if running again could help ({outcome.detail})")
        if not untouched[outcome.name]():
            wrong.append(f"{what}: {outcome.name} failed, but the laptop's copy was changed")
    if not summary.ok and summary.retryable:
        wrong.append(f"{what}: the receive says running again may finish it")
    return wrong


@pytest.mark.parametrize("victim", ["dump.sqlite.zst.enc", "encrypted-resources-private",
                                    "Resources-uploads.index.json.enc", "Resources-uploads.packs.json.enc",
                                    "Resources-uploads.pack-00000.enc"])
def test_any_artifact_served_in_anothers_place_is_refused_never_resumed(fixture_app: Path, tmp_path: Path,
                                                                        victim: str) -> None:
    key = publish(fixture_app, SESSION, all=True)
    folder = fixture_app / "web" / SESSION
    pristine = tmp_path / "pristine"
    shutil.copytree(folder, pristine)
    substitutes = sorted(path.name for path in pristine.iterdir() if path.name != victim)
    assert victim in {path.name for path in pristine.iterdir()} and len(substitutes) >= 8, substitutes
    wrong: list[str] = []
    with static_server(fixture_app / "web") as (url, _behaviour):
        for number, substitute in enumerate(substitutes):
            shutil.copyfile(pristine / substitute, folder / victim)
            target = tmp_path / f"laptop-{number}"
            _laptop(target)
            summary = receive_session(HttpTransport(url), SESSION, key.secret, ReceiveOptions(target=target, all=True))
            wrong += _check(summary, fixture_app, target, f"{substitute} served as {victim}")
            # The server has its files right again: one more run takes everything, nothing of the substitute in
            # its way.
            shutil.copyfile(pristine / victim, folder / victim)
            again = receive_session(HttpTransport(url), SESSION, key.secret, ReceiveOptions(target=target, all=True))
            if not again.ok:
                wrong.append(f"{substitute} served as {victim}, then the right file: "
                             f"{[(o.name, o.detail) for o in again.sets if o.status not in ('downloaded', 'skipped')]}")
    assert not wrong, "\n".join(wrong)


def test_a_substituted_archive_is_one_refusal_with_no_advice_to_run_again(fixture_app: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    key = publish(fixture_app, SESSION, only=("private", "uploads"))
    folder = fixture_app / "web" / SESSION
    # A whole, authentic age file of the session that is no tar: the index of the other set.
    shutil.copyfile(folder / "Resources-uploads.index.json.enc", folder / "encrypted-resources-private")
    target = tmp_path / "laptop"
    with static_server(fixture_app / "web") as (url, _behaviour):
        for _run in range(2):
            result = CliRunner().invoke(cli, ["receive", SESSION, key.secret, "--base-url", url,
                                              "--target", str(target), "--all"])
            assert result.exit_code == 1, result.output
            assert "running the same command again would get the same" in result.output, result.output
            assert "run the same command again" not in result.output, result.output
            assert not [path for path in target.rglob("*") if "part" in path.name]
            assert not (target / "private").exists()
            assert [line for line in result.output.splitlines() if line.startswith("  failed")] == [
                "  failed     private (PrivateEncryptedFiles) - the private files archive is damaged: invalid header"]


@pytest.mark.parametrize("victim, part, name", [("dump.sqlite.zst.enc", "dbDump.sqlite", "dbDump"),
                                                ("encrypted-resources-private", "private.tar", "private")])
def test_a_part_file_begun_on_another_file_costs_one_whole_download_not_a_refusal(
        fixture_app: Path, tmp_path: Path, victim: str, part: str, name: str) -> None:
    """What a part file holds came from an earlier run: a substitute cut off mid-way (the server, or a cache,
    has the right file now), or the same set of an earlier serve under the same ``--id``. Continued, it makes
    a stream that fails authentication or the meta's checks; that says nothing of the server's file, which
    is then fetched whole in the same run (never "refused", whose advice to ask for a new session is wrong)."""
    key = publish(fixture_app, SESSION, all=True)
    folder = fixture_app / "web" / SESSION
    earlier = publish(fixture_app, SESSION, all=True, password="an earlier serve's passphrase", work_factor=10)
    old = tmp_path / "earlier"
    (fixture_app / "web" / SESSION).rename(old)
    key = publish(fixture_app, SESSION, all=True)
    assert earlier.secret != key.secret
    sources = sorted(folder.iterdir()) + sorted(old.iterdir())
    victim_size = (folder / victim).stat().st_size
    wrong: list[str] = []
    # serve --listen's own server answers ranges, so a part file is continued (Python's http.server is not).
    server = start_server(fixture_app / "web", "127.0.0.1:0")
    try:
        for number, source in enumerate(sources):
            data = source.read_bytes()
            for length in sorted({200, 65552, len(data)}):
                if not 0 < length < victim_size:
                    continue
                target = tmp_path / f"laptop-{number}-{length}"
                _laptop(target)
                (target / f"{part}.{SESSION}.enc.part").write_bytes(data[:length])
                summary = receive_session(HttpTransport(server.url), SESSION, key.secret,
                                          ReceiveOptions(target=target, only=(name,)))
                assert [outcome.name for outcome in summary.sets] == [name]
                what = f"a part of {length} bytes of {source.parent.name}/{source.name} for {victim}"
                if not summary.ok:
                    wrong.append(f"{what}: {[(o.name, o.cause, o.detail) for o in summary.sets if o.detail]}")
                wrong += _check(summary, fixture_app, target, what)
    finally:
        server.stop()
    assert not wrong, "\n".join(wrong)


def test_a_file_cut_short_on_the_server_is_refused_never_resumed(fixture_app: Path, tmp_path: Path) -> None:
    """Every file of the session cut short on the server (a disk that filled while it was copied, an rsync
    stopped midway) and served whole as it is, with a Content-Length it meets: running again gets the same
    bytes, so each is a refusal naming the server's file as shorter, with nothing kept to resume from; never
    "run the same command again to continue"."""
    key = publish(fixture_app, SESSION, all=True)
    folder = fixture_app / "web" / SESSION
    pristine = tmp_path / "pristine"
    shutil.copytree(folder, pristine)
    victims = sorted(path.name for path in pristine.iterdir() if not path.name.startswith("meta."))
    assert "dump.sqlite.zst.enc" in victims and "Resources-uploads.packs.json.enc" in victims, victims
    wrong: list[str] = []
    with static_server(fixture_app / "web") as (url, _behaviour):
        for number, victim in enumerate(victims):
            data = (pristine / victim).read_bytes()
            for length in sorted({len(data) // 2, len(data) - 1}):
                (folder / victim).write_bytes(data[:length])
                target = tmp_path / f"laptop-{number}-{length}"
                _laptop(target)
                what = f"{victim} cut to {length} of {len(data)} bytes"
                for _run in range(2):
                    summary = receive_session(HttpTransport(url), SESSION, key.secret,
                                              ReceiveOptions(target=target, all=True))
                    wrong += _check(summary, fixture_app, target, what)
            (folder / victim).write_bytes(data)
    assert not wrong, "\n".join(wrong)



PASSPHRASE = "one passphrase for both serves"


def _two_serves(fixture_app: Path, tmp_path: Path) -> tuple[Any, dict[str, bytes]]:
    """The session served twice under one ``--id`` and passphrase: (the key, every pack table of both serves
    by a name saying which: ``earlier/<name>`` or ``<name>``). Each table decrypts with the key, and an earlier
    serve's table of the same set is as long as the set's own."""
    publish(fixture_app, SESSION, password=PASSPHRASE, all=True)
    folder = fixture_app / "web" / SESSION
    earlier = {f"earlier/{path.name}": path.read_bytes() for path in folder.glob("*.packs.json.enc")}
    shutil.rmtree(folder)
    key = publish(fixture_app, SESSION, password=PASSPHRASE, all=True)
    tables = {path.name: path.read_bytes() for path in folder.glob("*.packs.json.enc")}
    assert len(tables) >= 2 and len(earlier) == len(tables), (tables, earlier)
    assert any(len(earlier[f"earlier/{name}"]) == len(data) for name, data in tables.items())
    return key, {**tables, **earlier}


def test_a_pack_table_in_anothers_place_is_refused_in_one_warning(fixture_app: Path, tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    """Every pack table decrypts with the session's key, so another set's table, or the set's own table of an
    earlier serve under the same ``--id`` and passphrase (as long as the right one), served in its place was
    taken: its packs hold other files, each then fetched by its own URL with no word of why. The meta binds
    each table by its SHA-256: any table but the listed one is refused in one warning naming it, the set's
    files still arrive (each checked against the index), and the right table is used as before."""
    import logging

    key, tables = _two_serves(fixture_app, tmp_path)
    folder = fixture_app / "web" / SESSION
    cases = [(None, None)] + [(victim, substitute) for victim in tables if "/" not in victim
                              for substitute in tables if substitute != victim]
    with static_server(fixture_app / "web") as (url, _behaviour):
        for number, (victim, substitute) in enumerate(cases):
            if victim is not None and substitute is not None:
                (folder / victim).write_bytes(tables[substitute])
            target = tmp_path / f"laptop-{number}"
            _laptop(target)
            caplog.clear()
            with caplog.at_level(logging.WARNING, logger="synco_core.receive"):
                summary = receive_session(HttpTransport(url), SESSION, key.secret,
                                          ReceiveOptions(target=target, all=True))
            what = f"{substitute} as {victim}"
            assert summary.ok, (what, summary.sets)
            assert not _check(summary, fixture_app, target, what)
            warnings = [record.getMessage() for record in caplog.records if "pack table" in record.getMessage()]
            if victim is None:
                assert warnings == []
            else:
                assert len(warnings) == 1 and f"{victim} is not the pack table the session lists" in warnings[0], \
                    (what, warnings)
                (folder / victim).write_bytes(tables[victim])


def test_a_pack_table_is_checked_only_where_the_meta_binds_it(fixture_app: Path, tmp_path: Path) -> None:
    """Sessions from before the binding (no ``packsSha256``) still use the table they are served; a bound one
    is refused whenever its bytes are not the listed ones."""
    import dataclasses

    from synco_core.receive.directory import DirectoryTransport
    from synco_core.receive.limits import NotDeclaredError
    from synco_core.receive.meta import fetch_meta, identities_for
    from synco_core.receive.public_index import fetch_pack_table

    key, tables = _two_serves(fixture_app, tmp_path)
    folder = fixture_app / "web" / SESSION
    for name, data in tables.items():
        (folder / name.replace("earlier/", "earlier-")).write_bytes(data)
    transport = DirectoryTransport(fixture_app / "web")
    identities = identities_for(key.secret)
    meta = fetch_meta(transport, SESSION, identities)
    publics = [file_set.public for file_set in meta.file_sets if file_set.public and file_set.public.packs_file_name]
    assert len(publics) >= 2
    for public in publics:
        assert public.packs_sha256 is not None
        assert fetch_pack_table(transport, SESSION, public, identities)
        for other in tables:
            if other == public.packs_file_name:
                continue
            served = dataclasses.replace(public, packs_file_name=other.replace("earlier/", "earlier-"))
            with pytest.raises(NotDeclaredError, match="is not the pack table the session lists"):
                fetch_pack_table(transport, SESSION, served, identities)
            # An older session's meta says nothing of the table's hash: what is served is taken, as before.
            older = dataclasses.replace(served, packs_sha256=None, packs_size_bytes=None,
                                        packs_encrypted_size_bytes=None)
            assert fetch_pack_table(transport, SESSION, older, identities)
