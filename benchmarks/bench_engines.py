"""Throughput of the engines on real 1-minute bars, measured in one run as ratios.

For fixed_spread (no risk) and for Avellaneda-Stoikov + basic_risk, on one symbol:
  bare     a numba loop of the same fixed-spread semantics over numpy columns (the machine's
           limit: no risk, no records; equity checked against the fast path's)
  kernel   the fast path's fold kernel alone (columns prepared beforehand, fresh tables)
  reused   the same kernel writing into tables an earlier call used (as a sweep's points do)
  fast     backtest(..., engine="fast") end to end (validation, features, kernel, the fills;
           the per-bar frames and the summary are built when first read, so not here)
  +summary the same and reading its `summary` (every metric of the run)
  +frames  the same and reading its per-bar frames (`equity`, `symbols`) instead
  ref      backtest(..., engine="reference")
Also the first call's compile time (an empty on-disk cache, in a fresh process), the time to
load the cached kernels, and the peak memory per symbol-bar of each engine (the resident set's
growth during a whole run and its summary, then with every frame read too, then with every
metric table, sampled in a fresh process).

    python benchmarks/bench_engines.py [--bars 50000] [--data ../shared/data/real]
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl
from numba import njit

import mmsim

# ../shared/data/real beside the checkout (or beside the folder of worktrees holding it)
_HERE = Path(__file__).resolve().parents[1]
REAL = next(
    (
        p / "shared" / "data" / "real"
        for p in (_HERE.parent, _HERE.parent.parent)
        if (p / "shared").is_dir()
    ),
    _HERE.parent / "shared" / "data" / "real",
)
CSV = "benicio1007_bot_trading__binance_spot_1m/Q4_2024/BTCUSDT_1m.csv"


def load(data: Path, n: int) -> pl.DataFrame:
    path = data / CSV
    if path.is_file():
        frame = pl.read_csv(path, try_parse_dates=True).head(n)
        return frame.select(
            pl.col("timestamp").cast(pl.Datetime("us")).alias("ts"),
            pl.lit("BTCUSDT").alias("symbol"),
            "open",
            "high",
            "low",
            "close",
            "volume",
        )
    print(f"{path} absent: synthetic bars")
    days = n / 1440
    return mmsim.synthetic_bars(("BTCUSDT",), days=days, interval="1m", seed=3).head(n)


@njit(cache=True)
def grid(n, step, digits):
    return round(n * step, digits) if digits >= 0 else n * step


@njit(cache=True)
def on_ticks(x, step, side):
    """x in steps, nudged by float noise towards the side's rounding."""
    n = x / step
    return n + side * (1e-9 + 1e-12 * abs(n))


@njit(cache=True)
def behind(c, tick, side, digits):
    ticks = c / tick
    k = round(ticks)
    if abs(ticks - k) <= 1e-6 + 4 * 2.220446049250313e-16 * abs(ticks):
        k = k - side
    else:
        k = math.floor(ticks) if side > 0 else math.ceil(ticks)
    return grid(k, tick, digits)


@njit(cache=True)
def book(q, entry, wallet, signed, price, maker):
    """One maker fill: average entry, realized PnL and the fee into the wallet."""
    new_q = q + signed
    if abs(new_q) < 1e-12 * max(abs(q), abs(signed)):
        new_q = 0.0
    if q == 0.0:
        entry = price
    elif (q > 0) == (signed > 0):
        entry = (q * entry + signed * price) / new_q
    else:
        closed = min(abs(signed), abs(q))
        wallet += closed * (price - entry) * (1.0 if q > 0 else -1.0)
        if new_q == 0.0:
            entry = 0.0
        elif (new_q > 0) != (q > 0):
            entry = price
    return new_q, entry, wallet - price * abs(signed) * maker


