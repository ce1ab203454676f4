"""Charts of sweep rows: a heatmap of a metric over two parameters, the top-N table, and the
stitched out-of-sample equity of a walk-forward (Altair; PNG/SVG through vl-convert)."""

from __future__ import annotations

import os
from pathlib import Path

import altair as alt
import polars as pl

from mmsim.atomic import atomic_write
from mmsim.research.walkforward import WalkForward

_AGGREGATES = {
    "max": pl.Expr.max,
    "min": pl.Expr.min,
    "mean": pl.Expr.mean,
    "median": pl.Expr.median,
}


def _safe(name: str) -> str:
    # Vega-Lite reads "a.b" as a nested field: chart data uses dot-free names, titles the real ones
    return name.replace(".", "_").replace("[", "_").replace("]", "_")


def _axis(values: pl.Series, **kwargs) -> alt.Axis:
    # short numeric labels (0.000464 not 0.00046416); text parameters stay as they are
    if values.dtype.is_numeric():
        return alt.Axis(format=".3~g", formatType="number", **kwargs)
    return alt.Axis(**kwargs)


def heatmap_frame(
    rows: pl.DataFrame, *, x: str, y: str, metric: str = "sharpe", aggregate: str = "max"
) -> pl.DataFrame:
    """The metric per (x, y) cell over successful runs; other parameters are folded by
    `aggregate` ("max", "min", "mean", "median") and counted in `runs`."""
    for name in (x, y, metric):
        if name not in rows.columns:
            raise ValueError(f"{name!r} is not a sweep column; columns: {rows.columns}")
    if aggregate not in _AGGREGATES:
        raise ValueError(f"aggregate must be one of {sorted(_AGGREGATES)}, got {aggregate!r}")
    ok = rows.filter((pl.col("status") == "ok") & pl.col(metric).is_not_null())
    return (
        ok.group_by(x, y, maintain_order=True)
        .agg(_AGGREGATES[aggregate](pl.col(metric)).alias(metric), pl.len().alias("runs"))
        .sort(x, y)
    )


def sweep_heatmap(
    rows: pl.DataFrame,
    *,
    x: str,
    y: str,
    metric: str = "sharpe",
    aggregate: str = "max",
    title: str | None = None,
    labels: bool = True,
) -> alt.Chart:
    """A heatmap of `metric` over parameters `x` and `y` (diverging colours centred on 0)."""
    cells = heatmap_frame(rows, x=x, y=y, metric=metric, aggregate=aggregate)
    if cells.height == 0:
        raise ValueError(f"no successful run with a {metric!r} value to draw")
    data = cells.rename({c: _safe(c) for c in cells.columns})
    sx, sy, sm = _safe(x), _safe(y), _safe(metric)
    tried = rows.select(x, y).unique()
    base = alt.Chart(data).encode(
        x=alt.X(
            f"{sx}:O",
            title=x,
            sort=sorted(tried[x].unique().to_list()),
            axis=_axis(cells[x], labelAngle=0),
        ),
        y=alt.Y(
            f"{sy}:O",
            title=y,
            sort=sorted(tried[y].unique().to_list(), reverse=True),
            axis=_axis(cells[y]),
        ),
    )
    folded = cells["runs"].max() > 1
    subtitle = [f"cell = {aggregate} over the other parameters"] if folded else []
    missing = tried.join(cells.select(x, y), on=[x, y], how="anti")
    if missing.height:
        subtitle.append(f"grey: every run of the cell failed ({missing.height} cells)")
    rect = base.mark_rect().encode(
        color=alt.Color(f"{sm}:Q", title=metric, scale=alt.Scale(scheme="redblue", domainMid=0)),
        tooltip=[
            alt.Tooltip(sx, title=x),
            alt.Tooltip(sy, title=y),
            alt.Tooltip(sm, title=metric, format=".4g"),
            alt.Tooltip("runs", title="runs"),
        ],
    )
    chart = rect
    if labels:
        strong = 0.6 * float(cells[metric].abs().max())
        text = base.mark_text(fontSize=10).encode(
            text=alt.Text(f"{sm}:Q", format=".3g"),
            color=alt.condition(
                f"abs(datum.{sm}) > {strong!r}", alt.value("white"), alt.value("black")
            ),
        )
        chart = rect + text
    if missing.height:
        grey = alt.Chart(missing.rename({x: sx, y: sy})).encode(
            x=alt.X(f"{sx}:O", sort=sorted(tried[x].unique().to_list())),
            y=alt.Y(f"{sy}:O", sort=sorted(tried[y].unique().to_list(), reverse=True)),
        )
        chart = (
            chart
            + grey.mark_rect(color="#d9d9d9")
            + grey.mark_text(fontSize=10).encode(text=alt.value("failed"))
        )
    text = title or f"{metric} by {x} and {y}"
    heading = alt.TitleParams(text, subtitle=subtitle) if subtitle else alt.TitleParams(text)
    return chart.properties(
        title=heading,
        width=max(240, 52 * tried[x].n_unique()),
        height=max(180, 30 * tried[y].n_unique()),
    )


