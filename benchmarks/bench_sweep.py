"""Wall time of one parameter sweep in-process versus the local process pool, in one run.

    python benchmarks/bench_sweep.py                 # 10 x 10 = 100 points, 30 days of 1m bars
    python benchmarks/bench_sweep.py --days 2 --side 4  # a quick look

Both executors run the same grid (Avellaneda-Stoikov gamma x kappa) on the same bars; the
script checks that they give identical rows, then prints both times and their ratio.
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import numpy as np
from polars.testing import assert_frame_equal

import mmsim


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the pool's workers)."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=30, help="days of 1-minute bars (default 30)")
    parser.add_argument("--side", type=int, default=10, help="grid side: side x side points (10)")
    parser.add_argument("--symbols", default="BTCUSDT", help="comma-separated symbols")
    parser.add_argument("--workers", type=int, default=None, help="pool size (default: all cores)")
    args = parser.parse_args()

    symbols = tuple(args.symbols.split(","))
    bars = mmsim.synthetic_bars(symbols, days=args.days, interval="1m", seed=11)
    grid = {
        "gamma": [float(x) for x in np.round(np.geomspace(1e-4, 1e-2, args.side), 8)],
        "kappa": [float(x) for x in np.round(np.geomspace(0.05, 2.0, args.side), 6)],
    }
    setup = {
        "strategy": mmsim.avellaneda_stoikov,
        "grid": grid,
        "params": {"order_value": 2_000.0, "max_inventory": 10},
        "risk": {"max_leverage": 3.0},
    }
    points = args.side**2
    print(
        f"{points} points x {bars.height:,} symbol-bars ({args.days:g} days of 1m, "
        f"{args.symbols}); {os.cpu_count()} cores; load average before {os.getloadavg()[0]:.2f}"
    )

    timings = {}
    rows = {}
    for executor in ("inprocess", "processes"):
        cpu0 = _cpu_seconds()
        started = time.perf_counter()
        rows[executor] = mmsim.sweep(bars, executor=executor, workers=args.workers, **setup)
        timings[executor] = wall = time.perf_counter() - started
        cpu = _cpu_seconds() - cpu0
        ok = (rows[executor]["status"] == "ok").sum()
        # CPU seconds per wall second = the cores this arm actually got (others may share them)
        print(
            f"{executor:>10}: {wall:8.2f} s  ({ok}/{points} ok, {wall / points:.3f} s per run; "
            f"{cpu / wall:.2f} cores busy on average; load average {os.getloadavg()[0]:.2f})"
        )
    assert_frame_equal(rows["inprocess"].drop("elapsed_s"), rows["processes"].drop("elapsed_s"))
    print(
        f"identical rows; speed-up of the pool over in-process: "
        f"{timings['inprocess'] / timings['processes']:.2f}x"
    )


if __name__ == "__main__":
    main()
