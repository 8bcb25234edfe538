"""The ``synco`` command line: one module per command, registered in :mod:`synco_core.cli.main`."""
