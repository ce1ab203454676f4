"""Charts: long runs are aggregated and say so; fills stay visible; specs are valid Vega-Lite."""

from __future__ import annotations

import polars as pl
import pytest

import mmsim
from mmsim.results.charts import (
    buckets_for,
    comparison_chart,
    equity_chart,
    price_chart,
    report_charts,
)


@pytest.fixture(scope="module")
def result():
    bars = mmsim.synthetic_bars(("BTCUSDT", "ETHUSDT"), days=1, interval="1m", seed=5)
    return mmsim.backtest(
        bars,
        {
            "BTCUSDT": mmsim.fixed_spread(half_spread_bps=3, order_value=5_000.0),
            "ETHUSDT": mmsim.fixed_spread(half_spread_bps=6, order_value=5_000.0),
        },
        risk=mmsim.basic_risk(max_leverage=2.0, emergency_drawdown=0.002),
        venue=mmsim.Venue(maker_fee=0.0002, taker_fee=0.0005),
    )


def _subtitle(spec: dict) -> str:
    title = spec.get("title", {})
    sub = title.get("subtitle", [])
    return " ".join(sub if isinstance(sub, list) else [sub])


def _dataset_rows(spec: dict) -> list[list[dict]]:
    return list(spec.get("datasets", {}).values())


def test_buckets_cap_the_points_and_describe_themselves():
    b = buckets_for(525_600, 60_000_000, 1_500)
    assert b.size == 351 and b.points <= 1_500 and b.aggregated
    assert "aggregated: 525,600 bars of 1 min" in b.describe()
    small = buckets_for(900, 60_000_000, 1_500)
    assert small.size == 1 and "not aggregated" in small.describe()
    with pytest.raises(ValueError, match="max_points"):
        buckets_for(10, 60_000_000, 0)


def test_a_long_run_is_aggregated_and_the_chart_says_so(result):
    spec = equity_chart(result, max_points=100).to_dict()
    assert "aggregated: 1,440 bars of 1 min -> 96 points of 15 min" in _subtitle(spec)
    assert max(len(rows) for rows in _dataset_rows(spec)) <= 2 * 100
    # the band keeps the extremes: its lowest point is the run's lowest equity
    band = next(rows for rows in _dataset_rows(spec) if rows and "lo" in rows[0])
    assert min(r["lo"] for r in band) == pytest.approx(result.equity["equity"].min(), rel=1e-6)
    short = equity_chart(result, max_points=5_000).to_dict()
    assert "not aggregated" in _subtitle(short)


def test_every_fill_is_drawn_while_there_are_few(result):
    symbol = "BTCUSDT"
    fills = result.fills.filter(pl.col("symbol") == symbol)
    maker = fills.filter(pl.col("liquidity") == "maker")
    taker = fills.filter(pl.col("liquidity") == "taker")
    assert maker.height > 20 and taker.height > 0  # the fixture exercises both
    spec = price_chart(result, symbol, max_points=200, max_fills=10_000).to_dict()
    points = [rows for rows in _dataset_rows(spec) if rows and "level" in rows[0]]
    assert len(points) == 1 and len(points[0]) == maker.height
    crosses = [rows for rows in _dataset_rows(spec) if rows and "reason" in rows[0]]
    assert len(crosses[0]) == taker.height
    assert f"{maker.height:,} maker fills, each drawn" in _subtitle(spec)


def test_many_fills_become_vwap_points_that_still_count_every_fill(result):
    symbol = "BTCUSDT"
    fills = result.fills.filter(pl.col("symbol") == symbol)
    maker = fills.filter(pl.col("liquidity") == "maker")
    spec = price_chart(result, symbol, max_points=50, max_fills=10).to_dict()
    vwap = next(rows for rows in _dataset_rows(spec) if rows and "fills" in rows[0])
    assert sum(r["fills"] for r in vwap) == maker.height
    assert len(vwap) <= 2 * 50
    assert "VWAP points" in _subtitle(spec)
    crosses = next(rows for rows in _dataset_rows(spec) if rows and "reason" in rows[0])
    assert len(crosses) == fills.height - maker.height  # taker fills never aggregated


def test_report_charts_cover_the_issue_list_and_compile(result):
    import vl_convert

    charts = report_charts(result)
    assert list(charts) == [
        "price_BTCUSDT",
        "price_ETHUSDT",
        "equity",
        "pnl_per_symbol",
        "drawdown",
        "attribution",
        "inventory",
        "leverage",
        "margin_ratio",
        "markouts",
        "fill_rates",
    ]
    for name, chart in charts.items():
        vega = vl_convert.vegalite_to_vega(chart.to_dict())  # raises on an invalid spec
        assert vega["marks"], name


def test_comparison_chart_has_a_curve_per_run(result):
    spec = comparison_chart({"a": result, "b": result}).to_dict()
    curves = next(rows for rows in _dataset_rows(spec) if rows and "return" in rows[0])
    assert {r["run"] for r in curves} == {"a", "b"}


def test_non_finite_values_become_nulls_not_invalid_json(result):
    import json

    broken = mmsim.Result(
        result.fills,
        result.equity.with_columns(pl.lit(float("inf")).alias("leverage")),
        result.symbols,
        result.rejections,
        result.events,
        result.summary,
        result.config,
        posted=result.posted,
    )
    text = json.dumps(report_charts(broken)["leverage"].to_dict(), allow_nan=False)
    assert "Infinity" not in text
