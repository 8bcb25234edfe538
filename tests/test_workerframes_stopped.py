"""Frames between synco's processes survive a stop and a continue of the writer (Ctrl-Z then ``fg`` stops
every process of the receive): a stopped ``write`` to a full pipe returns having written part of the
frame, and Python's buffered writer then lost or repeated bytes, which the reader took for a damaged frame
("bad marshal data") and the receive ended."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

from synco_core.workerframes import read_frame

FRAMES = 150
WRITER = f"""
import sys
from synco_core.workerframes import write_frame
out = sys.stdout.buffer
block = [("a/b%07d.jpg" % number, 300, 1700000000, "files/x", False, None, "ab" * 32, 3, 1234)
         for number in range(2048)]
for number in range({FRAMES}):
    write_frame(out, ("entries", number, block))
write_frame(out, ("end",))
"""


def test_frames_arrive_whole_however_often_the_writer_is_stopped_and_continued() -> None:
    process = subprocess.Popen([sys.executable, "-c", WRITER], stdout=subprocess.PIPE)
    assert process.stdout is not None
    done = threading.Event()

    def stop_and_continue() -> None:
        while not done.is_set():
            os.kill(process.pid, signal.SIGSTOP)
            time.sleep(0.002)
            os.kill(process.pid, signal.SIGCONT)
            time.sleep(0.002)

    poker = threading.Thread(target=stop_and_continue, daemon=True)
    poker.start()
    try:
        for number in range(FRAMES):
            frame = read_frame(process.stdout)
            assert frame[:2] == ("entries", number) and len(frame[2]) == 2048 and frame[2][-1][0] == "a/b0002047.jpg"
        assert read_frame(process.stdout) == ("end",)
    finally:
        done.set()
        poker.join()
        os.kill(process.pid, signal.SIGCONT)
        process.kill()
        process.wait()
        process.stdout.close()
