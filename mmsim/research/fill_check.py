"""How wrong is a bar fill rule? The same strategy run on bars built from a trade tape, once per
bar fill rule and once with trade-level fills from the tape itself, side by side.

Rules: "through_n" (`match_bar`, a resting order fills when the bar trades n ticks through it),
"intensity" (Poisson fills with A and κ fitted by `fit_intensity` on the same bars, seeded
draws), and "tape" (`trade_matching`: fills from the prints, queue_ahead of at-price volume
assumed ahead). Per rule: fills, filled quantity, fill rate (fills / orders posted, also per
level), the mean markout of the fills h bars later (bps, +: in the fill's favour), PnL in total
and per fill, each with a 95% confidence interval, and the gap to the tape run.
Confidence intervals: markouts 1.96·sd/√n over fills (fills as independent draws); total PnL
1.96·sd·√k over the sums of k blocks of `block` bars (batch means, which keeps the inventory's
autocorrelation inside blocks); PnL per fill is the total's interval divided by the fills.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import attrs
import polars as pl

from mmsim.core.backtest import backtest
from mmsim.core.intensity import add_uniform_draws, intensity_matching
from mmsim.core.trade_matching import trade_matching
from mmsim.core.venue import Venue
from mmsim.data.timestamps import interval_us as parse_interval
from mmsim.data.trades import bars_from_trades
from mmsim.research.calibration import fit_intensity
from mmsim.results.metrics import fill_rates
from mmsim.results.result import Result
from mmsim.strategies.base import Strategy

Z95 = 1.959963984540054
TABLE_COLUMNS = (
    "rule",
    "fills",
    "filled_qty",
    "fill_rate",
    "markout_h_bps",
    "pnl",
    "pnl_ci",
    "pnl_per_fill",
    "pnl_per_fill_ci",
    "fills_vs_tape",
    "pnl_vs_tape",
)


@attrs.frozen(slots=True)
class FillReport:
    """The comparison (immutable): `table` one row per rule (see the module docstring for the
    columns; markouts as markout_<h>_bps and markout_<h>_ci per horizon), `levels` the fill
    rate per rule, side and level, `results` rule -> Result, `bars` the bars the runs used,
    `intensity` the fitted (A per bar, κ per bps) or None."""

    table: pl.DataFrame = attrs.field(eq=False)
    levels: pl.DataFrame = attrs.field(eq=False)
    results: dict = attrs.field(eq=False)
    bars: pl.DataFrame = attrs.field(eq=False, repr=False)
    intensity: tuple[float, float] | None = None


def fill_markouts(result: Result, horizons: Sequence[int]) -> pl.DataFrame:
    """One row per maker fill: markout_<h>_bps = side·(mark h bars later − price)/price·1e4."""
    ahead = result.symbols.select(
        "ts",
        "symbol",
        *(pl.col("mark").shift(-h).over("symbol", order_by="ts").alias(f"m{h}") for h in horizons),
    )
    fills = result.fills.filter(pl.col("liquidity") == "maker")
    return fills.join(ahead, on=["ts", "symbol"], how="left").select(
        "ts",
        "symbol",
        "side",
        "price",
        "qty",
        *(
            (pl.col("side") * (pl.col(f"m{h}") - pl.col("price")) / pl.col("price") * 1e4).alias(
                f"markout_{h}_bps"
            )
            for h in horizons
        ),
    )


def _mean_ci(values: pl.Series) -> tuple[float | None, float | None]:
    values = values.drop_nulls()
    n = values.len()
    if n == 0:
        return None, None
    sd = values.std() if n > 1 else None
    return float(values.mean()), (Z95 * sd / math.sqrt(n) if sd is not None else None)


def pnl_interval(result: Result, block: int) -> tuple[float, float | None]:
    """(total PnL, 95% half-width by batch means over blocks of `block` bars), quote currency."""
    equity = result.equity["equity"]
    start = float(result.config["initial_cash"])
    steps = equity.diff().fill_null(equity[0] - start)
    sums = (
        pl.DataFrame({"d": steps})
        .with_row_index("k")
        .group_by(pl.col("k") // block, maintain_order=True)
        .agg(pl.col("d").sum())["d"]
    )
    total = float(equity[-1] - start)
    if sums.len() < 2:
        return total, None
    return total, Z95 * float(sums.std()) * math.sqrt(sums.len())


def _row(rule: str, result: Result, horizons: Sequence[int], block: int) -> dict:
    marks = fill_markouts(result, horizons)
    fills = marks.height
    posted = int(result.posted["orders"].sum()) if result.posted.height else 0
    pnl, pnl_ci = pnl_interval(result, block)
    row = {
        "rule": rule,
        "fills": fills,
        "filled_qty": float(marks["qty"].sum()),
        "fill_rate": fills / posted if posted else None,
    }
    for h in horizons:
        row[f"markout_{h}_bps"], row[f"markout_{h}_ci"] = _mean_ci(marks[f"markout_{h}_bps"])
    row |= {
        "pnl": pnl,
        "pnl_ci": pnl_ci,
        "pnl_per_fill": pnl / fills if fills else None,
        "pnl_per_fill_ci": pnl_ci / fills if fills and pnl_ci is not None else None,
    }
    return row


def fill_model_report(
    trades: pl.DataFrame,
    strategy: Strategy,
    *,
    interval: str = "1m",
    venue: Venue | None = None,
    penetrations: Sequence[int] = (0, 1, 2),
    intensity: bool = True,
    queue_ahead: float = 0.5,
    horizons: Sequence[int] = (1, 5, 15),
    block: int = 60,
    seed: int = 0,
    initial_cash: float = 100_000.0,
) -> FillReport:
    """Run `strategy` on the bars of `trades` under each bar fill rule and under trade-level
    fills from the same tape; table the fills, markouts and PnL of each (see the module).

    trades: a trades frame (`mmsim.read_trades`); interval: the bars built from it; venue: fees
    and tick/lot sizes (its penetration_ticks is replaced per rule); penetrations: the n of the
    trade-through rules; intensity: add the fitted intensity rule; queue_ahead: the tape's
    at-price share queued ahead; horizons: markout horizons in bars; block: bars per block of
    the PnL interval; seed: the intensity draws.
    """
    venue = venue or Venue()
    if block < 1:
        raise ValueError(f"block must be >= 1 bar, got {block}")
    bars = bars_from_trades(trades, interval)
    step = parse_interval(interval)
    runs: dict[str, tuple] = {
        f"through_{n}": (attrs.evolve(venue, penetration_ticks=int(n)), None) for n in penetrations
    }
    fitted = None
    if intensity:
        if bars["symbol"].n_unique() > 1:
            raise ValueError(
                f"the tape holds symbols {sorted(bars['symbol'].unique())}: check one at a time"
            )
        fit = fit_intensity(bars)
        fitted = (fit.A, fit.kappa)
        bars = add_uniform_draws(bars, seed=seed)
        runs["intensity"] = (
            venue,
            intensity_matching(A=fit.A, kappa=fit.kappa, probability="poisson", units="bps"),
        )
    runs["tape"] = (venue, trade_matching(trades, interval=step, queue_ahead=queue_ahead))
    results = {}
    for rule, (rule_venue, matching) in runs.items():
        extra = {} if matching is None else {"matching": matching}
        results[rule] = backtest(
            bars, strategy, venue=rule_venue, initial_cash=initial_cash, **extra
        )
    rows = [_row(rule, result, horizons, block) for rule, result in results.items()]
    table = pl.DataFrame(rows)
    tape = table.filter(pl.col("rule") == "tape").row(0, named=True)
    table = table.with_columns(
        (pl.col("fills") / tape["fills"] if tape["fills"] else pl.lit(None, pl.Float64)).alias(
            "fills_vs_tape"
        ),
        (pl.col("pnl") - tape["pnl"]).alias("pnl_vs_tape"),
    )
    levels = pl.concat(
        [
            fill_rates(r.fills, r.posted).select(pl.lit(rule).alias("rule"), pl.all())
            for rule, r in results.items()
        ]
    )
    return FillReport(table, levels, results, bars, fitted)


def fill_model_chart(report: FillReport | pl.DataFrame, *, title: str = "fill rules vs the tape"):
    """An Altair chart: mean markout per horizon (with its 95% interval) and PnL per fill, per
    rule. `report`: a FillReport or its table."""
    import altair as alt

    from mmsim.results.charts import _data

    table = report.table if isinstance(report, FillReport) else report
    horizons = sorted(
        int(c.split("_")[1])
        for c in table.columns
        if c.startswith("markout_") and c.endswith("bps")
    )
    keys = ["rule"]
    long = pl.concat(
        [
            table.select(
                *keys,
                pl.lit(h).alias("horizon"),
                pl.col(f"markout_{h}_bps").alias("markout_bps"),
                (pl.col(f"markout_{h}_bps") - pl.col(f"markout_{h}_ci")).alias("lo"),
                (pl.col(f"markout_{h}_bps") + pl.col(f"markout_{h}_ci")).alias("hi"),
            )
            for h in horizons
        ]
    )
    color = alt.Color("rule:N", title="fill rule")
    base = alt.Chart(_data(long))
    markout = (
        base.mark_line(point=True).encode(
            x=alt.X("horizon:O", title="bars after the fill"),
            y=alt.Y("markout_bps:Q", title="mean markout (bps)"),
            color=color,
        )
        + base.mark_errorbar().encode(x="horizon:O", y="lo:Q", y2="hi:Q", color=color)
    ).properties(width=260, height=200, title="markout of the fills")
    per_fill = table.select(
        *keys,
        "pnl_per_fill",
        (pl.col("pnl_per_fill") - pl.col("pnl_per_fill_ci")).alias("lo"),
        (pl.col("pnl_per_fill") + pl.col("pnl_per_fill_ci")).alias("hi"),
    )
    pnl_base = alt.Chart(_data(per_fill))
    pnl = (
        pnl_base.mark_point(filled=True, size=60).encode(
            x=alt.X("rule:N", title=None),
            y=alt.Y("pnl_per_fill:Q", title="PnL per fill"),
            color=color,
        )
        + pnl_base.mark_errorbar().encode(x="rule:N", y="lo:Q", y2="hi:Q", color=color)
    ).properties(width=200, height=200, title="PnL per fill (95% CI)")
    return alt.hconcat(markout, pnl).properties(title=title)


__all__ = [
    "FillReport",
    "fill_markouts",
    "fill_model_chart",
    "fill_model_report",
    "pnl_interval",
]
