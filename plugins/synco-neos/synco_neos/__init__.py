"""synco-neos: the synco plugin for Neos CMS and the Flow framework.

It reads the database credentials and resource storage settings of a Flow application (through
``./flow configuration:show`` when PHP is available, from ``Configuration/`` otherwise), lists the
persistent resources as a public file set in Flow's storage layout, leaves thumbnails and the event log
out by default, masks personal data (Neos.Party, Flow accounts) while sanitising is on, and installs
received resources into ``Data/Persistent/Resources``.
"""

from __future__ import annotations

__version__ = "0.1.0"
