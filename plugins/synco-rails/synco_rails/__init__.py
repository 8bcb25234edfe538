"""synco-rails: detects Ruby on Rails applications and tells synco where their databases and files are.

The hook implementations live in :mod:`synco_rails.plugin`, registered under the ``synco`` entry-point
group as ``rails``. ``bin/rails runner`` is the source of truth when Ruby and the application's bundle
work; without them, :mod:`synco_rails.config` reads ``config/database.yml`` and ``config/storage.yml``
itself, with their ERB evaluated by :mod:`synco_rails.erb` for the forms such files use.
"""

from __future__ import annotations

__version__ = "0.1.0"
