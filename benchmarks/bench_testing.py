"""Cost of mmsim.testing's checks per Hypothesis example, against the backtest they check.

On a fixed set of generated markets (the sizes `bars_frames()` draws: 1-3 symbols, up to 40
bars, every regime) prints, per example, the milliseconds of: generating the market, the
backtest, `check_invariants`, and each strategy property, with each one's ratio to the
backtest measured in the same run. The properties re-run the strategy (twice for determinism,
once per cut for look-ahead), so their ratios say how many backtests an example costs.

    python benchmarks/bench_testing.py [--markets 40] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time

import mmsim
from mmsim.testing import (
    PROPERTIES,
    REGIMES,
    MarketSpec,
    SymbolPath,
    check_invariants,
    check_property,
    ladder,
)


def markets(n: int) -> list[MarketSpec]:
    """n deterministic specs cycling through regimes, symbol counts and lengths."""
    names = ("AAAUSDT", "BBBUSDT", "CCCUSDT")
    out = []
    for k in range(n):
        count = 1 + k % 3
        paths = tuple(
            SymbolPath(
                names[i],
                REGIMES[(k + i) % len(REGIMES)],
                10.0 ** (k % 5 - 1),
                0.01,
                0.5,
                1000 * k + i,
            )
            for i in range(count)
        )
        out.append(MarketSpec(paths, n_bars=10 + 30 * (k % 2)))
    return out


def per_example(repeat: int, fn, items) -> float:
    """Best-of-`repeat` milliseconds per item."""
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        for item in items:
            fn(item)
        best = min(best, time.perf_counter() - t)
    return 1e3 * best / len(items)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--markets", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    specs = markets(args.markets)
    frames = [s.bars() for s in specs]
    strategy = ladder(levels=2, spacing_bps=10.0, skew_bps=2.0)
    risk = mmsim.basic_risk(max_leverage=3.0)
    allow = [s.has_gaps for s in specs]
    results = [mmsim.backtest(b, strategy, risk=risk, allow_gaps=g) for b, g in zip(frames, allow)]

    rows = [("generate the market", per_example(args.repeat, lambda s: s.bars(), specs))]
    pairs = list(zip(frames, allow))
    backtest_ms = per_example(
        args.repeat, lambda p: mmsim.backtest(p[0], strategy, risk=risk, allow_gaps=p[1]), pairs
    )
    rows.append(("backtest", backtest_ms))
    rows.append(
        (
            "check_invariants",
            per_example(args.repeat, lambda rb: check_invariants(*rb), list(zip(results, frames))),
        )
    )
    for name in PROPERTIES:
        rows.append(
            (
                f"property {name}",
                per_example(
                    args.repeat,
                    lambda b, name=name: check_property(name, strategy, b, risk=risk),
                    frames,
                ),
            )
        )
    print(
        f"{len(specs)} generated markets, {sum(f.height for f in frames)} symbol-bars,"
        f" best of {args.repeat}"
    )
    print(f"{'step':<36}{'ms/example':>12}{'x backtest':>12}")
    for label, ms in rows:
        print(f"{label:<36}{ms:>12.2f}{ms / backtest_ms:>12.2f}")


if __name__ == "__main__":
    main()
