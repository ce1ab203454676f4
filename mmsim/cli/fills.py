"""`mmsim fills-check`: a strategy's fills under each bar fill rule against a trade tape."""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

import polars as pl

from mmsim.data.trades import LAYOUTS


def _value(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _params(pairs: list[str]) -> dict:
    params = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--param {pair!r}: write NAME=VALUE, e.g. --param half_spread_bps=5")
        params[key.strip()] = _value(value.strip())
    return params


def _fills_check(args: argparse.Namespace) -> int:
    import mmsim
    from mmsim.research.fill_check import fill_model_chart, fill_model_report
    from mmsim.research.sweep_charts import save_chart
    from mmsim.strategies import make_strategy

    trades = mmsim.read_trades(args.tapes, symbol=args.symbol, layout=args.layout)
    symbols = trades["symbol"].unique().to_list()
    sizes = {}
    if args.tick_size:
        sizes["tick_sizes"] = dict.fromkeys(symbols, args.tick_size)
    if args.lot_size:
        sizes["lot_sizes"] = dict.fromkeys(symbols, args.lot_size)
    venue = mmsim.Venue(maker_fee=args.maker_fee, taker_fee=args.taker_fee, **sizes)
    strategy = make_strategy(args.strategy, **_params(args.param))
    report = fill_model_report(
        trades,
        strategy,
        interval=args.interval,
        venue=venue,
        queue_ahead=args.queue_ahead,
        intensity=not args.no_intensity,
        seed=args.seed,
    )
    shown = report.table.select(
        "rule",
        "fills",
        "fill_rate",
        "filled_qty",
        *(c for c in report.table.columns if c.startswith("markout_") and c.endswith("_bps")),
        "pnl",
        "pnl_ci",
        "pnl_per_fill",
        "fills_vs_tape",
        "pnl_vs_tape",
    )
    with pl.Config(tbl_rows=20, tbl_cols=20, tbl_width_chars=200, float_precision=4):
        print(f"{trades.height} trades of {', '.join(symbols)} -> {report.bars.height} bars")
        print(shown)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        report.table.write_csv(args.out / "fill_models.csv")
        report.levels.write_csv(args.out / "fill_rates_by_level.csv")
        save_chart(fill_model_chart(report), args.out / "fill_models.html")
        print(f"wrote {args.out / 'fill_models.csv'} and fill_models.html")
    return 0


EXAMPLES = """examples:
  mmsim fills-check btcusd.csv --tick-size 0.01 --param half_spread_bps=2 --out fills/
  mmsim fills-check DATA/parquet/um/aggTrades/BTCUSDT.parquet --strategy glft --interval 5m"""


def add_fills_command(subparsers) -> None:
    """Add `fills-check` to the `mmsim` argparse subparsers."""
    text = "run a strategy under each bar fill rule and under trade-level fills from a tape"
    p = subparsers.add_parser(
        "fills-check",
        help=text,
        description=text,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("tapes", nargs="+", help="trade files, folders or globs (mmsim.read_trades)")
    p.add_argument("--symbol", help="symbol of files whose name and columns name none")
    p.add_argument(
        "--layout",
        default="auto",
        choices=LAYOUTS,
        help="file layout (default: detected per file)",
    )
    p.add_argument("--interval", default="1m", help="bars built from the tape (default 1m)")
    p.add_argument("--strategy", default="fixed_spread", help="a registered strategy name")
    p.add_argument(
        "--param",
        "--set",
        dest="param",
        action="append",
        metavar="NAME=VALUE",
        help="a strategy parameter, repeatable (as `mmsim run --param`; --set is the same)",
    )
    p.add_argument("--maker-fee", type=float, default=0.0, help="fraction of notional (0)")
    p.add_argument("--taker-fee", type=float, default=0.0005, help="fraction of notional")
    p.add_argument("--tick-size", type=float, help="price tick (default: inferred)")
    p.add_argument("--lot-size", type=float, help="quantity step (default: inferred)")
    p.add_argument(
        "--queue-ahead", type=float, default=0.5, help="share of at-price prints ahead (0.5)"
    )
    p.add_argument("--no-intensity", action="store_true", help="leave the intensity rule out")
    p.add_argument("--seed", type=int, default=0, help="seed of the intensity draws (0)")
    p.add_argument("--out", type=Path, help="folder for fill_models.csv and the chart")
    p.set_defaults(func=_fills_check)


__all__ = ["add_fills_command"]
