"""The `wacrm` command line."""

from wacrm.cli.main import app, main

__all__ = ["app", "main"]
