"""serve stopped where it cannot finish: its removal of the session cut short, or stopped before Ready.

A container's grace period (``docker stop``: 10 s, Kubernetes: 30 s) ends in SIGKILL, and a person
presses Ctrl-C twice. A removal of the session folder cut short at any file must leave what the next serve
recognises and removes; a removal that took the TTL marker before the rest left encrypted packs in the web
root that nobody would ever remove. And a serve stopped before its session was ready is an interrupted
command: exit status 128 plus the signal's number, as docs/configuration.md promises for every command.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from test_transfer_support import fixture_app_fixture  # noqa: F401

from synco_core.detection import detect
from synco_core.scratch import ScratchFolder
from synco_core.serve.runner import PublishedSession, ServeOptions, SessionStopped, serve
from synco_core.serve.server import AllowList, WebRootServer
from synco_core.serve.ttl import cleanup_expired, create_session_folder, remove_session
from synco_core.wire import META_FILE


class Cut(BaseException):
    """The process ends here (as SIGKILL, or a second signal that unwinds the removal)."""


def published(web: Path) -> Path:
    """A session folder as serve leaves it at Ready: marker, meta, artifacts, a nested folder of packs."""
    folder = web / "synco-cut"
    create_session_folder(folder, ttl_seconds=3600)
    (folder / META_FILE).write_bytes(b"age meta")
    for name in ("dump.sqlite.enc", "encrypted-resources-private", "Resources-media.index.json.enc"):
        (folder / name).write_bytes(os.urandom(64))
    packs = folder / "packs"
    packs.mkdir()
    for number in range(5):
        (packs / f"Resources-media.pack-{number:05d}.enc").write_bytes(os.urandom(64))
    return folder


def cut_after(count: int, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every removal, rename and rmdir of the os module raises :class:`Cut` once ``count`` have been done."""
    done = [0]
    for name in ("unlink", "remove", "rmdir", "rename", "replace"):
        real: Callable[..., Any] = getattr(os, name)

        def cutting(*args: Any, _real: Callable[..., Any] = real, **kwargs: Any) -> Any:
            if done[0] >= count:
                raise Cut
            done[0] += 1
            return _real(*args, **kwargs)

        monkeypatch.setattr(os, name, cutting)
    return done


@pytest.mark.parametrize("renamable", [True, False], ids=["renamed", "in-place"])
def test_a_removal_cut_short_anywhere_is_finished_by_the_next_serve(tmp_path: Path, renamable: bool) -> None:
    """Cut after each step in turn; the next serve (the TTL run out, its owner gone) removes what is left.

    A folder that cannot be renamed (another user's, in a sticky web root) is emptied in place with its
    marker last: the moment between the marker and the folder itself may leave an empty folder, no file.
    """
    for count in range(64):
        web = tmp_path / f"web-{count}"
        web.mkdir()
        folder = published(web)
        with pytest.MonkeyPatch.context() as patch:
            done = cut_after(count, patch)
            if not renamable:
                patch.setattr(os, "rename", refuse_to_rename)
            try:
                finished = remove_session(folder) is None
            except Cut:
                finished = False
        if finished:
            assert count > 3 and list(web.iterdir()) == []
            return
        assert not (folder / META_FILE).exists() or done[0] == 0, "receivers stop seeing the session first"
        # Its serve is gone for good (killed): the next serve, later, finds whatever it left.
        later = time.time() + 2 * 3600
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(time, "time", lambda later=later: later)
            cleanup_expired(web)
        left = sorted(str(path.relative_to(web)) for path in web.rglob("*"))
        assert left in ([], [] if renamable else [folder.name]), f"cut after {count} steps, left: {left}"
    raise AssertionError("the removal never finished")


def refuse_to_rename(*_args: Any, **_kwargs: Any) -> None:
    raise PermissionError(1, "Operation not permitted")


def test_serve_stopped_before_ready_exits_as_an_interrupted_command(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "public" / "media").mkdir(parents=True)
    (site / "public" / "media" / "a.txt").write_text("a\n")
    (site / "app.sqlite").write_bytes(b"")
    (site / ".synco.yml").write_text(
        "serve:\n  database: sqlite:///app.sqlite\n  web_root: public\n  file_sets:\n"
        "    - name: media\n      path: public/media\n      public: true\n")
    # The dump's command blocks until the signal: serve is caught at a known point before Ready.
    for signum, status, line in ((signal.SIGTERM, 143, "Error: stopped by SIGTERM"),
                                 (signal.SIGHUP, 129, "Error: stopped by SIGHUP"),
                                 (signal.SIGXCPU, 152,
                                  "Error: stopped by SIGXCPU: its CPU time limit (ulimit -t) ran out"),
                                 (signal.SIGINT, 130, "Error: interrupted")):
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "SYNCO_DEBUG_KILL_AT": ""}
        process = subprocess.Popen([sys.executable, "-c", BLOCKING_SERVE, str(site)], cwd=site, env=env,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True)
        assert process.stdout is not None
        seen: list[str] = []
        while "blocked in the dump" not in (seen[-1] if seen else ""):
            got = process.stdout.readline()
            assert got, f"serve ended before its dump: {seen}"
            seen.append(got)
        process.send_signal(signum)
        rest, _ = process.communicate(timeout=60)
        output = "".join(seen) + rest
        assert process.returncode == status, output
        assert output.rstrip().splitlines()[-1] == line, output
        assert "Traceback" not in output
        assert not [path for path in (site / "public").iterdir() if path.name != "media"], output


#: serve with the SQLite dump replaced by one that says so and waits (for the signal the test sends).
BLOCKING_SERVE = """
import sys, threading
from synco_core.engines.sqlite import dump
def blocked(*args, **kwargs):
    print("blocked in the dump", flush=True)
    threading.Event().wait()
dump._snapshot = blocked
from synco_core.cli.main import main
sys.argv = ["synco", "serve", "--all", "--project", sys.argv[1]]
main()
"""


@pytest.mark.parametrize("cut", ["server stop", "allow list", "scratch"])
def test_a_second_signal_during_the_clean_up_does_not_skip_the_sessions_removal(
        fixture_app: Path, monkeypatch: pytest.MonkeyPatch, cut: str) -> None:
    """Ctrl-C, then Ctrl-C again while serve cleans up (stopping --listen's server waits for a download to
    end): the step it lands in is cut short, every other step still runs, the removal of the session above
    all, and serve ends as stopped."""
    framework = detect(fixture_app)
    steps = {"server stop": (WebRootServer, "stop"), "allow list": (AllowList, "close"),
             "scratch": (ScratchFolder, "remove")}
    owner, name = steps[cut]
    real = getattr(owner, name)

    def second_signal(self: Any) -> None:
        real(self)
        raise SessionStopped(signal.SIGINT)

    monkeypatch.setattr(owner, name, second_signal)
    temp = fixture_app.parent / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    seen: list[PublishedSession] = []

    def first_signal(published: PublishedSession) -> None:
        seen.append(published)
        raise SessionStopped(signal.SIGTERM)

    lines: list[str] = []
    serve(framework, ServeOptions(listen="127.0.0.1:0", session_id="twice"), echo=lines.append, on_ready=first_signal)
    assert seen and not seen[0].folder.exists(), lines
    assert not [path for path in (fixture_app / "web").iterdir() if path.name.startswith((".synco-", "synco-"))]
    assert any(line.startswith("Stopped by SIG") for line in lines), lines
    assert list(temp.iterdir()) == []
