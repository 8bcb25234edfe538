"""The entry point of synco's worker processes (``python -m synco_core.receive.worker``).

A worker reads its first frame from stdin (:func:`synco_core.receive.workers.read_frame`): its role and
what it needs for it, secrets included (a pipe, never the command line). ``packs``: packed files of a
receive (:mod:`.workers`); ``index``: a large public index read beside the walk it is merged with
(:mod:`.indexprocess`). A module of its own because the package imports both: run with ``-m``, either
would be loaded twice.
"""

from __future__ import annotations

import sys


def main() -> int:
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    # stdout carries the frames: anything else printed goes to stderr.
    sys.stdout = sys.stderr
    from synco_core.workerframes import read_frame

    try:
        header = read_frame(stdin)
    except EOFError:
        return 1
    if header.get("role") == "index":
        from synco_core.receive.indexprocess import index_main

        return index_main(header, stdout)
    from synco_core.receive.workers import worker_main

    return worker_main(header, stdin, stdout)


if __name__ == "__main__":
    sys.exit(main())
