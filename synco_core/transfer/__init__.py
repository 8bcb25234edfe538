"""The receive side: locate a session, download, decrypt, verify and unpack it into a target folder.

- :mod:`synco_core.transfer.transport` the :class:`Transport` protocol, :class:`HttpTransport`,
  :class:`DirectoryTransport`
- :mod:`synco_core.transfer.locate`    finding the server from ``--base-url``, ``.synco.yml`` or a prompt
- :mod:`synco_core.transfer.artifact`  one artifact: ``*.enc.part``, Range resume, decrypt, decompress, verify
- :mod:`synco_core.transfer.public`    public files in parallel, skipping what is current
- :mod:`synco_core.transfer.tarsafe`   extracting a private tar with every path checked
- :mod:`synco_core.transfer.limits`    the sizes a session declares, as limits on every stream
- :mod:`synco_core.transfer.receive`   :func:`receive_session`, the whole receive for one transport
- :mod:`synco_core.transfer.progress`  rich progress bars (off when not a terminal)
"""

from __future__ import annotations

from synco_core.transfer.receive import ReceiveOptions, ReceiveSummary, receive_session
from synco_core.transfer.transport import DirectoryTransport, HttpTransport, Transport

__all__ = ["DirectoryTransport", "HttpTransport", "ReceiveOptions", "ReceiveSummary", "Transport", "receive_session"]
