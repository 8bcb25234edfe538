"""``python -m synco_core``: the same as the ``synco`` command."""

from synco_core.cli.main import main

if __name__ == "__main__":
    main()
