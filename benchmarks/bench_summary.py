"""CPU time of the run summary (`mmsim.results.metrics.summarize`) and its share of a backtest.

On a year of synthetic 1-minute bars for one symbol, Avellaneda-Stoikov with basic_risk on the
compiled engine: the backtest end to end (frames built, summary read), the summary alone (best
of --repeat, recomputed from the run's frames), and each table it is made of. CPU seconds of
this process (the machine may be shared: the load average is printed beside them). With the
checkout's tests/ folder present, also the straightforward computation the summary is tested
against (tests/summary_oracle.py), timed in the same run, and the ratio.

    python benchmarks/bench_summary.py [--days 365] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import mmsim
from mmsim.results import metrics
from mmsim.results.aligned import align
from mmsim.results.attribution import attribution_of


def cpu(fn, repeat: int) -> float:
    """Best CPU seconds of `repeat` calls (after one warm-up call)."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=365)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    bars = mmsim.synthetic_bars(("BTCUSDT",), days=args.days, interval="1m", seed=11)

    def run():
        result = mmsim.backtest(
            bars,
            mmsim.avellaneda_stoikov(order_value=2000.0, max_inventory=10),
            risk=mmsim.basic_risk(max_leverage=3.0),
            engine="fast",
        )
        result.summary  # noqa: B018 - read, so it is computed
        return result

    result = run()  # compiles or loads the kernels
    start = time.process_time()
    result = run()
    end_to_end = time.process_time() - start
    eq, sy, fi = result.equity, result.symbols, result.fills
    cash, interval = float(result.config["initial_cash"]), int(result.config["interval_us"])
    extra = dict(rejections=result.rejections, events=result.events, posted=result.posted)
    summary = cpu(lambda: metrics.summarize(eq, sy, fi, cash, interval, **extra), args.repeat)
    print(f"{sy.height} bars, {fi.height} fills; load average {os.getloadavg()[0]:.1f}")
    print(f"backtest end to end (summary read) {end_to_end:8.3f} s CPU")
    print(f"summarize                          {summary:8.3f} s CPU")
    print(f"summary share of the backtest      {summary / end_to_end:8.1%}")
    tests = Path(__file__).resolve().parents[1] / "tests"
    if (tests / "summary_oracle.py").is_file():
        sys.path.insert(0, str(tests))
        import summary_oracle

        plain = cpu(
            lambda: summary_oracle.summarize(eq, sy, fi, cash, interval, **extra), args.repeat
        )
        print(f"plain computation (tests' oracle)  {plain:8.3f} s CPU ({plain / summary:.1f}x)")
    aligned = align(fi, sy)
    parts = {
        "align fills to bars": lambda: align(fi, sy),
        "performance": lambda: metrics._performance_table(eq, aligned, cash, interval),
        "attribution": lambda: attribution_of(aligned),
        "trading": lambda: metrics._trading_stats(eq, aligned, result.rejections, result.posted),
        "markouts": lambda: metrics._markout_summary(aligned, metrics.HORIZONS),
        "risk": lambda: metrics._risk_stats(eq, aligned, result.events),
    }
    for name, fn in parts.items():
        print(f"  {name:32s} {cpu(fn, args.repeat):8.4f} s CPU")


if __name__ == "__main__":
    main()
