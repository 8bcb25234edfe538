"""Named moments of the database installs and rollbacks at which a test can have the process killed.

Each engine calls :func:`reached` at the steps of its swap (``mysql:install:renamed``,
``postgresql:install:previous-dropped``, ``sqlite:install:replaced`` ...). With the environment variable
``SYNCO_DEBUG_KILL_AT`` naming a step, the process sends itself SIGKILL there: no ``finally`` block, no
``atexit`` handler and no flush runs, exactly as with ``kill -9`` or a laptop losing power. The crash tests
run ``synco db load`` and ``synco db rollback`` with it at every step of each engine and check that what
a kill leaves behind is undone. ``step#3`` names the third time a step is reached (steps that repeat, such
as dropping one definition after another); several steps can be given, separated by commas.

The project-level install names its own steps the same way (``install:journal:database-started``,
``files:install:kept`` ..., see :mod:`synco_core.install.journal` and docs/engines.md), and its crash tests
kill ``synco install`` at each of them.

A dump names one (``sqlite:dump:copied``, once the private copy of the database is made): its test proves
that the next run removes the plaintext copy a killed dump left in the temporary folder.

``SYNCO_DEBUG_STOP_AT`` names steps the same way at which the process stops itself (SIGSTOP) instead: the
test that started it sees it stopped (``waitpid`` with ``WUNTRACED``), acts as another program would at that
very moment (the application writing an upload between two renames), and lets it go on with SIGCONT.

Without the variables (everywhere but in those tests) a step costs two environment lookups.
"""

from __future__ import annotations

import os
import signal

ENVIRONMENT_VARIABLE = "SYNCO_DEBUG_KILL_AT"
STOP_VARIABLE = "SYNCO_DEBUG_STOP_AT"

_times_reached: dict[str, int] = {}


def reached(step: str) -> None:
    """The process is at ``step``; dies there if ``SYNCO_DEBUG_KILL_AT`` asks for it."""
    wanted = os.environ.get(ENVIRONMENT_VARIABLE)
    stop = os.environ.get(STOP_VARIABLE)
    if not wanted and not stop:
        return
    count = _times_reached[step] = _times_reached.get(step, 0) + 1
    if stop and _named(stop, step, count):
        os.kill(os.getpid(), getattr(signal, "SIGSTOP", signal.SIGTERM))
    if wanted and _named(wanted, step, count):
        # SIGKILL, not an exception or sys.exit: nothing of the process may clean up after itself.
        os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))


def _named(wanted: str, step: str, count: int) -> bool:
    """True when ``wanted`` (``step`` or ``step#n``, comma-separated) names this ``count``-th reach of ``step``."""
    for item in wanted.split(","):
        name, _, nth = item.strip().partition("#")
        if name == step and count == (int(nth) if nth.isdigit() else 1):
            return True
    return False
