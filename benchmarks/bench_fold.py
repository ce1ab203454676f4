"""Throughput of the reference fold on the default run (2 symbols x 30 days of 1-minute bars).

Prints symbol-bars per second for: bare iteration of the frame (the floor any fold pays),
the fold of `step` alone, and the whole `backtest` (validation, features, fold, frames,
summary), with the ratios between them, measured in the same run.

    python benchmarks/bench_fold.py [--days 30] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time

import polars as pl
from toolz import accumulate

import mmsim
from mmsim.cli import default_setup
from mmsim.core.bars import bar_interval_us, iter_steps, validate_bars
from mmsim.core.engine import initial_state, make_step
from mmsim.core.specs import symbol_specs
from mmsim.data.features import add_features


def best_of(repeat, fn):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=float, default=30)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    setup = default_setup(days=args.days)
    bars = setup.pop("bars")
    n = bars.height
    strategies = setup["strategies"]
    symbols = tuple(sorted(strategies))
    per_symbol = tuple(strategies[s] for s in symbols)
    features = tuple({f.name: f for s in per_symbol for f in s.features}.values())
    frame = add_features(validate_bars(bars), features)
    names = tuple(f.name for f in features) + ("taker_buy_volume",)
    first = dict(frame.group_by("symbol").agg(pl.col("close").first()).iter_rows())
    venue = setup["venue"]
    specs = symbol_specs(frame, venue)
    step = make_step(
        symbols=symbols,
        strategies=per_symbol,
        risk=setup["risk"],
        venue=venue,
        specs=specs,
        initial_cash=setup["initial_cash"],
        interval_us=bar_interval_us(frame),
    )
    account = mmsim.Account.open(symbols, setup["initial_cash"], tuple(first[s] for s in symbols))
    state0 = initial_state(account, per_symbol, setup["risk"])

    def iterate():
        for _ in iter_steps(frame, symbols, names):
            pass

    def fold():
        for _ in accumulate(
            lambda acc, b: step(acc[0], b), iter_steps(frame, symbols, names), (state0, ())
        ):
            pass

    def whole():
        mmsim.backtest(bars, **setup)

    t_iter = best_of(args.repeat, iterate)
    t_fold = best_of(args.repeat, fold)
    t_all = best_of(args.repeat, whole)
    print(
        f"default run: {n:,} symbol-bars ({len(symbols)} symbols x {n // len(symbols):,} bars),"
        f" best of {args.repeat}"
    )
    print(f"  iterate frame only : {t_iter:7.3f} s  {n / t_iter:12,.0f} symbol-bars/s")
    print(
        f"  fold of step       : {t_fold:7.3f} s  {n / t_fold:12,.0f} symbol-bars/s"
        f"  ({t_fold / t_iter:.1f}x iteration)"
    )
    print(
        f"  whole backtest     : {t_all:7.3f} s  {n / t_all:12,.0f} symbol-bars/s"
        f"  ({t_all / t_fold:.2f}x the fold)"
    )


if __name__ == "__main__":
    main()
