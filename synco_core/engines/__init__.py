"""The built-in database engines and default behaviour, each an ordinary plugin module."""
