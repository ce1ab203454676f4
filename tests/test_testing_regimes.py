"""mmsim.testing.regimes and the market generators: valid OHLC by construction, seeded, and each
regime shows its signature."""

from __future__ import annotations

import math

import polars as pl
import pytest
from conftest import scaled
from hypothesis import find, given, settings

from mmsim.core.bars import validate_bars
from mmsim.core.venue import infer_tick_size
from mmsim.testing import REGIMES, MarketSpec, SymbolPath, has_gaps, spec_of
from mmsim.testing.markets import bars_frames, market_specs
from mmsim.testing.regimes import FUNDING_RATES


def one(
    regime, *, n_bars=200, strength=1.0, volatility=0.01, price=100.0, seed=3, on_tick=False, **kw
):
    spec = MarketSpec(
        (SymbolPath("AAAUSDT", regime, price, volatility, strength, seed, on_tick),),
        n_bars=n_bars,
        **kw,
    )
    return spec, spec.bars()


@settings(max_examples=scaled(150))
@given(spec=market_specs(regimes=REGIMES, max_bars=60))
def test_every_generated_market_is_a_valid_bars_frame(spec):
    """Any spec gives a frame the validator accepts (gaps only when a symbol is gapping), with
    high >= max(open, close), low <= min(open, close), positive prices, and each bar opening at
    the previous bar's close."""
    bars = spec.bars()
    assert validate_bars(bars, allow_gaps=has_gaps(bars)).height == bars.height
    assert not has_gaps(bars) or spec.has_gaps
    assert (
        bars.filter(
            (pl.col("high") < pl.max_horizontal("open", "close"))
            | (pl.col("low") > pl.min_horizontal("open", "close"))
            | (pl.col("low") <= 0)
        ).height
        == 0
    )
    step = pl.duration(minutes=1)
    chained = bars.sort("symbol", "ts").with_columns(
        pl.col("close").shift(1).over("symbol").alias("prev_close"),
        (pl.col("ts").diff().over("symbol") == step).alias("consecutive"),
    )
    assert (
        chained.filter(pl.col("consecutive") & (pl.col("open") != pl.col("prev_close"))).height == 0
    )
    assert sorted(bars["symbol"].unique().to_list()) == sorted(spec.symbols)
    assert (
        bars.filter(
            (pl.col("taker_buy_volume") < 0) | (pl.col("taker_buy_volume") > pl.col("volume"))
        ).height
        == 0
    )


@settings(max_examples=scaled(50))
@given(spec=market_specs(regimes=REGIMES))
def test_a_spec_always_gives_the_same_frame_and_survives_json(spec):
    """Same spec, same frame; the spec's dict form rebuilds an equal spec."""
    assert spec.bars().equals(spec.bars())
    assert MarketSpec.from_dict(spec.to_dict()) == spec


def test_trending_markets_drift_by_up_to_two_volatilities_a_bar():
    _, bars = one("trending", n_bars=200, strength=1.0, volatility=0.01)
    move = math.log(bars["close"][-1] / bars["open"][0])
    assert abs(move) > 3.0  # drift 2 x 0.01 x 200 = 4, noise 0.01 x sqrt(200) = 0.14
    _, flat = one("trending", n_bars=200, strength=0.0, volatility=0.01)
    assert abs(math.log(flat["close"][-1] / flat["open"][0])) < 0.6


def test_mean_reverting_markets_stay_near_their_first_price():
    _, walk = one("random_walk", n_bars=400, volatility=0.02, seed=11)
    _, back = one("mean_reverting", n_bars=400, volatility=0.02, strength=1.0, seed=11)
    spread = lambda b: (b["close"] / b["open"][0]).log().abs().max()  # noqa: E731
    assert spread(back) < 4 * 0.02 < spread(walk)


def test_a_flash_crash_has_one_deep_wick_with_twenty_times_the_volume():
    spec, bars = one("flash_crash", n_bars=50, strength=0.5)  # depth 0.05 + 0.9 * 0.5 = 50 %
    crash = bars.filter(pl.col("low") <= pl.col("open") * 0.5 * (1 + 1e-12))
    assert crash.height == 1
    typical = bars.filter(pl.col("low") > pl.col("open") * 0.5)["volume"].median()
    assert crash["volume"][0] > 5 * typical
    assert crash["close"][0] >= crash["low"][0] > 0


