"""Where the CPU time of one `backtest(..., engine="fast")` goes, stage by stage.

On real 1-minute bars (or synthetic when absent), for fixed_spread and for
Avellaneda-Stoikov + basic_risk on one symbol: the stages the run goes through, called one
after another as `mmsim.backtest` calls them (bars checked, features, tick/lot grids, kernel
inputs, the kernel, the frames), then the whole call, and the summary read after it. Each figure
is the median CPU time of `--repeat` runs (the kernels warmed first).

    python benchmarks/bench_fast_stages.py [--bars 50000] [--repeat 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from bench_engines import REAL, load

import mmsim
from mmsim.core.backtest import choose_engine
from mmsim.core.bars import checked_bars
from mmsim.core.engine import account_bar
from mmsim.core.matching import match_bar
from mmsim.core.specs import first_closes, specs_at
from mmsim.data.features import add_features


def stages(bars, strategy, risk) -> dict[str, float]:
    """CPU seconds of each stage of one fast run, in the order the backtest runs them."""
    from mmsim.fast.engine import run
    from mmsim.fast.run import kernel_frames, kernel_inputs

    venue, times = mmsim.Venue(), {}

    def timed(name, fn, *args):
        start = time.process_time()
        out = fn(*args)
        times[name] = time.process_time() - start
        return out

    frame, interval_us = timed("bars checked", checked_bars, bars)
    first = timed("first closes", first_closes, frame)
    symbols = tuple(sorted(first))
    frame = timed("features", add_features, frame, strategy.features)
    specs = timed("tick/lot grids", specs_at, frame, venue, first)
    _, _, plan = timed(
        "engine chosen",
        choose_engine,
        "fast",
        (strategy,) * len(symbols),
        risk,
        match_bar,
        account_bar,
        symbols,
        frame,
    )
    args = (frame, symbols, plan, venue, specs, 100_000.0, interval_us, first)
    inputs = timed("kernel inputs", kernel_inputs, *args)
    out = timed("kernel", run, *inputs)
    timed("frames", kernel_frames, out, inputs, symbols, plan, venue, 100_000.0)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=50_000)
    parser.add_argument("--data", type=Path, default=REAL)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    bars = load(args.data, args.bars)
    n = bars.height
    runs = {
        "fixed_spread": (mmsim.fixed_spread(half_spread_bps=5.0), mmsim.chain()),
        "A-S + basic_risk": (
            mmsim.avellaneda_stoikov(vol_window=60, gamma=0.001, kappa=0.5),
            mmsim.basic_risk(max_leverage=3.0, emergency_drawdown=0.2, stop_equity_fraction=0.5),
        ),
    }
    print(f"{n:,} symbol-bars of BTCUSDT 1m; load {os.getloadavg()[0]:.2f}")
    for label, (strategy, risk) in runs.items():
        _ = mmsim.backtest(bars, strategy, risk=risk, engine="fast").summary  # warm up
        per_stage: dict[str, list[float]] = {}
        whole, summary = [], []
        for _ in range(args.repeat):
            for name, t in stages(bars, strategy, risk).items():
                per_stage.setdefault(name, []).append(t)
            start = time.process_time()
            result = mmsim.backtest(bars, strategy, risk=risk, engine="fast")
            whole.append(time.process_time() - start)
            start = time.process_time()
            _ = result.summary
            summary.append(time.process_time() - start)
        print(f"{label} (median CPU ms of {args.repeat} runs):")
        for name, times in per_stage.items():
            print(f"  {name:>16}: {statistics.median(times) * 1e3:6.2f}")
        t, s = statistics.median(whole), statistics.median(summary)
        print(
            f"  {'backtest':>16}: {t * 1e3:6.2f}  ({n / t:,.0f} symbol-bars/s; the stages sum "
            f"to {sum(statistics.median(v) for v in per_stage.values()) * 1e3:.2f})"
        )
        print(f"  {'summary':>16}: {s * 1e3:6.2f}  (backtest + summary: {n / (t + s):,.0f}/s)")


if __name__ == "__main__":
    main()
