"""A rich progress bar for batches of runs (done, failed, ETA); nothing when disabled."""

from __future__ import annotations

import contextlib


def progress_bar(enabled: bool, stored: int, label: str = "sweep"):
    """A context manager giving a `rich.progress.Progress`, or None when `enabled` is False."""
    if not enabled:
        return contextlib.nullcontext(None)
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn(f"[bold]{label}[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("failed [red]{task.fields[failed]}[/]"),
        TextColumn(f"({stored} stored before)"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )


__all__ = ["progress_bar"]
