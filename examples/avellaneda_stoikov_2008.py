"""Reproduce the simulation of Avellaneda & Stoikov (2008), section 3.3, with mmsim.

For gamma = 0.1, 0.01 and 1: 1,000 paths of the paper's market (mid s0 = 100, +/- sigma*sqrt(dt)
steps, sigma = 2, T = 1, dt = 0.005), intensity fills lambda(delta) = 140*exp(-1.5*delta) with
probability lambda*dt per step, one unit per fill, no fees. The "inventory" strategy quotes the
optimal spread around the reservation price; the "symmetric" benchmark quotes the inventory
strategy's time-averaged spread around the mid (the published benchmark). Prints, per gamma and
strategy, the average spread, the mean and std of the terminal profit and inventory with Monte
Carlo standard errors, and the published figures beside them; writes histograms of the terminal
profit (Altair, rendered to PNG by vl-convert).

    python examples/avellaneda_stoikov_2008.py                 # 1,000 paths, fast path (~4 s)
    python examples/avellaneda_stoikov_2008.py --method engine # the same through mmsim.backtest
    python examples/avellaneda_stoikov_2008.py --preprint      # also the 2006 working paper
    python examples/avellaneda_stoikov_2008.py --small         # CI: 40 paths
                                                               # (or env MMSIM_EXAMPLE_SMALL=1)

Deterministic: the same --seed gives the same table and charts.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import altair as alt
import polars as pl

from mmsim import optimal_spread, paper

STRATEGIES = ("inventory", "symmetric")


def run_experiment(
    market: pl.DataFrame, gammas, *, method: str, constant_spread: bool = False
) -> tuple[list[dict], pl.DataFrame]:
    """One row of statistics per (gamma, strategy) and every path's terminal profit.

    constant_spread=True: both strategies quote the constant spread (2/gamma)*ln(1 + gamma/kappa)
    (the working paper's spread column); otherwise the published setting.
    """
    rows, profits = [], []
    for gamma in gammas:
        if constant_spread:
            spread = optimal_spread(gamma, paper.SIGMA, 0.0, paper.KAPPA)
            inventory = paper.inventory_strategy(gamma=gamma, spread=spread)
        else:
            inventory = paper.inventory_strategy(gamma=gamma)
            spread = paper.average_spread(market, inventory)
        symmetric = paper.symmetric_strategy(gamma=gamma, spread=spread)
        for name, strategy in zip(STRATEGIES, (inventory, symmetric), strict=True):
            per_path = paper.run_paths(market, strategy, method=method)
            rows.append({"gamma": gamma, "strategy": name, **paper.summarize_paths(per_path)})
            profits.append(
                per_path.select("profit").with_columns(
                    pl.lit(f"γ = {gamma:g}").alias("gamma"), pl.lit(name).alias("strategy")
                )
            )
    return rows, pl.concat(profits)


def _z(ours: float, ours_se: float, theirs: float, theirs_se: float) -> float:
    return (ours - theirs) / math.hypot(ours_se, theirs_se)


def compare(rows: list[dict], reference: dict, paper_paths: int = 1000) -> list[dict]:
    """Each cell against a reference table: the gap in combined standard errors.

    The reference is itself a 1,000-path Monte Carlo estimate: its standard error is taken as
    ours scaled to its std and path count (the same distributions, estimated twice).
    """
    out = []
    for r in rows:
        ref = reference.get((r["gamma"], r["strategy"]))
        if ref is None:
            continue
        spread, profit, profit_std, q, q_std = ref
        n = r["paths"]
        scale = math.sqrt(n / paper_paths)
        cells = {
            "profit": (r["profit"], r["profit_se"], profit, profit_std / math.sqrt(paper_paths)),
            "profit_std": (
                r["profit_std"],
                r["profit_std_se"],
                profit_std,
                r["profit_std_se"] * profit_std / r["profit_std"] * scale,
            ),
            "final_q": (r["final_q"], r["final_q_se"], q, q_std / math.sqrt(paper_paths)),
            "final_q_std": (
                r["final_q_std"],
                r["final_q_std_se"],
                q_std,
                r["final_q_std_se"] * q_std / r["final_q_std"] * scale,
            ),
        }
        z = {k: _z(*cell) for k, cell in cells.items()}
        out.append(
            {
                "gamma": r["gamma"],
                "strategy": r["strategy"],
                "spread_ref": spread,
                "spread_gap": r["spread"] - spread,
                **{f"z_{k}": v for k, v in z.items()},
                "ref": ref,
            }
        )
    return out


def markdown_table(rows: list[dict], comparison: list[dict]) -> str:
    """Ours beside the reference (in brackets), one line per (gamma, strategy); ± one SE."""
    lines = [
        "| γ | strategy | spread | profit | std(profit) | final q | std(final q) | largest gap |",
        "|---|---|---|---|---|---|---|---|",
    ]
    cells = ("profit", "profit_std", "final_q", "final_q_std")
    for r, c in zip(rows, comparison, strict=True):
        spread, profit, profit_std, q, q_std = c["ref"]
        worst = max(cells, key=lambda k: abs(c[f"z_{k}"]))
        lines.append(
            f"| {r['gamma']:g} | {r['strategy']} | {r['spread']:.3f} ({spread}) "
            f"| {r['profit']:.2f} ± {r['profit_se']:.2f} ({profit}) "
            f"| {r['profit_std']:.2f} ± {r['profit_std_se']:.2f} ({profit_std}) "
            f"| {r['final_q']:.3f} ± {r['final_q_se']:.3f} ({q}) "
            f"| {r['final_q_std']:.2f} ± {r['final_q_std_se']:.2f} ({q_std}) "
            f"| {c[f'z_{worst}']:+.1f} SE, {worst} |"
        )
    return "\n".join(lines)


def report(rows: list[dict], reference: dict, name: str) -> None:
    """Print the table and every cell more than 3 combined standard errors from `reference`."""
    comparison = compare(rows, reference)
    print(markdown_table(rows, comparison))
    cells = ("profit", "profit_std", "final_q", "final_q_std")
    far = [(c, k) for c in comparison for k in cells if abs(c[f"z_{k}"]) > 3]
    print(f"\ncells more than 3 combined SE from {name}: {len(far)}")
    for c, k in far:
        print(f"  gamma {c['gamma']:g} {c['strategy']} {k}: {c[f'z_{k}']:+.1f} SE")


def histogram(profits: pl.DataFrame, title: str) -> alt.FacetChart:
    """Terminal profit of both strategies, one panel per gamma (the paper's figures 2-4)."""
    order = profits["gamma"].unique(maintain_order=True).to_list()
    return (
        alt.Chart(profits)
        .mark_bar(opacity=0.55)
        .encode(
            x=alt.X("profit:Q", bin=alt.Bin(step=2), title="terminal profit"),
            y=alt.Y("count():Q", stack=None, title="paths"),
            color=alt.Color("strategy:N"),
        )
        .properties(width=440, height=150)
        .facet(row=alt.Row("gamma:N", title=None, sort=order), title=title)
    )


def save_png(chart, path: Path) -> None:
    """Render a chart to PNG (vl-convert) atomically: a temporary file beside it, then rename."""
    tmp = path.with_name(f".{path.stem}.tmp.png")
    try:
        chart.save(tmp, scale_factor=1.5)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=2008)
    parser.add_argument("--method", choices=("fast", "engine"), default="fast")
    parser.add_argument("--out", type=Path, default=Path("avellaneda_stoikov_2008"))
    parser.add_argument("--small", action="store_true", help="40 paths (CI)")
    parser.add_argument(
        "--preprint",
        action="store_true",
        help="also compare with the working paper of 2006 (gamma = 0.1, 0.01, 0.5)",
    )
    args = parser.parse_args(argv)
    small = args.small or os.environ.get("MMSIM_EXAMPLE_SMALL") == "1"
    paths = 40 if small else args.paths

    started = time.perf_counter()
    market = paper.paper_market(paths=paths, seed=args.seed)
    rows, profits = run_experiment(market, paper.GAMMAS, method=args.method)
    elapsed = time.perf_counter() - started
    print(f"ran in {elapsed:.1f} s", file=sys.stderr)  # timing on stderr: stdout is deterministic
    print(f"Avellaneda & Stoikov (2008): {paths} paths, seed {args.seed}, method {args.method}")
    print(
        "mean ± Monte Carlo standard error, the published figure in brackets (Quantitative "
        "Finance 8(3), Tables 1-3); gap = (ours − published) / combined standard error\n"
    )
    report(rows, paper.PUBLISHED_2008, "the published table")

    charts = [(histogram(profits, f"Terminal profit of {paths} paths"), "profit_histograms")]
    if args.preprint:
        pre_rows, pre_profits = run_experiment(
            market, (0.1, 0.01, 0.5), method=args.method, constant_spread=True
        )
        print(
            "\nWorking paper (October 2006) reading: constant spread (2/γ)·ln(1 + γ/κ) for both "
            "strategies, γ = 0.1, 0.01, 0.5\n"
        )
        report(pre_rows, paper.PREPRINT_2006, "the working paper's table")
        charts.append(
            (histogram(pre_profits, "Working-paper reading"), "profit_histograms_preprint")
        )

    args.out.mkdir(parents=True, exist_ok=True)
    for chart, stem in charts:
        save_png(chart, args.out / f"{stem}.png")
    print(f"\nhistograms: {', '.join(f'{stem}.png' for _, stem in charts)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
