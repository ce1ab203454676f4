"""GLFT: hand-checked coefficients and quotes, and properties of its skew and spread."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategy_helpers import best, make_input, quote, rounded_best

import mmsim
from mmsim.strategies import glft_coefficients, glft_distances

VOL = "volatility_60"


def test_coefficients_for_a_known_state():
    """gamma 0.01, kappa 0.5, A 2: x = 0.02.

    c1 = ln(1.02)/0.01 = 1.980263 bps
    c2 = sqrt(0.01/(2*2*0.5) * 1.02^51) = sqrt(0.005 * 2.745420) = 0.117163 sqrt(bar)
    """
    c1, c2 = glft_coefficients(0.01, 0.5, 2.0)
    assert c1 == pytest.approx(100 * math.log(1.02))
    assert c2 == pytest.approx(math.sqrt(0.005 * 1.02**51))
    assert (c1, c2) == pytest.approx((1.9802627296, 0.1171627029))


def test_quotes_for_a_known_state():
    """sigma 10 bps, q = 1 (position 10 at 100, order value 1000): sigma*c2 = 1.171627 bps.

    bid distance = c1 + 1.171627*1.5 = 3.737703 bps -> 99.962623
    ask distance = c1 - 1.171627*0.5 = 1.394449 bps -> 100.013944
    """
    strategy = mmsim.glft(gamma=0.01, kappa=0.5, A=2.0, order_value=1_000, max_inventory=5)
    quotes = quote(strategy, make_input(100.0, position=10.0, features={VOL: 0.001}))
    assert quotes.bids == (pytest.approx((99.96262296727, 10.0)),)
    assert quotes.asks == (pytest.approx((100.01394449215, 10.0)),)
    # the reservation price is the middle of the two quotes
    assert quotes.reservation_price == pytest.approx((99.96262296727 + 100.01394449215) / 2)


def test_calibrated_A_and_kappa_replace_the_fixed_ones_when_ready():
    strategy = mmsim.glft(gamma=0.01, kappa=0.5, A=2.0, calibration_window=500)
    features = {VOL: 0.001, "fill_A_500": 0.7, "fill_kappa_500": 0.2}
    fitted = quote(strategy, make_input(100.0, features=features))
    expected = quote(
        mmsim.glft(gamma=0.01, kappa=0.2, A=0.7), make_input(100.0, features={VOL: 0.001})
    )
    assert fitted == expected
    warming = quote(strategy, make_input(100.0, features={**features, "fill_A_500": None}))
    assert warming == quote(
        mmsim.glft(gamma=0.01, kappa=0.5, A=2.0), make_input(100.0, features={VOL: 0.001})
    )


def test_max_inventory_stops_the_growing_side():
    strategy = mmsim.glft(max_inventory=2, order_value=1_000)
    quotes = quote(strategy, make_input(100.0, position=-15.0, features={VOL: 0.001}))
    assert quotes.asks == () and quotes.bids


def test_min_spread_floor():
    strategy = mmsim.glft(gamma=0.01, kappa=5.0, A=50.0, min_spread_bps=10.0)
    bid, ask = best(quote(strategy, make_input(100.0, features={VOL: 0.0001})))
    assert (ask - bid) / 100 * 1e4 == pytest.approx(10.0)


# ranges where sigma*c2*q stays well below 10,000 bps (beyond, a quote would cross zero)
params = st.fixed_dictionaries(
    {
        "gamma": st.floats(1e-4, 0.1),
        "kappa": st.floats(0.05, 5.0),
        "A": st.floats(0.1, 20.0),
    }
)


@given(params, st.floats(1e-5, 0.005), st.floats(-3.0, 3.0), st.floats(-3.0, 3.0))
def test_inventory_skew_lowers_both_distances_consistently(p, sigma, q1, q2):
    """More inventory widens the bid and tightens the ask by the same sigma*c2 per order."""
    lo, hi = sorted((q1, q2))
    b_lo, a_lo = glft_distances(p["gamma"], p["kappa"], p["A"], sigma * 1e4, lo)
    b_hi, a_hi = glft_distances(p["gamma"], p["kappa"], p["A"], sigma * 1e4, hi)
    assert b_hi >= b_lo and a_hi <= a_lo
    assert (b_hi - b_lo) == pytest.approx(a_lo - a_hi, rel=1e-9, abs=1e-9)


@given(params, st.floats(0.01, 100_000.0), st.floats(1e-5, 0.005), st.floats(0.01, 9.0))
def test_long_inventory_moves_quotes_down_and_short_up(p, close, sigma, q):
    strategy = mmsim.glft(**p, max_inventory=10)
    feats = {VOL: sigma}
    flat = quote(strategy, make_input(close, features=feats))
    long = quote(strategy, make_input(close, position=q * 1_000 / close, features=feats))
    short = quote(strategy, make_input(close, position=-q * 1_000 / close, features=feats))
    assert long.reservation_price < flat.reservation_price < short.reservation_price
    assert long.asks[0][0] < flat.asks[0][0] < short.asks[0][0]


@given(params, st.floats(0.01, 100_000.0), st.floats(1e-5, 0.005))
def test_zero_inventory_gives_symmetric_quotes(p, close, sigma):
    bid, ask = best(quote(mmsim.glft(**p), make_input(close, features={VOL: sigma})))
    assert close - bid == pytest.approx(ask - close, rel=1e-9)


@given(params, st.floats(0.01, 100_000.0), st.floats(1e-5, 0.005), st.floats(-12.0, 12.0))
def test_bid_below_ask_after_rounding_and_sizes_within_the_cap(p, close, sigma, q):
    quotes = quote(
        mmsim.glft(**p, max_inventory=10),
        make_input(close, position=q * 1_000 / close, features={VOL: sigma}),
    )
    bid, ask = rounded_best(quotes, close)
    if bid is not None and ask is not None:
        assert bid < ask
    for _, qty in quotes.bids:
        assert q + qty * close / 1_000 <= 10 + 1e-9
    for _, qty in quotes.asks:
        assert -q + qty * close / 1_000 <= 10 + 1e-9
