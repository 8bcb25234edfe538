"""synco-laravel: detects Laravel projects and tells synco where their database and uploaded files are.

The hook implementations live in :mod:`synco_laravel.plugin`, registered under the ``synco`` entry-point
group as ``laravel``. ``php artisan`` is the source of truth when a PHP interpreter is available; without
one, :mod:`synco_laravel.config` reads ``.env`` and applies Laravel's defaults itself.
"""

from __future__ import annotations

__version__ = "0.1.0"
