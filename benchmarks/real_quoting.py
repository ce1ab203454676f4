"""How Avellaneda-Stoikov and GLFT quote on real bars with each post-only mode.

    python benchmarks/real_quoting.py [FOLDER] [--symbols BTCUSDT,ETHUSDT] [--days N]

FOLDER defaults to ../shared/data/real/andresciancio_freqtrade__binance_spot_1m_2023 (46 days
of Binance spot 1m bars with the March 2023 trading halt, hence allow_gaps=True). Runs each
strategy with its default parameters on the default venue, once with post_only="reject" and
once with "clamp", and prints per symbol the shares of bars quoting both sides, one side and
none, the quotes clamped behind the close, the post-only rejections, fills, fees and PnL, the
maker fills outside their bar's range (each must be a quote the market gapped through: a bid
above the whole bar, at or below the previous close, or the mirror ask), the tick and lot read
from the data, and the count of invariant violations (fill prices under the fill rule, fees and
the equity identity among them).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import polars as pl

import mmsim
from mmsim.testing import check_invariants

DEFAULT = (
    Path(__file__).resolve().parents[1].parent
    / "shared/data/real/andresciancio_freqtrade__binance_spot_1m_2023"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--symbols", default="BTCUSDT,ETHUSDT")
    parser.add_argument("--days", type=float, default=None, help="only the first N days")
    args = parser.parse_args()
    bars = mmsim.load_bars(args.folder, symbols=args.symbols.split(","))
    if args.days:
        start = bars["ts"].min()
        bars = bars.filter(pl.col("ts") < start + pl.duration(minutes=int(args.days * 1440)))
    symbols = bars["symbol"].unique().sort().to_list()
    print(f"{args.folder.name}: {bars['ts'].n_unique():,} bars of {symbols}")
    rows = []
    for name in ("avellaneda_stoikov", "glft"):
        for mode in ("reject", "clamp"):
            t0 = time.perf_counter()
            result = mmsim.backtest(
                bars,
                mmsim.make_strategy(name),
                venue=mmsim.Venue(post_only=mode),
                allow_gaps=True,
            )
            seconds = time.perf_counter() - t0
            violations = len(check_invariants(result, bars))
            rejected = (
                result.rejections.filter(pl.col("reason") == "post_only")
                .group_by("symbol")
                .len("post_only_rejected")
            )
            table = (
                result.summary.filter(pl.col("symbol") != "TOTAL")
                .join(rejected, on="symbol", how="left")
                .select(
                    pl.lit(name).alias("strategy"),
                    pl.lit(mode).alias("post_only"),
                    "symbol",
                    "quoting_both",
                    "quoting_one_side",
                    "quoting_none",
                    "clamped",
                    "clamped_share",
                    pl.col("post_only_rejected").fill_null(0),
                    "fills",
                    "fees",
                    "pnl",
                )
            )
            rows.append(table.join(outside_range(result, bars), on="symbol", how="left"))
            specs = {
                s: (v["tick_size"], v["tick_source"], v["lot_size"], v["lot_source"])
                for s, v in result.config["specs"].items()
            }
            print(
                f"{name} / {mode}: {seconds:.0f} s, specs {specs}, "
                f"{violations} invariant violations"
            )
    with pl.Config(tbl_cols=-1, tbl_width_chars=250, tbl_rows=-1, float_precision=4):
        print(pl.concat(rows))


def outside_range(result, bars: pl.DataFrame) -> pl.DataFrame:
    """Per symbol: maker fills priced outside their bar's [low, high], and how many of them the
    market gapped through (a buy above the whole bar at or below the previous close, a sell
    below it at or above the previous close)."""
    frame = bars.with_columns(pl.col("symbol").cast(pl.String)).sort("symbol", "ts")
    frame = frame.with_columns(pl.col("close").shift(1).over("symbol").alias("prev_close"))
    fills = result.fills.filter(pl.col("liquidity") == "maker").join(
        frame, on=["ts", "symbol"], how="left"
    )
    buy = pl.col("side") > 0
    above, below = pl.col("price") > pl.col("high"), pl.col("price") < pl.col("low")
    gapped = (buy & above & (pl.col("price") <= pl.col("prev_close"))) | (
        ~buy & below & (pl.col("price") >= pl.col("prev_close"))
    )
    return fills.group_by("symbol").agg(
        (above | below).sum().alias("outside_range"), gapped.sum().alias("gapped_through")
    )


if __name__ == "__main__":
    main()
