"""synco-symfony: detects Symfony projects and tells synco where their database and uploaded files are.

The hook implementations live in :mod:`synco_symfony.plugin`, registered under the ``synco`` entry-point
group as ``symfony``. ``DATABASE_URL`` is resolved like Symfony's Dotenv (:mod:`synco_symfony.env`);
``bin/console debug:dotenv`` confirms it when PHP is available.
"""

from __future__ import annotations

__version__ = "0.1.0"
