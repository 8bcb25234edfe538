"""synco-django: detects Django projects and tells synco where their databases and uploaded files are.

The hook implementations live in :mod:`synco_django.plugin`, registered under the ``synco`` entry-point
group as ``django``. The project's own interpreter is the source of truth: :mod:`synco_django.settings`
runs it on a small script that imports the settings module and prints what synco needs; without a usable
interpreter, :mod:`synco_django.static` reads the settings files without running them, and ``DATABASE_URL``
(from the environment or ``.env``) names the database.
"""

from __future__ import annotations

__version__ = "0.1.0"
