"""The script a Django project's own interpreter runs to print its settings (never imported by synco).

``python probe.py <import root> <marker> <name>...`` imports the settings module ``$DJANGO_SETTINGS_MODULE``
through ``django.conf.settings`` (the settings module and nothing else: no ``django.setup()``, no app
registry, no model), or directly when that interpreter has no Django, and prints the named settings as JSON
on one line after ``<marker>``. A failure is printed the same way, as ``{"error": type, "detail": ...}``,
with exit status 3. It runs under whatever Python the project uses, so it keeps to what Python 3.7 knows.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from typing import Any


def emit(marker: str, payload: dict[str, Any]) -> None:
    sys.stdout.write("\n" + marker + json.dumps(payload, default=str) + "\n")
    sys.stdout.flush()


def main() -> None:
    root, marker, names = sys.argv[1], sys.argv[2], sys.argv[3:]
    # Python put this script's folder first on the path; the project's modules must win over synco's.
    sys.path[0] = root
    try:
        try:
            django: Any = importlib.import_module("django")
        except ImportError:
            django = None
        if django is not None:
            source: Any = importlib.import_module("django.conf").settings
            source.DATABASES  # noqa: B018 - the attribute access is what imports the settings module
        else:
            source = importlib.import_module(os.environ["DJANGO_SETTINGS_MODULE"])
        values = {name: getattr(source, name) for name in names if hasattr(source, name)}
        emit(marker, {"settings": values, "django": django.get_version() if django else None,
                      "python": sys.version.split()[0]})
    # Every failure is reported to synco, which then reads the files instead.
    except BaseException as exc:
        emit(marker, {"error": type(exc).__name__, "detail": str(exc)[:300]})
        sys.exit(3)


if __name__ == "__main__":
    main()