def test_zero_volume_bars_are_flat_and_as_many_as_the_strength_says():
    _, bars = one("zero_volume", n_bars=400, strength=0.5)  # 0.2 + 0.8 * 0.5 = 60 % idle
    idle = bars.filter(pl.col("volume") == 0)
    assert 0.5 < idle.height / bars.height < 0.7
    assert (
        idle.filter((pl.col("high") != pl.col("low")) | (pl.col("open") != pl.col("close"))).height
        == 0
    )


def test_gapping_markets_miss_bars_keep_the_first_and_open_away_from_the_last_close_seen():
    spec, bars = one("gapping", n_bars=100, strength=1.0)  # 60 % missing
    two = MarketSpec(
        spec.paths + (SymbolPath("BBBUSDT", "random_walk", 5.0, 0.01, 0.0, 1),), n_bars=100
    )
    frame = two.bars()
    assert has_gaps(frame) and two.has_gaps
    assert 0.25 < bars.height / 100 < 0.55
    assert bars["ts"].min() == frame["ts"].min()
    jumps = bars.with_columns(pl.col("close").shift(1).alias("seen")).filter(
        pl.col("open") != pl.col("seen")
    )
    assert jumps.height > 10  # the price walked on under the missing bars


def test_on_tick_prices_sit_on_the_inferred_tick_grid_even_after_a_crash():
    _, bars = one("flash_crash", n_bars=60, strength=1.0, price=0.0123, on_tick=True)
    tick = infer_tick_size(0.0123)
    for column in ("open", "high", "low", "close"):
        units = bars[column] / tick
        assert ((units - units.round(0)).abs() < 1e-6).all(), column
        assert (bars[column] >= tick).all()


def test_funding_rates_come_from_the_schedule_or_are_absent():
    _, bars = one("random_walk", n_bars=300)
    assert set(bars["funding_rate"].unique().to_list()) <= set(FUNDING_RATES)
    assert bars.filter(pl.col("funding_rate") != 0).height > 0
    _, none = one("random_walk", n_bars=5, funding=False)
    assert "funding_rate" not in none.columns


def test_takers_buy_more_of_the_volume_in_rising_bars():
    _, bars = one("random_walk", n_bars=400)
    share = bars.with_columns((pl.col("taker_buy_volume") / pl.col("volume")).alias("share"))
    up = share.filter(pl.col("close") > pl.col("open"))["share"].mean()
    down = share.filter(pl.col("close") < pl.col("open"))["share"].mean()
    assert up > 0.6 > 0.4 > down
    _, bare = one("random_walk", n_bars=3, taker_flow=False)
    assert "taker_buy_volume" not in bare.columns


def test_a_generated_frame_remembers_its_spec_while_it_lives():
    spec, bars = one("trending", n_bars=5)
    assert spec_of(bars) == spec
    assert spec_of(bars.clone()) is None
    assert spec_of(pl.DataFrame({"a": [1]})) is None


@given(bars=bars_frames(symbols=("XUSDT",), min_bars=3, max_bars=3))
@settings(max_examples=scaled(10))
def test_bars_frames_draws_frames_of_the_asked_shape(bars):
    """bars_frames with fixed symbols and bar counts gives exactly that shape."""
    assert bars["symbol"].unique().to_list() == ["XUSDT"] and bars.height == 3


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: SymbolPath("A", regime="sideways"), "regime"),
        (lambda: SymbolPath("A", price=-1.0), "price must be a positive finite number"),
        (lambda: SymbolPath("A", strength=1.5), "strength"),
        (lambda: MarketSpec((SymbolPath("A"), SymbolPath("A"))), "distinct symbols"),
        (lambda: MarketSpec((SymbolPath("A"),), interval="soon"), "cannot read duration"),
        (lambda: find(market_specs(regimes=("sideways",)), lambda _: True), "unknown regime"),
    ],
)
def test_bad_market_descriptions_are_refused_naming_the_field(make, message):
    with pytest.raises(ValueError, match=message):
        make()
