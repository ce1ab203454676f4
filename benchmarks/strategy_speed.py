"""Backtest throughput of each registered strategy, relative to the fixed-spread baseline.

    python benchmarks/strategy_speed.py [--days 3]

Each strategy (default parameters, plus the calibrated variants) runs on the same two-symbol
bars; prints symbol-bars per second and the time relative to fixed_spread measured in this run.
"""

from __future__ import annotations

import argparse
import time

import mmsim


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=3)
    args = parser.parse_args()
    bars = mmsim.synthetic_bars(("BTCUSDT", "ETHUSDT"), days=args.days, seed=1)
    runs = {spec.name: {} for spec in mmsim.list_strategies()}
    runs["mexico (all signals, 3 levels)"] = dict(
        levels=3,
        inventory_skew_bps=4,
        ma_skew_bps=-1,
        momentum_skew_bps=1,
        vol_spacing=0.5,
        impact_weight=1.0,
        sizing="adaptive",
    )
    runs["glft (rolling A, kappa)"] = dict(calibration_window=720)
    runs["avellaneda_stoikov (rolling kappa)"] = dict(calibration_window=720)
    timings = {}
    for label, params in runs.items():
        strategy = mmsim.make_strategy(label.split(" ")[0], **params)
        started = time.perf_counter()
        mmsim.backtest(bars, strategy)
        timings[label] = time.perf_counter() - started
    base = timings["fixed_spread"]
    print(f"{bars.height:,} symbol-bars ({args.days:g} days of 1m bars, 2 symbols)")
    for label, t in timings.items():
        rate = bars.height / t
        print(f"{label:36s} {t:6.2f} s {rate:10,.0f} symbol-bars/s  {t / base:5.2f}x fixed_spread")


if __name__ == "__main__":
    main()
