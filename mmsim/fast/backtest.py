"""The fast path's backtest: the kernel run on a validated frame, the frames and the summary of
its result built from the kernel's tables when first read.

Imported only when a fast run starts (it imports numba through the kernels).
"""

from __future__ import annotations

from functools import partial

import polars as pl

from mmsim.fast.engine import run
from mmsim.fast.plan import FastPlan
from mmsim.fast.run import (
    check_run,
    equity_frame,
    kernel_inputs,
    read_after_run,
    symbol_frame,
    trade_frames,
)
from mmsim.fast.summary import run_summary


def run_fast(
    frame: pl.DataFrame,
    symbols: tuple[str, ...],
    plan: FastPlan,
    venue,
    specs,
    initial_cash: float,
    interval_us: int,
    first_close: dict,
):
    """Run the kernel on a validated frame with features; returns (equity, symbols, fills,
    rejections, events, posted, summary, halted text or None), where equity, symbols and
    summary are zero-argument callables that build the frame from the kernel's tables when
    first read (`mmsim.results.result.Result`); raises the run's error if any."""
    inputs = kernel_inputs(
        frame, symbols, plan, venue, specs, initial_cash, interval_us, first_close
    )
    out = run(*inputs)
    check_run(out, inputs, symbols, plan)
    kept = read_after_run(inputs)
    del inputs  # the bars' other columns: not read again
    fills, rejections, events, posted, halted = trade_frames(out, kept, symbols, plan, initial_cash)
    return (
        partial(equity_frame, out, kept, initial_cash, venue.maintenance_margin_rate),
        partial(symbol_frame, out, kept, symbols, initial_cash),
        fills, rejections, events, posted,
        partial(run_summary, out, kept, symbols, plan, initial_cash, interval_us),
        halted,
    )  # fmt: skip


__all__ = ["run_fast"]
