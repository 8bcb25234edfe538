"""synco's ``SSH_ASKPASS`` program (synco_core/pull/askpass.py) on a real pseudo-terminal.

A passphrase typed as soon as its prompt appears must never be echoed: CI's pty test typed it at once, saw it
on the screen, and ssh then waited for ever (the flush that turned echo off threw the answer away).
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

import synco_core.pull.askpass

#: Runs the askpass program with a pause after each write to the terminal, so that a prompt shown before echo
#: is off is seen by the test while echo is still on.
SLOW_WRITES = """
import os, runpy, sys, time
write = os.write
def slow(fd, data):
    written = write(fd, data)
    time.sleep(0.5)
    return written
os.write = slow
sys.argv = [sys.argv[1], *sys.argv[2:]]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


@pytest.mark.parametrize(("prompt", "echoes"), [
    ("Enter passphrase for key '/home/u/.ssh/id_ed25519': ", False),
    ("Are you sure you want to continue connecting (yes/no/[fingerprint])? ", True),
])
def test_echo_is_set_before_the_prompt_is_shown(tmp_path: Path, prompt: str, echoes: bool) -> None:
    main, side = pty.openpty()
    env = dict(os.environ, SYNCO_ASKPASS_TTY=os.ttyname(side))
    env.pop("SSH_ASKPASS_PROMPT", None)
    process = subprocess.Popen([sys.executable, "-c", SLOW_WRITES, synco_core.pull.askpass.__file__, prompt],
                               stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env, start_new_session=True)
    try:
        seen = b""
        deadline = time.monotonic() + 30
        while prompt.encode() not in seen and time.monotonic() < deadline:
            if select.select([main], [], [], 0.2)[0]:
                seen += os.read(main, 4096)
        assert prompt.encode() in seen
        # The terminal's modes as the program left them when its prompt became visible.
        assert bool(termios.tcgetattr(main)[3] & termios.ECHO) == echoes
        os.write(main, b"sesame\n")
        out, _ = process.communicate(timeout=30)
    finally:
        process.kill()
        os.close(main)
        os.close(side)
    assert process.returncode == 0
    assert out == b"sesame\n"
