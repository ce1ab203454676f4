"""The CLI's readable output: rich tables (or CSV), phase timings, one-line warnings.

Figures use one format per kind (`mmsim.results.formats`). In a pipe or a file, tables are
printed whole instead of being cut to 80 columns; `--format csv` prints plain CSV instead.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from mmsim.results.formats import FEE_NOTE, display_frame, format_value

# a width no table reaches: in a pipe nothing is cut or wrapped
PIPE_WIDTH = 100_000


def make_console(*, stderr: bool = False):
    """A rich Console: the terminal's width in a terminal, no width limit in a pipe or a file."""
    from rich.console import Console

    console = Console(stderr=stderr)
    return console if console.is_terminal else Console(stderr=stderr, width=PIPE_WIDTH)


def print_table(
    frame: pl.DataFrame, console=None, *, title: str | None = None, fmt: str = "table"
) -> None:
    """A frame as a rich table (first column left-aligned, figures right-aligned) or as CSV."""
    frame = display_frame(frame)
    console = console or make_console()
    if fmt == "csv":
        if title:
            console.file.write(f"# {title}\n")
        console.file.write(frame.write_csv())
        console.file.flush()
        return
    from rich.table import Table

    out = Table(title=title)
    for k, column in enumerate(frame.columns):
        out.add_column(column, justify="left" if k == 0 else "right")
    for row in frame.iter_rows():
        out.add_row(*(format_value(c, v) for c, v in zip(frame.columns, row, strict=True)))
    console.print(out)


def print_comparison(
    table: pl.DataFrame, console=None, *, title: str = "mmsim comparison", fmt: str = "table"
) -> None:
    """Runs side by side: one column per run (the `name` column), one row per metric."""
    console = console or make_console()
    if fmt == "csv":
        print_table(table, console, title=title, fmt="csv")
        return
    from rich.table import Table

    shown = display_frame(table)
    out = Table(title=title, caption=FEE_NOTE if "fees" in table.columns else None)
    out.add_column("metric", justify="left")
    names = shown["name"].to_list()
    for name in names:
        out.add_column(str(name), justify="right")
    for column in shown.columns:
        if column == "name":
            continue
        out.add_row(column, *(format_value(column, v) for v in shown[column].to_list()))
    console.print(out)


SUMMARY_COLUMNS = (
    "symbol",
    "pnl",
    "return",
    "fees",
    "funding",
    "fills",
    "volume",
    "max_drawdown",
    "sharpe",
    "final_position",
)


def print_summary(result, console=None, *, fmt: str = "table", title: str | None = None) -> None:
    """The run's summary table: PnL, fees, funding, fills, volume, drawdown, Sharpe per symbol."""
    console = console or make_console()
    summary = result.summary.with_columns(
        (pl.col("pnl") / float(result.config["initial_cash"])).alias("return")
    )
    frame = summary.select(c for c in SUMMARY_COLUMNS if c in summary.columns)
    print_table(frame, console, title=title or "mmsim backtest summary (USDT)", fmt=fmt)
    if fmt == "csv":
        return
    eq = result.equity
    console.print(f"[dim]{FEE_NOTE}[/]")
    console.print(
        f"equity {format_value('equity', eq['equity'][0])} -> "
        f"{format_value('equity', eq['equity'][-1])} USDT over {eq.height:,} bars; "
        f"max leverage {format_value('leverage', eq['leverage'].max())}, "
        f"max margin ratio {format_value('margin_ratio', eq['margin_ratio'].max())}"
    )
    if result.halted:
        console.print(f"[bold red]halted[/]: {result.halted}")


def print_metrics(metrics, console=None, *, fmt: str = "table") -> None:
    """The report's key tables in the terminal: performance and PnL attribution."""
    print_table(
        metrics.performance.drop("max_drawdown_bars"), console, title="Performance", fmt=fmt
    )
    print_table(metrics.attribution, console, title="PnL attribution (USDT)", fmt=fmt)


def process_start() -> float | None:
    """When this process started, on the `time.perf_counter` clock (None where unknown).

    Read from Linux's /proc (the process's start in clock ticks since boot, and the uptime):
    what a user waited for includes starting Python and importing mmsim.
    """
    try:
        stat = Path("/proc/self/stat").read_text()
        ticks = int(stat.rsplit(")", 1)[1].split()[19])  # field 22, starttime
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        age = uptime - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return None
    return time.perf_counter() - max(age, 0.0)


class Phases:
    """Wall-clock time of each phase of a command, so the printed total is what the user waited.

    started: when the wait began (`process_start()`); the time up to now is the phase
    "starting". Time in no phase is shown as "other", so the parts add up to the total.
    """

    def __init__(self, started: float | None = None) -> None:
        now = time.perf_counter()
        self.started = now if started is None else min(started, now)
        self.times: dict[str, float] = {}
        if now - self.started >= 0.05:
            self.times["starting"] = now - self.started

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.times[name] = self.times.get(name, 0.0) + time.perf_counter() - start

    @property
    def total(self) -> float:
        return time.perf_counter() - self.started

    def line(self) -> str:
        """'total 24.6 s: starting 0.8 s, loading data 0.4 s, backtesting 3.2 s, writing ...'."""
        total = self.total
        times = dict(self.times)
        other = total - sum(times.values())
        if other >= 0.05:
            times["other"] = other
        parts = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in times.items())
        return f"total {total:.1f} s: {parts}"


def warning_line(message, category, filename, lineno, file=None, line=None) -> None:
    """`warnings.showwarning` for the CLI: one readable line, no Python source line."""
    text = " ".join(str(message).split())
    print(f"mmsim: warning: {text}", file=file or sys.stderr)


__all__ = [
    "PIPE_WIDTH",
    "Phases",
    "format_value",
    "make_console",
    "print_comparison",
    "print_metrics",
    "print_summary",
    "print_table",
    "process_start",
    "warning_line",
]