def top_runs(
    rows: pl.DataFrame,
    *,
    metric: str = "sharpe",
    n: int = 10,
    maximize: bool | None = None,
    columns: list[str] | None = None,
) -> pl.DataFrame:
    """The n best successful runs by `metric` (descending; ascending for drawdown-like metrics
    or maximize=False), with the grid parameters and headline metrics."""
    if metric not in rows.columns:
        raise ValueError(f"metric {metric!r} is not a sweep column; columns: {rows.columns}")
    if maximize is None:
        maximize = "drawdown" not in metric
    ok = rows.filter((pl.col("status") == "ok") & pl.col(metric).is_not_null())
    best = ok.sort(metric, descending=maximize, maintain_order=True).head(n)
    if columns is None:
        columns = ["run_id", *parameter_columns(rows)]
        headline = (metric, "pnl", "sharpe", "max_drawdown", "fills")
        columns += [c for c in headline if c in rows.columns]
    return best.select(list(dict.fromkeys(columns)))


def parameter_columns(rows: pl.DataFrame) -> list[str]:
    """The grid-parameter columns of sweep rows (those between the meta and the metric columns)."""
    out = []
    for c in rows.columns[3:]:
        if c in ("pnl", "halted", "elapsed_s", "config"):
            break
        out.append(c)
    return out


def walk_forward_chart(wf: WalkForward) -> alt.Chart:
    """The stitched out-of-sample equity, coloured by test window."""
    if wf.equity.height == 0:
        raise ValueError("the walk-forward has no out-of-sample equity to draw")
    data = wf.equity
    return (
        alt.Chart(data)
        .mark_line()
        .encode(
            x=alt.X("ts:T", title="time (UTC)"),
            y=alt.Y("equity:Q", title="out-of-sample equity (USDT)", scale=alt.Scale(zero=False)),
            color=alt.Color("window:N", title="test window"),
        )
        .properties(title="walk-forward: stitched out-of-sample equity", width=640, height=260)
    )


def save_chart(chart: alt.TopLevelMixin, path: str | os.PathLike, *, scale: float = 2.0) -> Path:
    """Write a chart as .png, .svg or .html (by suffix) via a temporary file and a rename."""
    target = Path(path)
    fmt = target.suffix.lstrip(".").lower()
    if fmt not in ("png", "svg", "html"):
        raise ValueError(f"{target}: chart format must be .png, .svg or .html")
    with atomic_write(target, "wb" if fmt == "png" else "w") as handle:
        if fmt == "png":
            chart.save(handle, format="png", scale_factor=scale)
        else:
            chart.save(handle, format=fmt)
    return target


__all__ = [
    "heatmap_frame",
    "parameter_columns",
    "save_chart",
    "sweep_heatmap",
    "top_runs",
    "walk_forward_chart",
]
