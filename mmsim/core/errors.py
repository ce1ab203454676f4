"""Bad input, shared by the core and the loaders: DataError is raised wherever input cannot
become a bars frame the engine folds (a loader's file and line, or a frame's symbol and bar)."""

from __future__ import annotations


class DataError(ValueError):
    """Input that cannot become a bars frame; the message names the file, line or row at fault."""
