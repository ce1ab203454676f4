"""Mexico, the generic parametric market maker, switched on one idea at a time.

    python examples/mexico.py [--small] [--out DIR] [--jobs N]

Starts from the neutral ladder (three levels, every weight 0) and adds, one set each: an
inventory skew, a volatility- and momentum-scaled spacing, adaptive sizes with a market-impact
widening, and everything together with a mean-reversion lean. All on the same bars. Writes one
results folder per set and comparison.csv to DIR (default mmsim-results/examples/mexico).
--small (or MMSIM_EXAMPLE_SMALL=1) runs half a day for CI.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import polars as pl

import mmsim


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--small", action="store_true", default=bool(os.environ.get("MMSIM_EXAMPLE_SMALL"))
    )
    parser.add_argument("--out", type=Path, default=Path("mmsim-results/examples/mexico"))
    parser.add_argument("--jobs", type=int, default=1, help="worker processes")
    args = parser.parse_args()
    pl.Config.set_tbl_cols(-1)
    pl.Config.set_tbl_width_chars(200)

    days = 0.5 if args.small else 14
    bars = mmsim.synthetic_bars(("BTCUSDT", "ETHUSDT", "SOLUSDT"), days=days, interval="1m", seed=3)
    ladder = dict(levels=3, spacing_bps=6, order_value=1_000.0, max_position_value=15_000.0)
    signals = dict(inventory_skew_bps=6, vol_spacing=0.5, momentum_spacing_bps=1.0)
    sets = {
        "neutral": mmsim.mexico(**ladder),
        "inventory_skew": mmsim.mexico(**ladder, inventory_skew_bps=6),
        "vol_momentum_spacing": mmsim.mexico(**ladder, vol_spacing=0.5, momentum_spacing_bps=1.0),
        "adaptive_impact": mmsim.mexico(**ladder, sizing="adaptive", impact_weight=2.0),
        "everything": mmsim.mexico(
            **ladder,
            **signals,
            sizing="adaptive",
            impact_weight=2.0,
            ma_skew_bps=-1.0,
            pnl_skew_bps=-2.0,
            aggressiveness=1.5,
        ),
    }
    comparison = mmsim.compare(
        bars,
        sets,
        jobs=args.jobs,
        risk={"max_leverage": 3.0, "max_symbol_leverage": 1.5, "min_order_value": 10.0},
        venue=mmsim.Venue(maker_fee=0.0002, taker_fee=0.0005),
    )
    out = comparison.save(args.out, overwrite=True, report=not args.small)
    print(comparison.table.drop("strategies"))
    print(f"results in {out}/")


if __name__ == "__main__":
    main()
