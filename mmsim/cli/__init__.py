"""The `mmsim` command line: `mmsim run`, `report`, `compare`, `sweep`, `data`, `strategies`."""

from mmsim.cli.commands import default_setup, main

__all__ = ["default_setup", "main"]
