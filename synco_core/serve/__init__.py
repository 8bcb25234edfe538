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

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from synco_core.serve.build import BuildOptions, build_session
    from synco_core.serve.folder import SessionFolder
    from synco_core.serve.keys import SessionKey

__all__ = ["BuildOptions", "SessionFolder", "SessionKey", "build_session"]

#: Loaded on first use (PEP 562), as in :mod:`synco_core`: serve's worker process imports modules of this
#: package, and the whole serve (engines, plugins, encryption) would cost it 15 MB and a tenth of a second.
_LAZY = {"BuildOptions": "synco_core.serve.build", "build_session": "synco_core.serve.build",
         "SessionFolder": "synco_core.serve.folder", "SessionKey": "synco_core.serve.keys"}


def __getattr__(name: str) -> Any:
    try:
        module = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'synco_core.serve' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
