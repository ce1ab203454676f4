"""Altair charts of a run: price with quotes and fills, equity, drawdown, margin, leverage,
inventory, cumulative PnL attribution, markouts, fill rates, and a strategy comparison.

Long runs are aggregated before charting so a year of 1-minute bars still renders quickly: the
bars are cut into buckets of k consecutive bars (k = ceil(bars / max_points)); each bucket keeps
its extremes (a min-max band) and its last value, so no drawdown or inventory peak disappears.
Every fill is drawn while a symbol has at most `max_fills`; above that, maker fills are shown as
one VWAP point per bucket and side (sized by the number of fills), and taker fills (market
orders, emergency exits, liquidations: rare and important) are always drawn one by one. A chart
says in its subtitle when it is aggregated. Times are UTC; money in USDT.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

import attrs
import polars as pl

from mmsim.results._altair import alt
from mmsim.results.attribution import COMPONENTS, cumulative_attribution
from mmsim.results.metrics import TOTAL, compare, drawdown_frame

if TYPE_CHECKING:
    from mmsim.results.metrics import Metrics
    from mmsim.results.result import Result

MAX_POINTS = 1_500
MAX_FILLS = 3_000
WIDTH = 820
HEIGHT = 240
_BUY, _SELL = "#1b9e77", "#d95f02"


def _time_x():
    """The shared time axis (UTC) of every chart over the run's bars."""
    return alt.X("t:T", title=None, scale=alt.Scale(type="utc"), axis=alt.Axis(labelOverlap=True))


@attrs.frozen(slots=True)
class Buckets:
    """How a run's bars are grouped for charting: `size` consecutive bars per point."""

    bars: int
    size: int
    interval_us: int

    @property
    def aggregated(self) -> bool:
        return self.size > 1

    @property
    def points(self) -> int:
        return math.ceil(self.bars / self.size) if self.bars else 0

    def describe(self, how: str = "last value of each") -> str:
        """A subtitle line: how many bars the chart shows and, when aggregated, how."""
        if not self.aggregated:
            return f"{self.bars:,} bars of {_duration(self.interval_us)}, not aggregated"
        return (
            f"aggregated: {self.bars:,} bars of {_duration(self.interval_us)} -> {self.points:,} "
            f"points of {_duration(self.size * self.interval_us)} ({how})"
        )


def buckets_for(n_bars: int, interval_us: int, max_points: int = MAX_POINTS) -> Buckets:
    """Bucket size so that a series of n_bars has at most max_points points."""
    if max_points < 1:
        raise ValueError(f"max_points must be >= 1, got {max_points}")
    return Buckets(n_bars, max(1, math.ceil(n_bars / max_points)), interval_us)


def _duration(us: int) -> str:
    for unit, size in (
        ("d", 86_400_000_000),
        ("h", 3_600_000_000),
        ("min", 60_000_000),
        ("s", 1_000_000),
    ):
        if us >= size and us % size == 0:
            return f"{us // size} {unit}"
    return f"{us / 1e6:g} s"


