"""Alignment policy, gap report and resampling."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from data_support import real
from hypothesis import given, settings
from hypothesis import strategies as st

import mmsim
from mmsim.data import DataError, DroppedRowsWarning, align_bars, gap_report, resample_bars

T0 = dt.datetime(2024, 1, 1)
OHLCV = ["open", "high", "low", "close", "volume"]


def minutes(symbol: str, present: list[int], base: float = 100.0) -> pl.DataFrame:
    """Bars of `symbol` at T0 + k minutes for k in `present` (flat-ish, consistent OHLC)."""
    return pl.DataFrame(
        {
            "ts": [T0 + dt.timedelta(minutes=k) for k in present],
            "symbol": symbol,
            "open": [float(base + k) for k in present],
            "high": [base + k + 1 for k in present],
            "low": [base + k - 1 for k in present],
            "close": [base + k + 0.5 for k in present],
            "volume": [10.0 + k for k in present],
            "taker_buy_volume": [4.0 + k for k in present],
        }
    ).with_columns(pl.col("ts").cast(pl.Datetime("us")))


@pytest.fixture
def gappy():
    # A: 0..9 without 3, 4; B: 2..11 without 7
    return [
        minutes("A", [0, 1, 2, 5, 6, 7, 8, 9]),
        minutes("B", [2, 3, 4, 5, 6, 8, 9, 10, 11], 50.0),
    ]


def test_gap_report_lists_leading_inner_and_trailing_runs(gappy):
    gaps = gap_report(pl.concat(gappy))
    at = lambda k: T0 + dt.timedelta(minutes=k)  # noqa: E731
    assert gaps.rows() == [
        ("B", "leading", at(0), at(1), 2),
        ("A", "gap", at(3), at(4), 2),
        ("B", "gap", at(7), at(7), 1),
        ("A", "trailing", at(10), at(11), 2),
    ]
    assert gaps.schema["missing_bars"] == pl.Int64


def test_skip_policy_keeps_absent_rows_for_the_engine(gappy):
    aligned = align_bars(gappy)
    assert aligned.height == 17
    assert aligned.schema["symbol"] == pl.Categorical
    assert aligned.select(pl.col("ts").is_sorted()).item()
    # the engine sees None for the absent symbol: it does not quote or fill, its mark carries
    result = mmsim.backtest(aligned, mmsim.fixed_spread(half_spread_bps=5), allow_gaps=True)
    a = result.symbols.filter(pl.col("symbol") == "A")
    at = lambda k: T0 + dt.timedelta(minutes=k)  # noqa: E731
    mark = dict(zip(a["ts"].to_list(), a["mark"].to_list(), strict=True))
    assert mark[at(3)] == mark[at(4)] == mark[at(2)] == 102.5
    assert mark[at(11)] == 109.5  # A's last close carried to the end
    assert (
        result.fills.filter(
            (pl.col("symbol") == "A") & pl.col("ts").is_in([at(3), at(4), at(10), at(11)])
        ).height
        == 0
    )


def test_inner_policy_drops_and_counts(gappy):
    with pytest.warns(DroppedRowsWarning) as caught:
        inner = align_bars(gappy, missing="inner")
    assert inner["ts"].unique().sort().to_list() == [
        T0 + dt.timedelta(minutes=k) for k in (2, 5, 6, 8, 9)
    ]
    assert caught[0].message.count == 17 - 10


def test_ffill_policy_adds_flat_zero_volume_bars(gappy):
    filled = align_bars(gappy, missing="ffill")
    a = filled.filter(pl.col("symbol") == "A")
    assert a.height == 12
    row = a.filter(pl.col("ts") == T0 + dt.timedelta(minutes=3)).row(0, named=True)
    assert (row["open"], row["high"], row["low"], row["close"], row["volume"], row["filled"]) == (
        102.5,
        102.5,
        102.5,
        102.5,
        0.0,
        True,
    )
    assert row["taker_buy_volume"] == 0.0
    b = filled.filter(pl.col("symbol") == "B")
    assert b["ts"].min() == T0 + dt.timedelta(minutes=2)  # no bar is invented before B's first one
    assert gap_report(filled).equals(gap_report(pl.concat(gappy)))
    mmsim.validate_bars(filled, allow_gaps=True)


def test_common_span_trims_and_counts(gappy):
    with pytest.warns(DroppedRowsWarning, match="outside the common span"):
        common = align_bars(gappy, span="common")
    assert common["ts"].min() == T0 + dt.timedelta(minutes=2)
    assert common["ts"].max() == T0 + dt.timedelta(minutes=9)


def test_mixed_intervals_and_off_grid_bars_are_refused():
    one = minutes("A", list(range(10)))
    five = minutes("B", list(range(0, 50, 5)))
    with pytest.raises(DataError, match=r"mixed intervals across symbols \(A 1m, B 5m\)"):
        align_bars([one, five])
    shifted = one.with_columns(pl.col("ts") + pl.duration(seconds=30), pl.lit("B").alias("symbol"))
    with pytest.raises(DataError, match="B bar at .* is off the 1m grid of A .* by 30 s"):
        align_bars([one, shifted])
    with pytest.raises(DataError, match="duplicated candle for A"):
        align_bars([one, one])
    with pytest.raises(DataError, match="missing="):
        align_bars(one, missing="guess")


@settings(max_examples=60)
@given(
    a=st.sets(st.integers(0, 40), min_size=2, max_size=30),
    b=st.sets(st.integers(0, 40), min_size=2, max_size=30),
)
def test_policies_agree_with_set_arithmetic(a, b):
    """skip keeps every row, inner the common timestamps; ffill fills exactly the reported gaps."""
    frames = [minutes("A", sorted(a)), minutes("B", sorted(b), 50.0)]
    # sparse symbols make the interval ambiguous (steps of 2 and 3 minutes), so name it
    skip = align_bars(frames, interval="1m")
    assert skip.height == len(a) + len(b)
    with pytest.warns(DroppedRowsWarning) if a != b else _nothing():
        inner = align_bars(frames, missing="inner", interval="1m")
    common = sorted(a & b)
    assert inner["ts"].unique().sort().to_list() == [T0 + dt.timedelta(minutes=k) for k in common]
    filled = align_bars(frames, missing="ffill", interval="1m")
    gaps = gap_report(skip, interval="1m")
    inner_and_trailing = gaps.filter(pl.col("kind") != "leading")["missing_bars"].sum()
    assert filled["filled"].sum() == inner_and_trailing
    assert gap_report(filled, interval="1m").equals(gaps)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# --- resampling -----------------------------------------------------------------------------------


def test_resample_matches_a_hand_aggregation():
    bars = mmsim.synthetic_bars(("BTCUSDT", "ETHUSDT"), days=0.5, interval="1m", seed=11)
    five = resample_bars(bars, "5m")
    assert five.height == bars.height // 5
    for symbol in ("BTCUSDT", "ETHUSDT"):
        src = bars.filter(pl.col("symbol") == symbol)
        got = five.filter(pl.col("symbol") == symbol)
        for k, row in enumerate(got.iter_rows(named=True)):
            chunk = src.slice(5 * k, 5)
            assert row["ts"] == chunk["ts"][0]
            assert row["open"] == chunk["open"][0] and row["close"] == chunk["close"][-1]
            assert row["high"] == chunk["high"].max() and row["low"] == chunk["low"].min()
            assert row["volume"] == pytest.approx(chunk["volume"].sum(), rel=1e-12)
            assert row["taker_buy_volume"] == pytest.approx(
                chunk["taker_buy_volume"].sum(), rel=1e-12
            )
            assert row["funding_rate"] == pytest.approx(chunk["funding_rate"].sum(), abs=1e-15)


@settings(max_examples=30)
@given(drop=st.sets(st.integers(0, 89), max_size=20), seed=st.integers(0, 1000))
def test_resampling_in_steps_equals_resampling_at_once(drop, seed):
    """1m -> 5m -> 15m gives the same bars as 1m -> 15m, gaps or not."""
    bars = mmsim.synthetic_bars(
        ("SOLUSDT",), days=90 / 1440, interval="1m", seed=seed, funding=False
    )
    bars = bars.with_row_index("k").filter(~pl.col("k").is_in(list(drop))).drop("k")
    direct = resample_bars(bars, "15m")
    stepped = resample_bars(resample_bars(bars, "5m"), "15m")
    assert direct.select("ts", "open", "high", "low", "close").equals(
        stepped.select("ts", "open", "high", "low", "close")
    )
    assert direct["volume"].to_list() == pytest.approx(stepped["volume"].to_list(), rel=1e-12)


def test_partial_buckets_are_kept_unless_dropped_and_counted():
    bars = mmsim.synthetic_bars(
        ("BTCUSDT",), days=(60 + 7) / 1440, interval="1m", seed=2, funding=False
    )
    assert resample_bars(bars, "1h").height == 2
    with pytest.warns(DroppedRowsWarning, match="dropped 1 row.*partial 1h bars"):
        hourly = resample_bars(bars, "1h", drop_partial=True)
    assert hourly.height == 1
    with pytest.raises(DataError, match="whole multiple"):
        resample_bars(mmsim.synthetic_bars(("BTCUSDT",), days=1, interval="5m", seed=2), "7m")


def test_real_one_minute_bars_resample_to_five_minutes():
    bars = mmsim.read_bars(real("benicio1007_bot_trading__binance_spot_1m", "2025"), symbol=None)
    five = resample_bars(bars, "5m")
    assert five.group_by("symbol").len()["len"].to_list() == [10_000] * 3
    mmsim.validate_bars(five)
    btc = five.filter(pl.col("symbol") == "BTCUSDT")
    assert btc["ts"][0] == dt.datetime(2025, 1, 1, 3)
    assert btc["volume"].sum() == pytest.approx(
        bars.filter(pl.col("symbol") == "BTCUSDT")["volume"].sum()
    )
