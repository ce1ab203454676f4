"""Quick start: a two-symbol backtest on the embedded synthetic market, summary printed, folder
written.

    python examples/quickstart.py [--small] [--out DIR]
--small (or MMSIM_SMALL=1) runs 2 days instead of 30, for CI.
"""

from __future__ import annotations

import argparse
import os

import polars as pl

import mmsim


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--small", action="store_true", default=os.environ.get("MMSIM_SMALL") == "1"
    )
    parser.add_argument("--out", default="mmsim-results/quickstart")
    args = parser.parse_args()

    bars = mmsim.synthetic_bars(
        ("BTCUSDT", "ETHUSDT"), days=2 if args.small else 30, interval="1m", seed=7
    )
    result = mmsim.backtest(
        bars,
        strategies={
            "BTCUSDT": mmsim.avellaneda_stoikov(
                gamma=0.0005, kappa=0.5, horizon="1d", max_inventory=10
            ),
            "ETHUSDT": mmsim.fixed_spread(half_spread_bps=8, max_position_value=30_000.0),
        },
        risk=mmsim.basic_risk(max_leverage=3.0, max_symbol_leverage=2.0, min_order_value=10.0),
        venue=mmsim.Venue(maker_fee=0.0002, taker_fee=0.0005),
        initial_cash=100_000.0,
    )
    with pl.Config(tbl_cols=-1, tbl_width_chars=160, float_precision=2):
        print(result.summary)
    print(
        f"final equity {result.final_equity:,.2f} USDT; results in "
        f"{result.save(args.out, overwrite=True, report=not args.small)}"
    )


if __name__ == "__main__":
    main()
