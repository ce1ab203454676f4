"""Make the report images of docs/results.md: the default 30-day run of `mmsim run`, its charts.

    python examples/report_images.py                      # writes docs/images/*.png
    python examples/report_images.py --small              # a 1-day run, writes ./report-images/
    python examples/report_images.py --small --out DIR --report DIR/report.html   # what CI runs

Only the full run writes into docs/images (the images that page shows are of that run).

Deterministic: the same arguments give the same run, figures and charts.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import polars as pl  # noqa: E402

import mmsim  # noqa: E402
from mmsim.cli import default_setup  # noqa: E402
from mmsim.results.charts import report_charts  # noqa: E402
from mmsim.results.report import save_pngs, write_report  # noqa: E402

MAIN_CHARTS = ("price_BTCUSDT", "equity", "drawdown", "attribution", "inventory", "markouts")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="a 1-day run (for CI)")
    parser.add_argument(
        "--out",
        type=Path,
        help="PNG folder (docs/images; --small: ./report-images)",
    )
    parser.add_argument("--report", type=Path, help="also write the whole HTML report here")
    args = parser.parse_args()
    if args.out is None:
        args.out = Path("report-images") if args.small else ROOT / "docs" / "images"
    setup = default_setup(days=1 if args.small else 30, seed=7)
    bars = setup.pop("bars")
    result = mmsim.backtest(bars, **setup)
    metrics = result.metrics()
    charts = report_charts(result, metrics)
    paths = save_pngs({name: charts[name] for name in MAIN_CHARTS}, args.out, scale=1.5)
    if args.report:
        paths.append(write_report(result, args.report))
    total = metrics.summary.filter(pl.col("symbol") == "TOTAL").row(0, named=True)
    print(f"{result.symbols.height:,} symbol-bars, {result.fills.height:,} fills")
    for key in (
        "pnl",
        "return",
        "sharpe",
        "sortino",
        "max_drawdown",
        "spread_capture",
        "inventory_pnl",
        "maker_fees",
        "funding",
        "fill_rate",
        "markout_1_bps",
    ):
        print(f"{key}: {total[key]:.6g}")
    for path in paths:
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


if __name__ == "__main__":
    main()