def _bucketed(
    frame: pl.DataFrame, b: Buckets, aggs: list[pl.Expr], by: str | None = None
) -> pl.DataFrame:
    """Group consecutive bars (per `by` series) into buckets; t = epoch ms of the bucket's start."""
    keys = [by] if by else []
    index = pl.int_range(pl.len()).over(by) if by else pl.int_range(pl.len())
    return (
        frame.with_columns((index // b.size).alias("_bucket"))
        .group_by(*keys, "_bucket", maintain_order=True)
        .agg(pl.col("ts").first().dt.epoch("ms").alias("t"), *aggs)
        .drop("_bucket")
    )


def _finite(frame: pl.DataFrame) -> pl.DataFrame:
    """Non-finite floats become nulls (JSON has no inf or NaN; Vega skips nulls)."""
    floats = [c for c, d in frame.schema.items() if d in (pl.Float64, pl.Float32)]
    return frame.with_columns(
        # 7 significant digits are plenty on a chart and keep the report small
        pl.when(pl.col(c).is_finite()).then(pl.col(c).round_sig_figs(7)).otherwise(None).alias(c)
        for c in floats
    )


def _data(frame: pl.DataFrame) -> dict:
    # a plain {"values": rows} dict: Altair moves it to top-level datasets without validating
    # each row against the schema (which costs ~0.1 ms a row) and without a max_rows limit
    return {"values": _finite(frame).to_dicts()}


def _title(
    text: str, b: Buckets | None = None, extra: str | None = None, how: str = "last value of each"
) -> alt.TitleParams:
    lines = [x for x in (b.describe(how) if b else None, extra) if x]
    if not lines:
        return alt.TitleParams(text, anchor="start")
    return alt.TitleParams(text, subtitle=lines, anchor="start")


def _band_line(frame: pl.DataFrame, b: Buckets, value: str, by: str | None = None) -> pl.DataFrame:
    return _bucketed(
        frame,
        b,
        [
            pl.col(value).min().alias("lo"),
            pl.col(value).max().alias("hi"),
            pl.col(value).last().alias("v"),
        ],
        by,
    )


def price_chart(
    result: Result, symbol: str, *, max_points: int = MAX_POINTS, max_fills: int = MAX_FILLS
) -> alt.LayerChart:
    """The mark (close) with the best bid, ask and reservation price posted, and the fills."""
    sym = result.symbols.filter(pl.col("symbol") == symbol)
    if sym.height == 0:
        raise ValueError(
            f"no symbol {symbol!r} in this result; it has {result.config.get('symbols')}"
        )
    b = buckets_for(sym.height, int(result.config["interval_us"]), max_points)
    quotes = ["bid", "ask", "reservation_price"]
    if b.aggregated:
        frame = _bucketed(
            sym,
            b,
            [
                pl.col("mark").min().alias("lo"),
                pl.col("mark").max().alias("hi"),
                pl.col("mark").last().alias("mark"),
                *(pl.col(q).mean().alias(q) for q in quotes),
            ],
        )
    else:
        frame = sym.select(pl.col("ts").dt.epoch("ms").alias("t"), "mark", *quotes)
    long = frame.unpivot(
        index="t", on=["mark", *quotes], variable_name="series", value_name="price"
    )
    # the axis follows the mark (and the fills); a quote far off it is drawn at the edge
    fills_all = result.fills.filter(pl.col("symbol") == symbol)
    low = min(float(sym["mark"].min()), float(fills_all["price"].min() or sym["mark"].min()))
    high = max(float(sym["mark"].max()), float(fills_all["price"].max() or sym["mark"].max()))
    pad = max((high - low) * 0.15, abs(high) * 1e-4)
    domain = [low - pad, high + pad]
    beyond = sym.select(
        sum(
            ((pl.col(q) < domain[0]) | (pl.col(q) > domain[1])).fill_null(False).sum()
            for q in quotes
        )
    ).item()
    clamp_note = (
        f"{beyond:,} quotes beyond the price range drawn at the chart's edge" if beyond else None
    )
    colour = alt.Color(
        "series:N",
        title=None,
        scale=alt.Scale(
            domain=["mark", "bid", "ask", "reservation_price"],
            range=["#333333", _BUY, _SELL, "#7570b3"],
        ),
    )
    base = alt.Chart(_data(long))
    layers = [
        # nulls (a side not quoted) break the line instead of bridging the gap
        base.mark_line(
            strokeWidth=1, interpolate="step-after", invalid="break-paths-filter-domains"
        ).encode(
            _time_x(),
            alt.Y(
                "price:Q",
                title="price (USDT)",
                scale=alt.Scale(zero=False, domain=domain, clamp=True),
            ),
            colour,
            opacity=alt.condition(alt.datum.series == "mark", alt.value(1.0), alt.value(0.7)),
        )
    ]
    if b.aggregated:
        layers.insert(
            0,
            alt.Chart(_data(frame.select("t", "lo", "hi")))
            .mark_area(opacity=0.15, color="#333333")
            .encode(_time_x(), alt.Y("lo:Q"), alt.Y2("hi:Q")),
        )
    fills = result.fills.filter(pl.col("symbol") == symbol)
    maker = fills.filter(pl.col("liquidity") == "maker")
    taker = fills.filter(pl.col("liquidity") != "maker")
    side_colour = alt.Color(
        "side:N", title="fill", scale=alt.Scale(domain=["buy", "sell"], range=[_BUY, _SELL])
    )
    side_shape = alt.Shape(
        "side:N",
        scale=alt.Scale(domain=["buy", "sell"], range=["triangle-up", "triangle-down"]),
        legend=None,
    )
    side_name = (
        pl.when(pl.col("side") > 0).then(pl.lit("buy")).otherwise(pl.lit("sell")).alias("side")
    )
    note = None
    if maker.height <= max_fills:
        points = maker.select(
            pl.col("ts").dt.epoch("ms").alias("t"), "price", "qty", "level", side_name
        )
        layers.append(
            alt.Chart(_data(points))
            .mark_point(filled=True, size=28, opacity=0.8)
            .encode(
                _time_x(),
                alt.Y("price:Q"),
                side_colour,
                side_shape,
                tooltip=[
                    alt.Tooltip("t:T", title="bar", format="%Y-%m-%d %H:%M", formatType="utc"),
                    "side:N",
                    "price:Q",
                    "qty:Q",
                    "level:Q",
                ],
            )
        )
        if maker.height:
            note = f"{maker.height:,} maker fills, each drawn"
    else:
        fb = buckets_for(sym.height, b.interval_us, max_points)
        start = sym["ts"][0]
        per = (
            maker.with_columns(
                (
                    (pl.col("ts") - start).dt.total_microseconds() // (fb.size * fb.interval_us)
                ).alias("_k")
            )
            .group_by("_k", "side", maintain_order=True)
            .agg(
                (pl.col("ts").min().dt.epoch("ms")).alias("t"),
                ((pl.col("price") * pl.col("qty")).sum() / pl.col("qty").sum()).alias("price"),
                pl.len().alias("fills"),
                pl.col("qty").sum().alias("qty"),
            )
            .with_columns(side_name)
            .sort("t")
        )
        layers.append(
            alt.Chart(_data(per.drop("_k")))
            .mark_point(filled=True, opacity=0.7)
            .encode(
                _time_x(),
                alt.Y("price:Q"),
                side_colour,
                side_shape,
                size=alt.Size("fills:Q", title="fills per point", scale=alt.Scale(range=[10, 160])),
                tooltip=["side:N", "fills:Q", "qty:Q", alt.Tooltip("price:Q", title="VWAP")],
            )
        )
        note = (
            f"{maker.height:,} maker fills shown as {per.height:,} VWAP points "
            f"(one per {_duration(fb.size * fb.interval_us)} and side)"
        )
    if taker.height:
        points = taker.select(pl.col("ts").dt.epoch("ms").alias("t"), "price", "qty", "reason")
        layers.append(
            alt.Chart(_data(points))
            .mark_point(shape="cross", size=90, filled=True, color="#e7298a")
            .encode(_time_x(), alt.Y("price:Q"), tooltip=["reason:N", "price:Q", "qty:Q"])
        )
        note = (note + "; " if note else "") + f"{taker.height:,} taker fills (x), each drawn"
    if clamp_note:
        note = (note + "; " if note else "") + clamp_note
    return (
        alt.layer(*layers)
        .resolve_scale(color="independent", shape="independent")
        .properties(
            width=WIDTH,
            height=HEIGHT + 60,
            title=_title(
                f"{symbol}: price, quotes and fills",
                b,
                note,
                "band = close min-max, lines = last close and mean quotes",
            ),
        )
    )


def equity_chart(result: Result, *, max_points: int = MAX_POINTS) -> alt.LayerChart:
    """Mark-to-market equity and the wallet (cash + realized - fees + funding)."""
    eq = result.equity
    b = buckets_for(eq.height, int(result.config["interval_us"]), max_points)
    frame = _bucketed(
        eq,
        b,
        [
            pl.col("equity").min().alias("lo"),
            pl.col("equity").max().alias("hi"),
            pl.col("equity").last(),
            pl.col("wallet").last(),
        ],
    )
    long = frame.unpivot(
        index="t", on=["equity", "wallet"], variable_name="series", value_name="usdt"
    )
    lines = (
        alt.Chart(_data(long))
        .mark_line(strokeWidth=1.2)
        .encode(
            _time_x(),
            alt.Y("usdt:Q", title="USDT", scale=alt.Scale(zero=False)),
            alt.Color(
                "series:N",
                title=None,
                scale=alt.Scale(domain=["equity", "wallet"], range=["#1f77b4", "#999999"]),
            ),
        )
    )
    layers = [lines]
    if b.aggregated:
        layers.insert(
            0,
            alt.Chart(_data(frame.select("t", "lo", "hi")))
            .mark_area(opacity=0.2, color="#1f77b4")
            .encode(_time_x(), alt.Y("lo:Q"), alt.Y2("hi:Q")),
        )
    return alt.layer(*layers).properties(
        width=WIDTH,
        height=HEIGHT,
        title=_title("Equity and wallet", b, how="band = equity min-max, lines = last"),
    )


def symbol_pnl_chart(result: Result, *, max_points: int = MAX_POINTS) -> alt.LayerChart:
    """Each symbol's PnL over time (realized + unrealized - fees + funding, USDT); the symbols'
    curves add up to equity minus the initial cash, drawn as TOTAL."""
    sym = result.symbols.with_columns(
        (pl.col("realized") + pl.col("unrealized") - pl.col("fees") + pl.col("funding")).alias(
            "pnl"
        )
    )
    n = sym.filter(pl.col("symbol") == sym["symbol"][0]).height if sym.height else 0
    b = buckets_for(n, int(result.config["interval_us"]), max_points)
    per = _bucketed(sym, b, [pl.col("pnl").last()], by="symbol").with_columns(
        pl.col("symbol").cast(pl.String)
    )
    cash = float(result.config["initial_cash"])
    total = _bucketed(
        result.equity, b, [(pl.col("equity").last() - cash).alias("pnl")]
    ).with_columns(pl.lit(TOTAL).alias("symbol"))
    frame = pl.concat([per.select("symbol", "t", "pnl"), total.select("symbol", "t", "pnl")])
    return (
        alt.Chart(_data(frame))
        .mark_line(strokeWidth=1.2)
        .encode(
            _time_x(),
            alt.Y("pnl:Q", title="PnL (USDT)"),
            alt.Color("symbol:N", title=None),
            strokeDash=alt.condition(
                alt.datum.symbol == TOTAL, alt.value([1, 0]), alt.value([4, 2])
            ),
            tooltip=["symbol:N", alt.Tooltip("pnl:Q", format=",.2f")],
        )
        .properties(
            width=WIDTH,
            height=HEIGHT,
            title=_title(
                "PnL per symbol (TOTAL = equity - initial cash)",
                b,
                "realized + unrealized - fees + funding",
            ),
        )
    )


def drawdown_chart(result: Result, *, max_points: int = MAX_POINTS) -> alt.Chart:
    """Drawdown of equity from its running peak (deepest point of each bucket)."""
    dd = drawdown_frame(result.equity, float(result.config["initial_cash"]))
    b = buckets_for(dd.height, int(result.config["interval_us"]), max_points)
    frame = _bucketed(dd, b, [(-pl.col("drawdown")).min().alias("drawdown")])
    return (
        alt.Chart(_data(frame))
        .mark_area(color="#d62728", opacity=0.6, interpolate="step-after")
        .encode(
            _time_x(),
            alt.Y("drawdown:Q", title="drawdown", axis=alt.Axis(format="%")),
            tooltip=[alt.Tooltip("drawdown:Q", format=".2%")],
        )
        .properties(
            width=WIDTH,
            height=HEIGHT * 2 // 3,
            title=_title("Drawdown from peak equity", b, how="deepest of each"),
        )
    )


def margin_chart(result: Result, *, max_points: int = MAX_POINTS) -> alt.Chart:
    """Margin ratio (maintenance margin / equity; liquidation at 1), highest of each bucket."""
    eq = result.equity
    b = buckets_for(eq.height, int(result.config["interval_us"]), max_points)
    frame = _bucketed(eq, b, [pl.col("margin_ratio").max()])
    return (
        alt.Chart(_data(frame))
        .mark_line(color="#8c564b", strokeWidth=1.2, interpolate="step-after")
        .encode(
            _time_x(),
            alt.Y("margin_ratio:Q", title="margin ratio"),
        )
        .properties(
            width=WIDTH,
            height=HEIGHT * 2 // 3,
            title=_title("Margin ratio (liquidation at 1)", b, how="highest of each"),
        )
    )


def leverage_chart(result: Result, *, max_points: int = MAX_POINTS) -> alt.Chart:
    """Leverage (notional / equity) per symbol and in total, highest of each bucket."""
    interval = int(result.config["interval_us"])
    b = buckets_for(result.equity.height, interval, max_points)
    per = _bucketed(result.symbols, b, [pl.col("leverage").max()], by="symbol").rename(
        {"symbol": "series"}
    )
    total = _bucketed(result.equity, b, [pl.col("leverage").max()]).with_columns(
        pl.lit(TOTAL).alias("series")
    )
    frame = pl.concat([per, total.select(per.columns)])
    return (
        alt.Chart(_data(frame))
        .mark_line(strokeWidth=1.1, interpolate="step-after")
        .encode(
            _time_x(),
            alt.Y("leverage:Q", title="leverage (x)"),
            alt.Color("series:N", title=None),
            strokeDash=alt.condition(
                alt.datum.series == TOTAL, alt.value([1, 0]), alt.value([4, 2])
            ),
        )
        .properties(
            width=WIDTH,
            height=HEIGHT * 2 // 3,
            title=_title("Leverage per symbol and total", b, how="highest of each"),
        )
    )


def inventory_chart(result: Result, *, max_points: int = MAX_POINTS) -> alt.LayerChart:
    """Inventory per symbol as signed notional (position * mark, USDT; + long)."""
    sym = result.symbols.with_columns((pl.col("position") * pl.col("mark")).alias("inventory"))
    n = sym.filter(pl.col("symbol") == sym["symbol"][0]).height if sym.height else 0
    b = buckets_for(n, int(result.config["interval_us"]), max_points)
    frame = _band_line(sym, b, "inventory", by="symbol")
    colour = alt.Color("symbol:N", title=None)
    layers = [
        alt.Chart(_data(frame))
        .mark_line(strokeWidth=1, interpolate="step-after")
        .encode(_time_x(), alt.Y("v:Q", title="position notional (USDT)"), colour)
    ]
    if b.aggregated:
        layers.insert(
            0,
            alt.Chart(_data(frame))
            .mark_area(opacity=0.2)
            .encode(_time_x(), alt.Y("lo:Q"), alt.Y2("hi:Q"), colour),
        )
    return alt.layer(*layers).properties(
        width=WIDTH,
        height=HEIGHT * 2 // 3,
        title=_title("Inventory (signed notional)", b, how="band = min-max, line = last"),
    )


def attribution_chart(result: Result, *, max_points: int = MAX_POINTS) -> alt.Chart:
    """Cumulative PnL by attribution component (USDT); `pnl` is their sum, the equity change."""
    cum = cumulative_attribution(result.fills, result.symbols)
    b = buckets_for(cum.height, int(result.config["interval_us"]), max_points)
    frame = _bucketed(cum, b, [pl.col(*COMPONENTS, "pnl").last()])
    used = [c for c in COMPONENTS if frame[c].abs().max() > 0] + ["pnl"]
    long = frame.unpivot(index="t", on=used, variable_name="component", value_name="usdt")
    return (
        alt.Chart(_data(long))
        .mark_line(strokeWidth=1.3)
        .encode(
            _time_x(),
            alt.Y("usdt:Q", title="cumulative PnL (USDT)"),
            alt.Color("component:N", title=None, sort=used),
            strokeWidth=alt.condition(alt.datum.component == "pnl", alt.value(2.5), alt.value(1.2)),
        )
        .properties(
            width=WIDTH,
            height=HEIGHT,
            title=_title(
                "Cumulative PnL by component", b, "pnl = sum of the components = equity change"
            ),
        )
    )


def _nothing_to_show(title: str, note: str, width: int) -> alt.Chart:
    """A chart that says why it is empty (an empty plot would have no size at all)."""
    return (
        alt.Chart({"values": [{"note": note}]})
        .mark_text(fontSize=14, color="#666666")
        .encode(text="note:N")
        .properties(width=width, height=HEIGHT // 2, title=_title(title))
    )


def markout_chart(frame: pl.DataFrame) -> alt.Chart:
    """Markout curves: mean markout (bps) against horizon (bars), per symbol and side."""
    if frame.height == 0:
        return _nothing_to_show("Markouts of maker fills", "no maker fills", WIDTH // 2)
    data = frame.with_columns(
        pl.when(pl.col("side") > 0).then(pl.lit("buy")).otherwise(pl.lit("sell")).alias("side")
    )
    return (
        alt.Chart(_data(data))
        .mark_line(point=True)
        .encode(
            alt.X("horizon:O", title="bars after the fill", axis=alt.Axis(labelAngle=0)),
            alt.Y("markout_bps:Q", title="mean markout (bps)"),
            alt.Color("symbol:N", title=None),
            alt.StrokeDash("side:N", title="side"),
            tooltip=[
                "symbol:N",
                "side:N",
                "horizon:Q",
                "fills:Q",
                alt.Tooltip("markout_bps:Q", format=".2f"),
            ],
        )
        .properties(
            width=WIDTH // 2,
            height=HEIGHT,
            title=_title(
                "Markouts of maker fills",
                None,
                "side * (mark after h bars - price) / price; < 0 = adverse",
            ),
        )
    )


def fill_rate_chart(frame: pl.DataFrame) -> alt.Chart:
    """Fill rate (maker fills / orders posted) per symbol, side and level."""
    if frame.height == 0:
        return _nothing_to_show("Fill rate per side and level", "no orders posted", WIDTH // 2 - 60)
    data = frame.with_columns(
        (
            pl.when(pl.col("side") > 0).then(pl.lit("bid")).otherwise(pl.lit("ask"))
            + pl.lit(" L")
            + pl.col("level").cast(pl.String)
        ).alias("quote")
    )
    return (
        alt.Chart(_data(data))
        .mark_bar()
        .encode(
            alt.X("quote:N", title=None, axis=alt.Axis(labelAngle=0)),
            alt.Y("fill_rate:Q", title="fill rate", axis=alt.Axis(format="%")),
            alt.Color("symbol:N", title=None),
            alt.XOffset("symbol:N"),
            tooltip=[
                "symbol:N",
                "quote:N",
                "orders:Q",
                "fills:Q",
                alt.Tooltip("fill_rate:Q", format=".2%"),
            ],
        )
        .properties(
            width=WIDTH // 2 - 60, height=HEIGHT, title=_title("Fill rate per side and level")
        )
    )


def comparison_chart(
    results: Mapping[str, Result], *, max_points: int = MAX_POINTS
) -> alt.VConcatChart:
    """Strategy sets side by side: return on equity over time, then key figures as bars."""
    curves = []
    notes = []
    for name, r in results.items():
        b = buckets_for(r.equity.height, int(r.config["interval_us"]), max_points)
        cash = float(r.config["initial_cash"])
        frame = _bucketed(r.equity, b, [(pl.col("equity").last() / cash - 1).alias("return")])
        curves.append(frame.with_columns(pl.lit(str(name)).alias("run")))
        bars = r.config.get("bars", {})
        notes.append(f"{name}: {b.describe()}; {bars.get('start', '?')} to {bars.get('end', '?')}")
    data = pl.concat(curves)
    lines = (
        alt.Chart(_data(data))
        .mark_line(strokeWidth=1.3)
        .encode(
            _time_x(),
            alt.Y("return:Q", title="return on equity", axis=alt.Axis(format="%")),
            alt.Color("run:N", title=None),
        )
        .properties(
            width=WIDTH,
            height=HEIGHT,
            title=alt.TitleParams("Strategy sets compared", subtitle=notes, anchor="start"),
        )
    )
    table = compare(results)
    keys = ["return", "sharpe", "sortino", "max_drawdown", "fill_rate", "markout_1_bps"]
    keys = [k for k in keys if k in table.columns]
    long = table.select(pl.col("name").alias("run"), *keys).unpivot(
        index="run", on=keys, variable_name="metric", value_name="value"
    )
    bars = (
        alt.Chart(_data(long))
        .mark_bar()
        .encode(
            alt.X("run:N", title=None, axis=alt.Axis(labelAngle=-30)),
            alt.Y("value:Q", title=None),
            alt.Color("run:N", title=None),  # the same colour per run as the curves above
            tooltip=["run:N", "metric:N", alt.Tooltip("value:Q", format=".4g")],
        )
        .properties(width=max(60, 40 * len(results)), height=140)
        .facet(facet=alt.Facet("metric:N", title=None, sort=keys), columns=6)
        .resolve_scale(y="independent")
    )
    return alt.vconcat(lines, bars)


def report_charts(
    result: Result,
    metrics: Metrics | None = None,
    *,
    max_points: int = MAX_POINTS,
    max_fills: int = MAX_FILLS,
) -> dict[str, alt.TopLevelMixin]:
    """Every chart of the report, by file-friendly name, in reading order."""
    metrics = metrics or result.metrics()
    charts: dict[str, alt.TopLevelMixin] = {}
    for symbol in result.config["symbols"]:
        charts[f"price_{symbol}"] = price_chart(
            result, symbol, max_points=max_points, max_fills=max_fills
        )
    charts["equity"] = equity_chart(result, max_points=max_points)
    charts["pnl_per_symbol"] = symbol_pnl_chart(result, max_points=max_points)
    charts["drawdown"] = drawdown_chart(result, max_points=max_points)
    charts["attribution"] = attribution_chart(result, max_points=max_points)
    charts["inventory"] = inventory_chart(result, max_points=max_points)
    charts["leverage"] = leverage_chart(result, max_points=max_points)
    charts["margin_ratio"] = margin_chart(result, max_points=max_points)
    charts["markouts"] = markout_chart(metrics.markouts)
    charts["fill_rates"] = fill_rate_chart(metrics.fill_rates)
    return charts


__all__ = [
    "MAX_FILLS",
    "MAX_POINTS",
    "Buckets",
    "attribution_chart",
    "buckets_for",
    "comparison_chart",
    "drawdown_chart",
    "equity_chart",
    "fill_rate_chart",
    "inventory_chart",
    "leverage_chart",
    "margin_chart",
    "markout_chart",
    "price_chart",
    "report_charts",
    "symbol_pnl_chart",
]
