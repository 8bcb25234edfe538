"""The entry point of a worker process (``python -m synco_core.receive.packworker``); see :mod:`.workers`.

A module of its own because the package imports :mod:`.workers`: run with ``-m``, that one would be
loaded twice.
"""

from __future__ import annotations

import sys

from synco_core.receive.workers import worker_main

if __name__ == "__main__":
    sys.exit(worker_main())
