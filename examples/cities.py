"""The city-named templates side by side, against the fixed-spread baseline.

    python examples/cities.py [--small] [--out DIR] [--jobs N]

tokyo (ladder with an inventory cap), lisbon (volatility-scaled spread), oslo (order-flow skew
from taker_buy_volume), nairobi (mean reversion) and lima (widens after fills, stateful), each
on every symbol of the same bars. Copy the one closest to your idea from
mmsim/strategies/cities.py. Writes one results folder per strategy and comparison.csv to DIR
(default mmsim-results/examples/cities). --small (or MMSIM_EXAMPLE_SMALL=1) runs half a day.
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
    parser.add_argument("--out", type=Path, default=Path("mmsim-results/examples/cities"))
    parser.add_argument("--jobs", type=int, default=1, help="worker processes")
    args = parser.parse_args()
    pl.Config.set_tbl_cols(-1)
    pl.Config.set_tbl_width_chars(200)

    days = 0.5 if args.small else 14
    bars = mmsim.synthetic_bars(("BTCUSDT", "ETHUSDT"), days=days, interval="1m", seed=5)
    cap = dict(max_position_value=20_000.0)
    # by name, as a config file or a sweep would build them
    sets = {
        name: mmsim.make_strategy(name, **params)
        for name, params in {
            "fixed_spread": {"half_spread_bps": 6, **cap},
            "tokyo": {"levels": 3, "spacing_bps": 6, **cap},
            "lisbon": {"vol_multiplier": 1.2, "min_half_spread_bps": 3, **cap},
            "oslo": {"half_spread_bps": 6, "imbalance_skew_bps": 4, **cap},
            "nairobi": {"half_spread_bps": 6, "reversion": 0.3, **cap},
            "lima": {"half_spread_bps": 5, "fill_widen_bps": 8, "cooldown_bars": 15, **cap},
        }.items()
    }
    comparison = mmsim.compare(
        bars,
        sets,
        jobs=args.jobs,
        risk={"max_leverage": 3.0, "min_order_value": 10.0},
        venue=mmsim.Venue(maker_fee=0.0002, taker_fee=0.0005),
    )
    out = comparison.save(args.out, overwrite=True, report=not args.small)
    print(comparison.table.drop("strategies"))
    print(f"results in {out}/")


if __name__ == "__main__":
    main()
