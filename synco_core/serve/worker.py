"""The entry point of serve's worker process (``python -m synco_core.serve.worker``).

The worker reads its first frame from stdin (:func:`synco_core.workerframes.read_frame`): what to walk and
from where (:mod:`synco_core.serve.walkprocess`). A module of its own, so that the module it runs is not
loaded twice (once as ``__main__``, once when the pipeline imports it).
"""

from __future__ import annotations

import sys


def main() -> int:
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    # stdout carries the frames: anything else printed goes to stderr.
    sys.stdout = sys.stderr
    try:
        # The worker is started before the serve knows where it hands over: its imports overlap that wait.
        from synco_core.serve.walkprocess import walk_main
        from synco_core.workerframes import read_frame

        header = read_frame(stdin)
    except EOFError:
        return 1
    except KeyboardInterrupt:
        # Ctrl-C reaches the whole process group: the serve reports it, not a traceback from here.
        return 130
    return walk_main(header, stdout)


if __name__ == "__main__":
    sys.exit(main())
