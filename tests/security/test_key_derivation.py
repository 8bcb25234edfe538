"""Issue 14, item 8: bounded key derivation.

A session may ask for at most 2^20 of scrypt work (``synco decrypt`` still opens age files up to 2^22), and
a receive derives each distinct key once: polling a meta that has not changed costs nothing.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from crafted_session import PASSPHRASE, CraftedServer, CraftedSession, error_lines, run_receive

from synco_core import age
from synco_core.age import recipients
from synco_core.receive import HttpTransport, ReceiveOptions, receive_session
from synco_core.receive.meta import SESSION_MAX_WORK_FACTOR


def _with_work_factor(data: bytes, work_factor: int) -> bytes:
    """An age file whose scrypt stanza claims another work factor (checked before any derivation)."""
    line_end = data.index(b"\n", data.index(b"-> scrypt "))
    stanza = data[:line_end].rsplit(b" ", 1)
    return stanza[0] + b" " + str(work_factor).encode() + data[line_end:]


@pytest.mark.parametrize("work_factor", [21, 22, 30])
def test_a_session_asking_for_more_than_2_20_is_refused_at_once(crafted_server: Callable[..., CraftedServer],
                                                                tmp_path: Path, work_factor: int) -> None:
    session = CraftedSession(tmp_path / "web", passphrase=PASSPHRASE)
    session.ready(session.dump_set())
    meta = session.folder / "meta.json.enc"
    meta.write_bytes(_with_work_factor(meta.read_bytes(), work_factor))
    started = time.process_time()
    result = run_receive(session, crafted_server(session.web_root).url, tmp_path / "t")
    assert time.process_time() - started < 5, "no key was derived"
    assert result.exit_code == 1, result.output
    [line] = error_lines(result.output)
    assert f"scrypt work factor {work_factor} is above the limit of {SESSION_MAX_WORK_FACTOR}" in line


def test_synco_decrypt_keeps_ages_own_limit() -> None:
    """Plain age files made by hand may use up to 2^22, as age itself allows."""
    identity: Any = age.parse_identity(PASSPHRASE)
    assert identity.max_work_factor == recipients.MAX_WORK_FACTOR == 22


def test_polling_an_unchanged_meta_derives_no_key_again(crafted_server: Callable[..., CraftedServer],
                                                        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A session being prepared is polled many times; each version of its meta costs one derivation."""
    session = CraftedSession(tmp_path / "web", passphrase=PASSPHRASE + "-poll")
    session.write_meta(session.meta_fields() | {"fileSets": []}, name="ready.tmp")
    session.write_meta(session.meta_fields(state="Initializing") | {"fileSets": []})
    derivations: list[int] = []
    real = recipients._scrypt_key

    def counting(passphrase: str, salt: bytes, work_factor: int) -> bytes:
        derivations.append(work_factor)
        return real(passphrase, salt, work_factor)

    monkeypatch.setattr(recipients, "_scrypt_key", counting)
    server = crafted_server(session.web_root)
    meta = f"/{session.session_id}/meta.json.enc"

    def finish() -> None:
        # After a number of polls, not a time: a derivation slowed by a loaded machine must not make the
        # session ready before it has been polled enough to show anything.
        deadline = time.monotonic() + 60
        while len(server.requests_for(meta)) < 15 and time.monotonic() < deadline:
            time.sleep(0.01)
        os.replace(session.folder / "ready.tmp", session.folder / "meta.json.enc")

    threading.Thread(target=finish, daemon=True).start()
    transport = HttpTransport(server.url)
    try:
        summary = receive_session(transport, session.session_id, session.key,
                                  ReceiveOptions(target=tmp_path / "t", all=True, poll_interval=0.02, timeout=30))
    finally:
        transport.close()
    polls = len(server.requests_for(meta))
    assert polls > 10, "the meta was polled"
    assert summary.meta.state == "Ready"
    assert len(derivations) <= 2, f"{len(derivations)} key derivations for {polls} polls of two meta versions"
