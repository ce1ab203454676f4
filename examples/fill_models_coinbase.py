"""How wrong is each bar fill rule? Fixed spreads of 1-20 bps and Avellaneda-Stoikov on the two
Coinbase BTC-USD recordings (1-minute bars built from the tape), against trade-level fills.

    python examples/fill_models_coinbase.py [--small] [--tapes DIR] [--out fill_models.csv]
                                            [--markdown]

Prints one row per recording, strategy and fill rule, and writes them all to --out (CSV).
--small: the first hour of each recording and two spreads (a quick check).
--markdown: print instead the two tables of docs/fill-models.md.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import polars as pl

import mmsim

# ../shared beside the repository (MMSIM_SHARED overrides it)
SHARED = os.environ.get("MMSIM_SHARED") or Path(__file__).resolve().parents[1].parent / "shared"
TAPES = Path(SHARED) / "data" / "real" / "trades"
COINBASE = "andronovDR_data__coinbase_btcusd_trades_2018"
RECORDINGS = {
    "2018-10-20": f"{COINBASE}/btcusdMarketOvernight.txt",
    "2018-10-31": f"{COINBASE}/btcusdMarket10302018/btcusdmarket.txt",
}
SPREADS_BPS = (1, 2, 3, 5, 8, 10, 15, 20)
# Coinbase BTC-USD: a 0.01 USD tick, sizes in satoshis, no maker fee in 2018
VENUE = mmsim.Venue(
    maker_fee=0.0, taker_fee=0.003, tick_sizes={"BTCUSD": 0.01}, lot_sizes={"BTCUSD": 1e-8}
)


def cases(trades: pl.DataFrame, spreads) -> dict:
    """Strategy name -> strategy: the fixed spreads, and A-S with κ fitted on these bars."""
    fit = mmsim.fit_intensity(mmsim.bars_from_trades(trades, "1m"))
    made = {f"fixed {s} bps": mmsim.fixed_spread(half_spread_bps=s) for s in spreads}
    made["A-S"] = mmsim.avellaneda_stoikov(
        gamma=0.0001, kappa=round(fit.kappa, 3), horizon="1h", max_inventory=5, vol_window=30
    )
    return made


def _pm(value, ci) -> str:
    """A mean ± its 95% half-width (one decimal); – where there is no value."""
    if value is None:
        return "–"
    return f"{value:.1f}" if ci is None else f"{value:.1f} ± {ci:.1f}"


def markdown_tables(table: pl.DataFrame) -> str:
    """The docs' tables: per recording, one row per strategy comparing the rules to the tape."""
    head = (
        "| strategy | tape fills | through 0 / 1 / 2 fills | intensity fills | tape qty (BTC) "
        "| through 1 qty | intensity qty | markout 5 bars, tape (bps) | through 1 | intensity "
        "| PnL tape (USD, ±95%) | through 1 | intensity |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    out = []
    for day in table["recording"].unique(maintain_order=True):
        out += [f"**{day}**", "", head]
        runs = table.filter(pl.col("recording") == day)
        for name in runs["strategy"].unique(maintain_order=True):
            rule = {
                row["rule"]: row
                for row in runs.filter(pl.col("strategy") == name).iter_rows(named=True)
            }
            tape, t1, mi = rule["tape"], rule["through_1"], rule["intensity"]
            through = " / ".join(str(rule[f"through_{n}"]["fills"]) for n in (0, 1, 2))
            cells = [
                name,
                str(tape["fills"]),
                through,
                str(mi["fills"]),
                *(f"{r['filled_qty']:.2f}" for r in (tape, t1, mi)),
                *(_pm(r["markout_5_bps"], r["markout_5_ci"]) for r in (tape, t1, mi)),
                _pm(tape["pnl"], tape["pnl_ci"]),
                f"{t1['pnl']:.1f}",
                f"{mi['pnl']:.1f}",
            ]
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--tapes", type=Path, default=TAPES)
    parser.add_argument("--out", type=Path, default=Path("fill_models.csv"))
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    small = args.small or os.environ.get("MMSIM_SMALL") == "1"
    if not (args.tapes / RECORDINGS["2018-10-20"]).exists():
        message = f"the Coinbase recordings are not under {args.tapes}; pass --tapes DIR"
        if small:  # the quick check has nothing to check without them
            print(message)
            return
        raise SystemExit(message)
    rows = []
    for day, path in RECORDINGS.items():
        trades = mmsim.read_trades(args.tapes / path, symbol="BTCUSD")
        if small:
            trades = trades.filter(pl.col("ts") < pl.col("ts").min() + pl.duration(hours=1))
        for name, strategy in cases(trades, (1, 5) if small else SPREADS_BPS).items():
            report = mmsim.fill_model_report(trades, strategy, venue=VENUE)
            rows.append(
                report.table.select(
                    pl.lit(day).alias("recording"), pl.lit(name).alias("strategy"), pl.all()
                )
            )
    table = pl.concat(rows)
    table.write_csv(args.out)
    if args.markdown:
        print(markdown_tables(table))
        return
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=220, float_precision=3):
        print(
            table.select(
                "recording",
                "strategy",
                "rule",
                "fills",
                "fill_rate",
                "markout_1_bps",
                "markout_5_bps",
                "markout_15_bps",
                "pnl",
                "pnl_ci",
                "pnl_per_fill",
                "fills_vs_tape",
                "pnl_vs_tape",
            )
        )


if __name__ == "__main__":
    main()
