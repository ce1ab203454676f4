"""Wall time of parameter sweeps, printed (never asserted).

    python benchmarks/bench_sweep.py                 # pool vs in-process: 100 points, 30 days
    python benchmarks/bench_sweep.py --days 2 --side 4  # a quick look
    python benchmarks/bench_sweep.py --mode batch    # 1,000 A-S points, a year of 1m bars, 2 cores
    python benchmarks/bench_sweep.py --mode batch --points 100 --check 2  # a shorter look

pool mode: both executors run the same grid (Avellaneda-Stoikov gamma x kappa) on the same bars;
the script checks that they give identical rows, then prints both times and their ratio.

batch mode: the batched compiled path (`engine="fast"`, many points per prepared run) on the
local pool; it prints the wall and CPU time per point, the peak memory of the driver and of the
largest worker, how many points halted (no quotes after a halt, so their later bars cost
little), where one point's time goes (kernel, summary from the kernel's tables; and the
frames plus their summary, which a batch no longer builds), the kernel and summary time
averaged over a sample of the grid's points, and the time of the preparation the points
share, then checks a random sample of the rows against the reference sweep
(`engine="reference"`, every column to 1e-9 relative).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import time

import numpy as np
import polars as pl
from polars.testing import assert_frame_equal

import mmsim


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the pool's workers)."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _faults() -> int:
    """Minor page faults of this process and its finished children: fresh pages handed out."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_minflt + children.ru_minflt


