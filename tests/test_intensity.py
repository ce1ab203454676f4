"""Intensity fills: hand-checked decisions, the probability forms, errors, and convergence."""

import math

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

import mmsim
from mmsim.core.bars import Bar
from mmsim.core.intensity import (
    IntensityParams,
    add_uniform_draws,
    fill_probability,
    intensity_limit_fills,
    intensity_matching,
    is_filled,
    quote_distance,
)
from mmsim.core.matching import match_bar
from mmsim.core.orders import MarketOrder, Order
from mmsim.core.venue import SymbolSpec, Venue
from mmsim.research import paper

# the paper's model: A = 140 per unit time, kappa = 1.5 per price unit, bars of dt = 0.005
PAPER = dict(A=140.0, kappa=1.5, dt=0.005, units="price")
FREE = Venue(maker_fee=0.0, taker_fee=0.0)


def bar(open_=100.0, u_bid=0.5, u_ask=0.5, symbol="X"):
    return Bar(
        symbol,
        0,
        open_,
        open_ + 1,
        open_ - 1,
        open_,
        10.0,
        features={"u_bid": u_bid, "u_ask": u_ask},
    )


def filled(orders, b, **model):
    params = IntensityParams(**{**PAPER, **model})
    return [
        (f.side, f.price, f.level) for f in intensity_limit_fills(tuple(orders), b, params, FREE)
    ]


def test_bid_one_below_the_mid_fills_when_its_draw_is_below_0_1562():
    # lambda(1) * dt = 140 * exp(-1.5) * 0.005 = 0.7 * 0.2231302 = 0.1561911
    bid = Order("X", 1, 99.0, 1.0)
    assert filled([bid], bar(u_bid=0.1561)) == [(1, 99.0, 0)]
    assert filled([bid], bar(u_bid=0.1563)) == []


def test_poisson_form_does_not_fill_a_draw_the_linear_form_fills():
    # 1 - exp(-0.1561911) = 0.1446024 < 0.150 < 0.1561911
    bid = Order("X", 1, 99.0, 1.0)
    assert filled([bid], bar(u_bid=0.150), probability="linear") == [(1, 99.0, 0)]
    assert filled([bid], bar(u_bid=0.150), probability="poisson") == []
    assert filled([bid], bar(u_bid=0.1445), probability="poisson") == [(1, 99.0, 0)]


def test_ask_draw_decides_the_ask_and_bid_draw_the_bid():
    # ask 1.5 above the mid: 0.7 * exp(-2.25) = 0.0737794; bid 1 below: 0.1561911
    orders = [Order("X", 1, 99.0, 1.0), Order("X", -1, 101.5, 1.0)]
    assert filled(orders, bar(u_bid=0.9, u_ask=0.07)) == [(-1, 101.5, 0)]
    assert filled(orders, bar(u_bid=0.1, u_ask=0.08)) == [(1, 99.0, 0)]
    assert filled(orders, bar(u_bid=0.1, u_ask=0.07)) == [(1, 99.0, 0), (-1, 101.5, 0)]


def test_bid_above_the_mid_fills_for_sure_under_the_papers_linear_form():
    # delta = -0.5: 0.7 * exp(0.75) = 1.482 > 1, so any draw in [0, 1) fills
    bid = Order("X", 1, 100.5, 1.0)
    assert filled([bid], bar(u_bid=0.999999)) == [(1, 100.5, 0)]
    assert filled([bid], bar(u_bid=0.999999), probability="poisson") == []  # 1 - e^-1.482 = 0.773


def test_distance_in_bps_of_the_open():
    # bid 5 bps under 50,000; A = 2 per bar, kappa = 0.3 per bps: 2 * exp(-1.5) = 0.4462603
    b = bar(open_=50_000.0, u_bid=0.44)
    bid = Order("X", 1, 49_975.0, 0.1)
    model = dict(A=2.0, kappa=0.3, dt=1.0, units="bps")
    assert filled([bid], b, **model) == [(1, 49_975.0, 0)]
    assert filled([bid], bar(open_=50_000.0, u_bid=0.45), **model) == []
    assert quote_distance(50_000.0, 49_975.0, 1, "bps") == pytest.approx(5.0)


def test_levels_of_a_side_share_one_draw_so_fills_are_nested():
    # p(0.5) = 0.7 * exp(-0.75) = 0.3306, p(1.5) = 0.0738: u = 0.2 fills the inner level only
    orders = [Order("X", 1, 98.5, 1.0, level=1), Order("X", 1, 99.5, 1.0, level=0)]
    assert filled(orders, bar(u_bid=0.2)) == [(1, 99.5, 0)]
    assert filled(orders, bar(u_bid=0.05)) == [(1, 99.5, 0), (1, 98.5, 1)]


