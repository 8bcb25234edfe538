"""The serve side: building an encrypted session in a folder, publishing it, and removing it again.

The pieces are kept apart on purpose so ``synco pull`` can reuse them without HTTP:

- :mod:`synco_core.serve.keys`      the session key (X25519 identity or scrypt passphrase)
- :mod:`synco_core.serve.folder`    a session folder: atomic meta writes, encrypted artifact writers
- :mod:`synco_core.serve.build`     :func:`build_session`: dump, public index, private tars, states
- :mod:`synco_core.serve.ttl`       the TTL marker, cleanup of expired and of all sessions
- :mod:`synco_core.serve.server`    the ``--listen`` HTTP server (GET, HEAD, Range; no listings)
- :mod:`synco_core.serve.runner`    publishing (:func:`~synco_core.serve.runner.publish_session`, shared with
                                      ``pull --via-http``) and the ``serve`` lifecycle: signals, TTL wait, cleanup
"""

from __future__ import annotations

from synco_core.serve.build import BuildOptions, build_session
from synco_core.serve.folder import SessionFolder
from synco_core.serve.keys import SessionKey

__all__ = ["BuildOptions", "SessionFolder", "SessionKey", "build_session"]