@njit(cache=True)
def loop(high, low, close, h, value, tick, lot, maker, dec_tick, dec_lot):
    """`fixed_spread` with the default venue, written as one plain loop: quotes at
    close*(1 -/+ h) rounded down (up) to the tick grid and clamped one tick behind a crossed
    close, qty value/close down to whole lots, trade-through fills one tick past the quote,
    average-entry accounting; equity per bar. No risk, no records, no tables."""
    n = close.shape[0]
    equity = np.empty(n)
    wallet, q, entry = 1e5, 0.0, 0.0
    bid = ask = qty = 0.0
    for k in range(n):
        if k > 0 and qty > 0:
            for side in (1.0, -1.0):
                price = bid if side > 0 else ask
                through = (price - low[k]) / tick if side > 0 else (high[k] - price) / tick
                if through < 1.0 - 1e-6:
                    continue
                q, entry, wallet = book(q, entry, wallet, side * qty, price, maker)
        c = close[k]
        equity[k] = wallet + (q * (c - entry) if q else 0.0)
        bid = grid(math.floor(on_ticks(c * (1 - h), tick, 1.0)), tick, dec_tick)
        ask = grid(math.ceil(on_ticks(c * (1 + h), tick, -1.0)), tick, dec_tick)
        tolerance = 1e-6 + 4 * 2.220446049250313e-16 * abs(c / tick)
        if (bid - c) / tick >= -tolerance:  # post-only clamp: one tick behind the close
            bid = behind(c, tick, 1.0, dec_tick)
        if (c - ask) / tick >= -tolerance:
            ask = behind(c, tick, -1.0, dec_tick)
        qty = grid(math.floor(on_ticks(value / c, lot, 1.0)), lot, dec_lot)
    return equity


def timed(fn, repeat):
    best = math.inf
    out = None
    for _ in range(repeat):  # CPU time: the machine is shared, wall time is not this run's
        t = time.process_time()
        out = fn()
        best = min(best, time.process_time() - t)
    return best, out


def minor_faults(fn) -> int:
    """Minor page faults of one call: pages of fresh memory the system hands it."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    fn()
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def kernel_call(bars, strategy, risk):
    """(call the fold kernel once, call it into the tables of its last such call, the fast
    result) for this backtest, columns prepared here."""
    from mmsim.core.backtest import choose_engine
    from mmsim.core.bars import bar_interval_us, validate_bars
    from mmsim.core.engine import account_bar
    from mmsim.core.matching import match_bar
    from mmsim.data.features import add_features
    from mmsim.fast.engine import new_tables, run, run_into
    from mmsim.fast.run import kernel_inputs

    frame = add_features(validate_bars(bars), strategy.features)
    symbols = ("BTCUSDT",)
    _, _, plan = choose_engine("fast", (strategy,), risk, match_bar, account_bar, symbols, frame)
    result = mmsim.backtest(bars, strategy, risk=risk, engine="fast")
    specs = {s: mmsim.SymbolSpec(**{k: v for k, v in d.items() if k in ("tick_size", "lot_size")})
             for s, d in result.config["specs"].items()}  # fmt: skip
    venue = mmsim.Venue()
    first = {"BTCUSDT": float(frame["close"][0])}
    inputs = kernel_inputs(frame, symbols, plan, venue, specs, 1e5, bar_interval_us(frame), first)
    tables = [new_tables(len(frame), 1, plan.levels, plan.risk.shape[0])]

    def reused():
        out, tables[0] = run_into(tables[0], *inputs)
        return out

    reused()
    return (lambda: run(*inputs)), reused, result


MEMORY_CHILD = """
import gc, os, sys, threading, time
import polars as pl, mmsim
PAGE = os.sysconf("SC_PAGE_SIZE")
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE
bars = pl.read_parquet(sys.argv[1])
strategy = mmsim.avellaneda_stoikov(vol_window=60)
risk = mmsim.basic_risk(max_leverage=3.0, emergency_drawdown=0.2)
venue = mmsim.Venue()
mmsim.backtest(bars.head(2000), strategy, risk=risk, engine=sys.argv[2], venue=venue)  # warm
gc.collect()
base = peak = rss()
running = True
def watch():  # the resident set sampled while the run holds its tables (kernels drop the GIL)
    global peak
    while running:
        peak = max(peak, rss())
        time.sleep(0.0005)
watcher = threading.Thread(target=watch)
watcher.start()
result = mmsim.backtest(bars, strategy, risk=risk, engine=sys.argv[2], venue=venue)
result.summary
if sys.argv[3] in ("frames", "metrics"):
    result.equity, result.symbols
if sys.argv[3] == "metrics":
    result.metrics()