def test_fill_is_at_the_limit_price_with_the_maker_fee():
    params = IntensityParams(**PAPER)
    venue = Venue(maker_fee=-0.0001, taker_fee=0.0005)
    (fill,) = intensity_limit_fills((Order("X", -1, 100.2, 3.0),), bar(u_ask=0.0), params, venue)
    assert (fill.price, fill.qty, fill.liquidity, fill.reason) == (100.2, 3.0, "maker", "quote")
    assert fill.fee == pytest.approx(100.2 * 3.0 * -0.0001)


def test_market_orders_fill_at_the_open_as_in_match_bar():
    match = intensity_matching(**PAPER)
    specs = {"X": SymbolSpec(0.01, 0.001)}
    venue = Venue(market_slippage_bps=2.0)
    b = bar(u_bid=0.99, u_ask=0.99)
    orders = (MarketOrder("X", -1, 2.0, reason="emergency_exit"),)
    resting = (Order("X", 1, 90.0, 1.0),)
    assert match(resting, orders, (b,), ("X",), specs, venue) == match_bar(
        (), orders, (b,), ("X",), specs, venue
    )


def test_a_symbol_without_a_bar_fills_nothing():
    match = intensity_matching(**PAPER)
    resting = (Order("X", 1, 100.5, 1.0),)
    assert match(resting, (), (None,), ("X",), {"X": SymbolSpec(0.01, 0.001)}, FREE) == ()


def test_missing_draw_column_is_named_in_the_error():
    params = IntensityParams(**{**PAPER, "bid_draw": "draw_b"})
    with pytest.raises(ValueError, match="'draw_b'.*add_uniform_draws"):
        intensity_limit_fills((Order("X", 1, 99.0, 1.0),), bar(), params, FREE)


@pytest.mark.parametrize("u", [None, 1.0, -0.1, math.nan])
def test_draw_outside_unit_interval_is_rejected_with_symbol_and_time(u):
    params = IntensityParams(**PAPER)
    with pytest.raises(ValueError, match="'u_bid'.*symbol 'X' at ts 0"):
        intensity_limit_fills((Order("X", 1, 99.0, 1.0),), bar(u_bid=u), params, FREE)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(A=0.0, kappa=1.0), "A must be"),
        (dict(A=1.0, kappa=-1.0), "kappa must be"),
        (dict(A=1.0, kappa=1.0, dt=math.inf), "dt must be"),
        (
            dict(A=1.0, kappa=1.0, probability="exact"),
            r"^probability must be one of 'linear', 'poisson', got 'exact'$",
        ),
        (dict(A=1.0, kappa=1.0, units="ticks"), "units"),
        (dict(A=1.0, kappa=1.0, bid_draw="u", ask_draw="u"), "different columns"),
        (
            dict(A=1.0, kappa=1.0, bid_draw="not a name"),
            r"^bid_draw must be a column name \(an identifier\), got 'not a name'$",
        ),
    ],
)
def test_invalid_parameters_cannot_exist(kwargs, message):
    with pytest.raises(ValueError, match=message):
        intensity_matching(**kwargs)


@given(
    delta=st.floats(-5, 20),
    step=st.floats(0.0, 5.0),
    A=st.floats(0.1, 500.0),
    kappa=st.floats(0.01, 5.0),
    dt=st.floats(1e-4, 1.0),
)
def test_probability_falls_with_distance_and_poisson_is_a_probability(delta, step, A, kappa, dt):
    """Both forms fall with δ; the Poisson form stays in [0, 1] and never exceeds λ·dt."""
    linear = IntensityParams(A, kappa, dt, "linear", "price")
    poisson = IntensityParams(A, kappa, dt, "poisson", "price")
    for params in (linear, poisson):
        assert fill_probability(params, delta + step) <= fill_probability(params, delta)
    p = fill_probability(poisson, delta)
    assert 0.0 <= p <= 1.0
    assert p <= fill_probability(linear, delta) * (1 + 1e-12)


@given(delta=st.floats(-3, 10), nearer=st.floats(0, 3), u=st.floats(0, 1, exclude_max=True))
def test_a_quote_nearer_the_mid_fills_whenever_a_farther_one_does(delta, nearer, u):
    """With the same draw, a fill at distance δ implies a fill at every distance below δ."""
    params = IntensityParams(**PAPER)
    if is_filled(params, delta, u):
        assert is_filled(params, delta - nearer, u)


def test_add_uniform_draws_is_seeded_and_ignores_row_order():
    bars = mmsim.synthetic_bars(("BTCUSDT", "ETHUSDT"), days=0.1, interval="1m", seed=3)
    a = add_uniform_draws(bars, seed=5)
    b = add_uniform_draws(bars.reverse(), seed=5)
    assert a.equals(b)
    assert not a.equals(add_uniform_draws(bars, seed=6))
    draws = a.select("u_bid", "u_ask").to_numpy()
    assert ((draws >= 0) & (draws < 1)).all()
    with pytest.raises(ValueError, match="already has a column 'u_bid'"):
        add_uniform_draws(a, seed=1)


