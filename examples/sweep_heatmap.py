"""Sweep Avellaneda-Stoikov's gamma x kappa on a synthetic week and draw the Sharpe heatmap.

    python examples/sweep_heatmap.py               # 7 days, 6 x 6 -> docs/images/sweep_heatmap.png
    python examples/sweep_heatmap.py --small       # half a day, 3 x 3 -> ./sweep_heatmap_small.png

Deterministic: the same arguments give the same rows and the same picture.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import polars as pl

import mmsim
from mmsim.research.sweep_charts import save_chart, sweep_heatmap, top_runs

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="half a day and a 3 x 3 grid")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="PNG path (docs/images/sweep_heatmap.png; --small: ./sweep_heatmap_small.png)",
    )
    parser.add_argument("--executor", default="processes", help="inprocess, processes or dask")
    args = parser.parse_args()

    days, side = (0.5, 3) if args.small else (7, 6)
    out = args.out or (
        Path("sweep_heatmap_small.png") if args.small else ROOT / "docs/images/sweep_heatmap.png"
    )
    gammas = [0.0001, 0.0005, 0.002, 0.005, 0.01, 0.02][:: 2 if args.small else 1][:side]
    kappas = [0.05, 0.1, 0.25, 0.5, 1.0, 2.0][:: 2 if args.small else 1][:side]
    bars = mmsim.synthetic_bars(("BTCUSDT", "ETHUSDT"), days=days, interval="1m", seed=7)
    rows = mmsim.sweep(
        bars,
        strategy=mmsim.avellaneda_stoikov,
        grid={"gamma": gammas, "kappa": kappas},
        params={"horizon": "1d", "order_value": 2_000.0, "max_inventory": 10},
        risk={"max_leverage": 3.0, "min_order_value": 10.0},
        venue={"maker_fee": 0.0002, "taker_fee": 0.0005},
        executor=args.executor,
    )
    with pl.Config(tbl_rows=5, tbl_cols=8, fmt_str_lengths=16):
        print(top_runs(rows, metric="sharpe", n=5))
    chart = sweep_heatmap(
        rows,
        x="gamma",
        y="kappa",
        metric="sharpe",
        title=f"Avellaneda-Stoikov on {days:g} synthetic day{'s' * (days != 1)}, "
        "BTCUSDT + ETHUSDT: Sharpe",
    )
    path = save_chart(chart, out)
    print(f"{rows.height} runs, {(rows['status'] == 'ok').sum()} ok; heatmap in {path}")


if __name__ == "__main__":
    main()