running = False
watcher.join()
print((max(peak, rss()) - base) / bars.height)
"""

COMPILE_CHILD = """
import time, polars as pl, mmsim, sys
bars = pl.read_parquet(sys.argv[1]).head(500)
t = time.process_time()
strategy = mmsim.avellaneda_stoikov(vol_window=60)
venue = mmsim.Venue()
mmsim.backtest(bars, strategy, risk=mmsim.basic_risk(), engine="fast", venue=venue)
print(time.process_time() - t)
"""


def child(code: str, *args: str, env: dict | None = None) -> float:
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **(env or {})},
    )
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=50_000)
    parser.add_argument("--data", type=Path, default=REAL)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    bars = load(args.data, args.bars)
    n = bars.height
    print(f"{n:,} symbol-bars of BTCUSDT 1m; {os.cpu_count()} cores; load {os.getloadavg()[0]:.2f}")

    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "bars.parquet")
        bars.write_parquet(path)
        cold = child(COMPILE_CHILD, path, env={"NUMBA_CACHE_DIR": str(Path(tmp) / "cache")})
        warm = child(COMPILE_CHILD, path, env={"NUMBA_CACHE_DIR": str(Path(tmp) / "cache")})
        print(
            f"first fast call (CPU s): {cold:.1f} s compiling (empty cache), "
            f"{warm:.2f} s from the cache"
        )
        memory = {
            (e, read): child(MEMORY_CHILD, path, e, read)
            for read in READS
            for e in ("fast", "reference")
        }

    cols = [bars[c].to_numpy() for c in ("high", "low", "close")]
    runs = {
        "fixed_spread": (mmsim.fixed_spread(half_spread_bps=5.0), mmsim.chain()),
        "A-S + basic_risk": (
            mmsim.avellaneda_stoikov(vol_window=60, gamma=0.001, kappa=0.5),
            mmsim.basic_risk(max_leverage=3.0, emergency_drawdown=0.2, stop_equity_fraction=0.5),
        ),
    }
    for label, (strategy, risk) in runs.items():
        call, reused, fast_result = kernel_call(bars, strategy, risk)
        tick = fast_result.config["specs"]["BTCUSDT"]["tick_size"]
        lot = fast_result.config["specs"]["BTCUSDT"]["lot_size"]
        figures = {}
        if label == "fixed_spread":
            from mmsim.fast.run import grid_digits

            grid = (tick, lot, 0.0002, grid_digits(tick), grid_digits(lot))
            loop(*cols, 5e-4, 1000.0, *grid)
            t, equity = timed(lambda g=grid: loop(*cols, 5e-4, 1000.0, *g), args.repeat)
            figures["bare"] = t
            fast_equity = fast_result.equity["equity"].to_numpy()
            gap = np.max(np.abs(equity - fast_equity))
            print(
                f"  bare loop's equity identical to the fast path's: "
                f"{np.array_equal(equity, fast_equity)} (max difference {gap:.3g} USDT)"
            )
        figures["kernel"], _ = timed(call, args.repeat)
        faults = minor_faults(call)
        figures["reused"], _ = timed(reused, args.repeat)
        reused_faults = minor_faults(reused)
        figures["fast"], _ = timed(
            lambda s=strategy, r=risk: mmsim.backtest(bars, s, risk=r, engine="fast"),
            args.repeat,
        )
        figures["+summary"], _ = timed(
            lambda s=strategy, r=risk: mmsim.backtest(bars, s, risk=r, engine="fast").summary,
            args.repeat,
        )
        figures["+frames"], _ = timed(
            lambda s=strategy, r=risk: frames(mmsim.backtest(bars, s, risk=r, engine="fast")),
            args.repeat,
        )
        figures["ref"], ref = timed(
            lambda s=strategy, r=risk: mmsim.backtest(bars, s, risk=r, engine="reference"), 1
        )
        same = ref.fills.equals(fast_result.fills)
        print(f"{label}: fills identical in both engines: {same}")
        for name, t in figures.items():
            print(f"  {name:>8}: {n / t:12,.0f} symbol-bars/s  ({t:.4f} s)")
        base = figures["kernel"]
        print(
            "  ratios: "
            + ", ".join(f"{name}/kernel {t / base:.2f}x" for name, t in figures.items())
        )
        if "bare" in figures:
            print(f"  the kernel takes {base / figures['bare']:.2f}x the bare loop's time")
        print(
            f"  the kernel's call takes {faults:,} fresh pages from the system (minor page "
            f"faults, in its CPU time); into reused tables: {reused_faults:,}"
        )
    for read, what in READS.items():
        print(
            f"peak memory per symbol-bar (A-S + basic_risk), {what}: "
            + ", ".join(f"{e} {b:,.0f} bytes" for (e, r), b in memory.items() if r == read)
        )


# what the memory child reads after the run, cumulatively
READS = {
    "summary": "a run and its summary",
    "frames": "and every frame",
    "metrics": "and every metric table (result.metrics(), what the report reads)",
}


def frames(result: mmsim.Result) -> tuple:
    return result.equity, result.symbols


if __name__ == "__main__":
    main()