def constant_market(n_bars: int, seed: int) -> pl.DataFrame:
    """A flat mid of 100 over n_bars bars, with seeded uniform draws."""
    ts = pl.datetime_range(
        pl.datetime(2024, 1, 1),
        pl.datetime(2024, 1, 1) + pl.duration(minutes=n_bars - 1),
        "1m",
        eager=True,
    )
    flat = pl.DataFrame(
        {
            "ts": ts,
            "symbol": "X",
            "open": 100.0,
            "high": 100.0,
            "low": 100.0,
            "close": 100.0,
            "volume": 1.0,
        }
    )
    return add_uniform_draws(flat, seed=seed)


@pytest.mark.parametrize("probability", ["linear", "poisson"])
def test_fill_frequency_at_distance_converges_to_the_stated_probability(probability):
    """Over 20,000 bars of the engine, the share of bars in which a quote 0.625 from the mid
    fills is within 4 binomial standard errors of its probability (0.7·e^-0.9375 = 0.2741
    linear, 1 − e^-0.2741 = 0.2397 Poisson), for bids and asks alike."""
    n = 20_000
    market = constant_market(n, seed=17)
    strategy = paper.symmetric_strategy(gamma=0.1, spread=1.25)  # bid 99.375, ask 100.625
    matching = intensity_matching(
        A=140.0, kappa=1.5, dt=0.005, probability=probability, units="price"
    )
    result = mmsim.backtest(market, strategy, matching=matching, venue=paper.paper_venue(["X"]))
    p = float(fill_probability(matching.params, 0.625))
    tolerance = 4 * math.sqrt(p * (1 - p) / (n - 1))
    for side in (1, -1):
        share = result.fills.filter(pl.col("side") == side).height / (n - 1)
        assert abs(share - p) < tolerance, (side, share, p, tolerance)


def test_fill_probability_works_elementwise_on_arrays_with_the_same_floats():
    params = IntensityParams(**PAPER)
    deltas = np.linspace(-2.0, 4.0, 101)
    vector = fill_probability(params, deltas)
    assert [float(fill_probability(params, float(d))) for d in deltas] == vector.tolist()


def test_on_ohlcv_bars_trade_through_and_intensity_fills_bracket_a_result():
    """On 3 days of synthetic 1m BTC bars, with A and κ calibrated so both models fill about as
    often, trade-through fills (only when the price runs through the quote: all adverse) mark
    out far below intensity fills (independent of the path: no adverse selection), which earn
    the half-spread; so a strategy's result lies between the pessimistic and the optimistic run."""
    bars = add_uniform_draws(
        mmsim.synthetic_bars(("BTCUSDT",), days=3, interval="1m", seed=11, funding=False), seed=12
    )
    h = 5.0  # half-spread, bps of the close (the next bar's open)
    below = (pl.col("open") - pl.col("low")) / pl.col("open") * 1e4
    above = (pl.col("high") - pl.col("open")) / pl.col("open") * 1e4

    def touch_rate(bps: float) -> float:  # share of bars reaching `bps` from the open, per side
        return bars.select(((below >= bps).mean() + (above >= bps).mean()) / 2).item()

    kappa = math.log(touch_rate(h) / touch_rate(2 * h)) / h  # per bps, from two distances
    intensity = intensity_matching(A=touch_rate(h) * math.exp(kappa * h), kappa=kappa, units="bps")
    strategy = mmsim.fixed_spread(half_spread_bps=h, order_value=1_000.0, max_position_value=20_000)
    venue = Venue(maker_fee=0.0, taker_fee=0.0)
    runs = {
        "trade_through": mmsim.backtest(bars, strategy, venue=venue),
        "intensity": mmsim.backtest(bars, strategy, venue=venue, matching=intensity),
    }

    def markout(result):  # bps earned per fill against the close of the fill's bar
        fills = result.fills.join(bars.select("ts", "close"), on="ts")
        m = fills.select(
            (pl.col("close") - pl.col("price")) * pl.col("side") / pl.col("price") * 1e4
        )
        return fills.height, m.to_series().mean(), m.to_series().std() / math.sqrt(fills.height)

    n_tt, tt, tt_se = markout(runs["trade_through"])
    n_in, inten, inten_se = markout(runs["intensity"])
    assert n_tt > 1000 and abs(n_in - n_tt) < 0.15 * n_tt  # calibrated: as many fills
    assert abs(inten - h) < 4 * inten_se  # no adverse selection: the half-spread is earned
    assert tt < h / 2 and tt < inten - 10 * math.hypot(tt_se, inten_se)
    pnl = {k: r.summary.filter(pl.col("symbol") == "TOTAL")["pnl"].item() for k, r in runs.items()}
    assert pnl["trade_through"] < pnl["intensity"]
