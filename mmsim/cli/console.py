"""Terminal tables (rich) for metrics and comparisons; the CLI's readable output."""

from __future__ import annotations

import math
from typing import Any

import polars as pl

_PERCENT = {
    "return",
    "annual_return",
    "max_drawdown",
    "fill_rate",
    "time_quoting",
    "quoting_both",
    "quoting_one_side",
    "quoting_none",
    "clamped_share",
}


def format_value(column: str, value: Any) -> str:
    """A figure as a person reads it: percentages, thousands separators, 4 significant digits."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "inf" if value > 0 else "-inf"
        if column in _PERCENT:
            return f"{value:.2%}"
        return f"{value:,.2f}" if abs(value) >= 1000 else f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def print_comparison(table: pl.DataFrame, console=None, *, title: str = "mmsim comparison") -> None:
    """Runs side by side: one column per run (the `name` column), one row per metric."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    out = Table(title=title)
    out.add_column("metric", justify="left")
    names = table["name"].to_list()
    for name in names:
        out.add_column(str(name), justify="right")
    for column in table.columns:
        if column == "name":
            continue
        out.add_row(column, *(format_value(column, v) for v in table[column].to_list()))
    console.print(out)


def print_table(frame: pl.DataFrame, console=None, *, title: str | None = None) -> None:
    """Any metrics frame as a rich table (first column left-aligned, figures right-aligned)."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    out = Table(title=title)
    for k, column in enumerate(frame.columns):
        out.add_column(column, justify="left" if k == 0 else "right")
    for row in frame.iter_rows():
        out.add_row(*(format_value(c, v) for c, v in zip(frame.columns, row, strict=True)))
    console.print(out)


def print_metrics(metrics, console=None) -> None:
    """The report's key tables in the terminal: performance and PnL attribution."""
    print_table(metrics.performance.drop("max_drawdown_bars"), console, title="Performance")
    print_table(metrics.attribution, console, title="PnL attribution (USDT)")


__all__ = ["format_value", "print_comparison", "print_metrics", "print_table"]
