"""The receive side: locate a session, download, decrypt, verify and unpack it into a target folder.

- :mod:`synco_core.receive.transport` the :class:`Transport` protocol, :class:`HttpTransport`,
  :class:`DirectoryTransport`
- :mod:`synco_core.receive.locate`    finding the server from ``--base-url``, ``.synco.yml`` or a prompt
- :mod:`synco_core.receive.artifact`  one artifact: ``*.enc.part``, Range resume, decrypt, decompress, verify
- :mod:`synco_core.receive.public`    public files in parallel, skipping what is current
- :mod:`synco_core.receive.tarsafe`   extracting a private tar with every path checked
- :mod:`synco_core.receive.limits`    the sizes a session declares, as limits on every stream
- :mod:`synco_core.receive.session`   :func:`receive_session`, the whole receive for one transport
- :mod:`synco_core.progress`  rich progress bars (off when not a terminal)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from synco_core.receive.directory import DirectoryTransport
    from synco_core.receive.http_transport import HttpTransport
    from synco_core.receive.session import ReceiveOptions, ReceiveSummary, receive_session
    from synco_core.receive.transport import Transport

__all__ = ["DirectoryTransport", "HttpTransport", "ReceiveOptions", "ReceiveSummary", "Transport", "receive_session"]

#: Where each name above lives. Imported when first asked for: a worker process
#: (``python -m synco_core.receive.worker``) imports only the modules it runs, not the whole receive
#: (22 MB of the 42 MB each pack worker held).
_HOMES = {"DirectoryTransport": "directory", "HttpTransport": "http_transport", "ReceiveOptions": "session",
          "ReceiveSummary": "session", "receive_session": "session", "Transport": "transport"}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