def _peak_mib() -> tuple[float, float]:
    """Peak resident memory of this process and of its largest finished child (MiB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return own / 1024, child / 1024


def _as_setup(grid: dict) -> dict:
    return {
        "strategy": mmsim.avellaneda_stoikov,
        "grid": grid,
        "params": {"order_value": 2_000.0, "max_inventory": 10},
        "risk": {"max_leverage": 3.0},
    }


def pool_mode(args) -> None:
    symbols = tuple(args.symbols.split(","))
    bars = mmsim.synthetic_bars(symbols, days=args.days, interval="1m", seed=11)
    grid = {
        "gamma": [float(x) for x in np.round(np.geomspace(1e-4, 1e-2, args.side), 8)],
        "kappa": [float(x) for x in np.round(np.geomspace(0.05, 2.0, args.side), 6)],
    }
    setup = _as_setup(grid)
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


def batch_grid(points: int) -> dict:
    """gamma x kappa x risk.max_leverage, about `points` points (10 x 10 x 10 for 1,000)."""
    side = max(1, round(points ** (1 / 3)))
    return {
        "gamma": [float(x) for x in np.round(np.geomspace(1e-4, 1e-2, side), 8)],
        "kappa": [float(x) for x in np.round(np.geomspace(0.05, 2.0, side), 6)],
        "risk.max_leverage": [float(x) for x in np.round(np.linspace(0.5, 5.0, side), 3)],
    }


def _breakdown(bars: pl.DataFrame, n: int = 3) -> None:
    """Where one point's time goes on the batched path (CPU seconds, in this process), and
    what the frames and their summary, the path a batch no longer takes, would cost."""
    from mmsim.core.engine import account_bar
    from mmsim.core.matching import match_bar
    from mmsim.fast.batch import BatchPoint, _prepare, run_points
    from mmsim.fast.engine import run
    from mmsim.fast.plan import fast_plan
    from mmsim.fast.run import kernel_frames
    from mmsim.fast.summary import fast_summary
    from mmsim.results.metrics import summarize

    strategy = mmsim.avellaneda_stoikov(order_value=2_000.0, max_inventory=10)
    risk = mmsim.basic_risk(max_leverage=3.0)
    point = BatchPoint(strategy, risk, mmsim.Venue(), 100_000.0)
    run_points(bars, [point])  # compile, warm
    symbols = tuple(bars["symbol"].unique().sort().to_list())
    plan, _ = fast_plan((strategy,) * len(symbols), risk, match_bar, account_bar, symbols)
    c = time.process_time()
    group = _prepare(bars, point, plan, False)
    shared = time.process_time() - c
    parts = {"kernel": 0.0, "summary": 0.0, "frames": 0.0, "summarize": 0.0}
    s = group.setup
    for _ in range(n):
        c = time.process_time()
        out = run(*group.inputs)
        parts["kernel"] += time.process_time() - c
        c = time.process_time()
        fast_summary(out, group.inputs, s.symbols, plan, s.initial_cash, s.interval_us)
        parts["summary"] += time.process_time() - c
        c = time.process_time()
        eq, sy, fi, rj, ev, po, _, _ = kernel_frames(
            out, group.inputs, s.symbols, plan, s.venue, s.initial_cash
        )
        parts["frames"] += time.process_time() - c
        c = time.process_time()
        summarize(eq, sy, fi, s.initial_cash, s.interval_us, rejections=rj, events=ev, posted=po)
        parts["summarize"] += time.process_time() - c
    per = {k: v / n for k, v in parts.items()}
    print(
        f"one point, CPU s: kernel {per['kernel']:.3f}, summary from the kernel's tables "
        f"{per['summary']:.3f} (total {per['kernel'] + per['summary']:.3f}); instead of frames "
        f"{per['frames']:.3f} + their summary {per['summarize']:.3f}; prepared once "
        f"per worker (validate, features, specs, kernel columns): {shared:.3f}"
    )


def _grid_split(bars: pl.DataFrame, setup: dict, n: int = 24) -> None:
    """A point's kernel and summary time averaged over a random sample of the grid's points,
    each built as the sweep builds it (CPU seconds in this process, into reused tables as a
    batch runs them): the points differ, and those that halt cost less once they are at rest."""
    from mmsim.core.engine import account_bar
    from mmsim.core.matching import match_bar
    from mmsim.core.setup import resolve_strategies
    from mmsim.fast.batch import BatchPoint, _inputs_for, _prepare
    from mmsim.fast.engine import new_tables, run_into
    from mmsim.fast.plan import fast_plan
    from mmsim.fast.summary import fast_summary
    from mmsim.research.spec import make_spec
    from mmsim.research.worker import _arguments

    points = mmsim.grid_points(setup["grid"])
    sample = [points[i] for i in random.Random(2).sample(range(len(points)), min(n, len(points)))]
    symbols = tuple(bars["symbol"].unique().sort().to_list())
    kernel = summary = 0.0
    halted = 0
    group = tables = None
    for values in sample:
        spec = make_spec(
            values,
            strategy=setup["strategy"],
            symbols=symbols,
            fingerprint="",
            params=setup["params"],
            risk=setup["risk"],
        )
        point = BatchPoint(**_arguments(spec))
        per_symbol = resolve_strategies(point.strategies, symbols)
        plan, _ = fast_plan(per_symbol, point.risk, match_bar, account_bar, symbols)
        if group is None:
            group = _prepare(bars, point, plan, False)
            T, S = group.inputs[1].shape
            tables = new_tables(T, S, plan.levels, plan.risk.shape[0])
        s = group.setup
        inputs = _inputs_for(group, plan)
        c = time.process_time()
        out, tables = run_into(tables, *inputs)
        kernel += time.process_time() - c
        c = time.process_time()
        fast_summary(out, inputs, s.symbols, plan, s.initial_cash, s.interval_us)
        summary += time.process_time() - c
        halted += int(out[9]) >= 0
    k, m = kernel / len(sample), summary / len(sample)
    print(
        f"{len(sample)} sampled grid points, CPU s a point: kernel {k:.4f}, summary {m:.4f} "
        f"(total {k + m:.4f}; {halted} of them halted)"
    )


def batch_mode(args) -> None:
    bars = mmsim.synthetic_bars(("BTCUSDT",), days=args.days, interval="1m", seed=11)
    setup = _as_setup(batch_grid(args.points))
    n = len(mmsim.grid_points(setup["grid"]))
    workers = args.workers or 2
    print(
        f"{n} points x {bars.height:,} bars ({args.days:g} days of 1m, BTCUSDT), A-S with "
        f"basic_risk; {workers} workers; load average before {os.getloadavg()[0]:.2f}"
    )
    _breakdown(bars)
    _grid_split(bars, setup)
    cpu0, faults0 = _cpu_seconds(), _faults()
    started = time.perf_counter()
    rows = mmsim.sweep(bars, workers=workers, engine="fast", **setup)
    wall = time.perf_counter() - started
    cpu, faults = _cpu_seconds() - cpu0, _faults() - faults0
    own, child = _peak_mib()
    ok = int((rows["status"] == "ok").sum())
    print(
        f"batched sweep: {wall:.1f} s wall, {cpu:.1f} s CPU ({ok}/{n} ok; {wall / n:.3f} s wall "
        f"and {cpu / n:.3f} s CPU per point; {cpu / wall:.2f} cores busy; load average "
        f"{os.getloadavg()[0]:.2f}); peak memory: driver {own:.0f} MiB, largest worker "
        f"{child:.0f} MiB; {faults / n:,.0f} minor page faults per point"
    )
    # a point that halts (a liquidation, an early stop) quotes no more, and its later bars cost
    # a fraction of a quoting bar's: the mix of such points moves the time per point
    halted = rows.filter(pl.col("halted").is_not_null()).height
    print(
        f"{halted}/{n} points halted before the end (no quotes after that); the points quoted on "
        f"{rows['time_quoting'].mean():.0%} of the bars on average"
    )
    if args.check:
        sample = sorted(random.Random(1).sample(range(n), min(args.check, n)))
        grid = [mmsim.grid_points(setup["grid"])[i] for i in sample]
        started = time.perf_counter()
        reference = mmsim.sweep(
            bars, **{**setup, "grid": grid}, executor="inprocess", engine="reference"
        )
        took = time.perf_counter() - started
        mine = rows.filter(pl.col("run_id").is_in(reference["run_id"].to_list()))
        order = {rid: i for i, rid in enumerate(reference["run_id"].to_list())}
        mine = mine.sort(pl.col("run_id").replace_strict(order, return_dtype=pl.Int64))
        assert_frame_equal(mine.drop("elapsed_s"), reference.drop("elapsed_s"), rel_tol=1e-9)
        print(
            f"rows of {len(sample)} sampled points equal the reference sweep's "
            f"({reference.width} columns, 1e-9 relative; reference {took / len(sample):.1f} s "
            "per point)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("pool", "batch"), default="pool")
    parser.add_argument("--days", type=float, default=None, help="days of 1m bars (30; batch 365)")
    parser.add_argument("--side", type=int, default=10, help="pool: side x side points (10)")
    parser.add_argument("--points", type=int, default=1000, help="batch: grid size (1000)")
    parser.add_argument("--check", type=int, default=3, help="batch: points checked (3)")
    parser.add_argument("--symbols", default="BTCUSDT", help="pool: comma-separated symbols")
    parser.add_argument("--workers", type=int, default=None, help="pool size (default: all cores)")
    args = parser.parse_args()
    if args.days is None:
        args.days = 365 if args.mode == "batch" else 30
    (batch_mode if args.mode == "batch" else pool_mode)(args)


if __name__ == "__main__":
    main()
