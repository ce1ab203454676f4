"""A rich progress bar for batches of runs (done, failed, ETA) on stderr; nothing when disabled.

On stderr, so the tables and CSV a command prints on stdout stay whole in a pipe or a file.
"""

from __future__ import annotations

import contextlib


def progress_bar(enabled: bool, stored: int, label: str = "sweep"):
    """A context manager giving a `rich.progress.Progress`, or None when `enabled` is False."""
    if not enabled:
        return contextlib.nullcontext(None)
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    if not console.is_terminal:  # a log file: the whole line, not 80 columns of it
        console = Console(stderr=True, width=200)
    return Progress(
        TextColumn(f"[bold]{label}[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("failed [red]{task.fields[failed]}[/]"),
        TextColumn(f"({stored} stored before)"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
    )


__all__ = ["progress_bar"]
