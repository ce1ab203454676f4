"""The bars validator names the column, symbol and row of the first problem; synthetic markets."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mmsim
import mmsim.testing
from mmsim.core.bars import (
    BarsError,
    MissingBarsError,
    bar_interval_us,
    checked_bars,
    missing_bars,
    validate_bars,
)


@pytest.fixture
def frame():
    return mmsim.synthetic_bars(("AAAUSDT", "BBBUSDT"), days=0.01, seed=1)


def _set(frame, row, **values):
    return (
        frame.with_row_index("i")
        .with_columns(
            *(
                pl.when(pl.col("i") == row).then(pl.lit(v)).otherwise(pl.col(c)).alias(c)
                for c, v in values.items()
            )
        )
        .drop("i")
    )


def test_a_frame_grouped_by_symbol_comes_back_sorted_by_time(frame):
    out = validate_bars(frame.sort("symbol", "ts"))
    assert out["ts"].is_sorted() and out.equals(frame)


def test_unsorted_timestamps_are_named(frame):
    with pytest.raises(BarsError, match=r"unsorted timestamp at symbol 'BBBUSDT', row 2"):
        validate_bars(frame.reverse())


@pytest.mark.parametrize(
    "change, message",
    [
        ({"close": None}, r"null or NaN in column 'close' at symbol 'AAAUSDT', row 4"),
        ({"close": float("nan")}, r"null or NaN in column 'close' at symbol 'AAAUSDT', row 4"),
        ({"low": -1.0}, r"non-positive price at symbol 'AAAUSDT', row 4"),
        ({"high": 1.0}, r"high < max\(open, close\) at symbol 'AAAUSDT', row 4"),
        ({"low": 1e9, "high": 2e9}, r"low > min\(open, close\) at symbol 'AAAUSDT', row 4"),
        ({"volume": -3.0}, r"negative volume at symbol 'AAAUSDT', row 4"),
    ],
)
def test_bad_rows_are_named(frame, change, message):
    with pytest.raises(BarsError, match=message):
        validate_bars(_set(frame, 4, **change))


def test_missing_columns_and_wrong_types_are_named(frame):
    with pytest.raises(BarsError, match=r"missing column\(s\) \['volume'\]"):
        validate_bars(frame.drop("volume"))
    with pytest.raises(BarsError, match="'ts' must be a Datetime"):
        validate_bars(frame.with_columns(pl.col("ts").cast(pl.Int64)))
    with pytest.raises(BarsError, match="empty"):
        validate_bars(frame.clear())


def test_duplicate_timestamps_are_named(frame):
    dup = pl.concat([frame, frame.head(1)])
    with pytest.raises(BarsError, match=r"duplicate timestamp at symbol 'AAAUSDT'"):
        validate_bars(dup)


def test_symbols_on_different_grids_are_refused_unless_gaps_are_allowed(frame):
    holed = frame.filter(~((pl.col("symbol") == "BBBUSDT") & (pl.col("ts") == frame["ts"][6])))
    with pytest.raises(BarsError, match=r"'BBBUSDT' has no bar from .*: 1 missing 1m bar"):
        validate_bars(holed)
    assert validate_bars(holed, allow_gaps=True).height == frame.height - 1
    late = frame.filter(~((pl.col("symbol") == "BBBUSDT") & (pl.col("ts") == frame["ts"][0])))
    with pytest.raises(BarsError, match="different timestamp grids"):
        validate_bars(late)  # no hole inside BBBUSDT's history, but it starts a bar later


def test_synthetic_market_is_seeded_valid_and_correlated():
    a = mmsim.synthetic_bars(days=2, seed=3)
    assert a.equals(mmsim.synthetic_bars(days=2, seed=3))
    assert not a.equals(mmsim.synthetic_bars(days=2, seed=4))
    validate_bars(a)
    assert bar_interval_us(a) == 60_000_000
    assert a.height == 2 * 2 * 1440
    wide = a.pivot(on="symbol", index="ts", values="close").sort("ts")
    r = wide.select(pl.col("BTCUSDT", "ETHUSDT").log().diff().drop_nulls())
    assert 0.6 < r.select(pl.corr("BTCUSDT", "ETHUSDT")).item() < 0.95
    funding = a.filter(pl.col("funding_rate") != 0)
    assert set(funding["ts"].dt.hour().unique().to_list()) == {0, 8, 16}
    assert a["ts"][0] == dt.datetime(2024, 1, 1)


@given(
    frames=mmsim.testing.bars_frames(regimes=mmsim.testing.REGIMES, max_bars=30, funding=None),
    order=st.sampled_from(["ts", "symbol-major", "symbol-major reversed", "reversed symbols"]),
    unit=st.sampled_from(["us", "ms", "ns"]),
)
@settings(max_examples=60, deadline=None)
def test_checked_bars_reads_the_frame_and_interval_a_sort_and_a_second_look_would(
    frames, order, unit
):
    """One pass (rows kept when already in order, the interval and holes read in it) gives the
    frame of a plain sort, the interval `bar_interval_us` reads from it, and refuses holes or
    uneven grids exactly when `missing_bars` (or the grid check) finds them."""
    frame = frames.with_columns(pl.col("ts").cast(pl.Datetime(unit)))
    frame = {
        "ts": frame,
        "symbol-major": frame.sort("symbol", maintain_order=True),
        "symbol-major reversed": frame.sort("symbol", descending=True, maintain_order=True),
        "reversed symbols": frame.sort("ts", "symbol", descending=[False, True]),
    }[order]
    expected = frame.sort("ts", "symbol", maintain_order=True)
    interval = bar_interval_us(expected)
    got, got_interval = checked_bars(frame, allow_gaps=True)
    assert got.equals(expected) and got_interval == interval
    holes = missing_bars(expected, interval).height > 0
    grids = expected.group_by("symbol").agg(pl.col("ts").sort()).get_column("ts").to_list()
    uneven = any(g != grids[0] for g in grids)
    if holes:
        with pytest.raises(MissingBarsError):
            checked_bars(frame)
    elif uneven:
        with pytest.raises(BarsError, match="different timestamp grids"):
            checked_bars(frame)
    else:
        assert checked_bars(frame)[0].equals(expected)


def test_a_lone_symbol_with_a_step_back_is_named_as_before(frame):
    one = frame.filter(pl.col("symbol") == "AAAUSDT")
    swapped = pl.concat([one.slice(0, 3), one.slice(4, 1), one.slice(3, 1), one.slice(5)])
    with pytest.raises(BarsError, match=r"unsorted timestamp at symbol 'AAAUSDT', row 4"):
        validate_bars(swapped)
    with pytest.raises(BarsError, match=r"duplicate timestamp at symbol 'AAAUSDT', row 4"):
        validate_bars(pl.concat([one.slice(0, 4), one.slice(3)]))
