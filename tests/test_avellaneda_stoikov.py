"""The complete Avellaneda–Stoikov strategy: hand-checked quotes and properties."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategy_helpers import HOUR_US, MINUTE_US, best, make_input, quote, rounded_best

import mmsim
from mmsim.strategies import (
    infinite_horizon_reservation,
    make_strategy,
    optimal_spread,
    reservation_price,
)

VOL = "volatility_60"


def test_the_papers_formulas_on_its_numeric_example():
    """s=100, sigma=2, T-t=1, kappa=1.5, gamma=0.1: r = 100 - 0.4 q, spread 0.4 + 20 ln(1+1/15)."""
    assert reservation_price(100, 0, 0.1, 2, 1) == 100
    assert reservation_price(100, 3, 0.1, 2, 1) == pytest.approx(100 - 3 * 0.4)
    assert optimal_spread(0.1, 2, 1, 1.5) == pytest.approx(0.4 + 20 * math.log(1 + 0.1 / 1.5))


def test_finite_horizon_quotes_for_a_known_state():
    """gamma 0.01/bps, kappa 0.5/bps, sigma 10 bps, q = 2 orders, 30 bars left in the hour.

    r = -q*gamma*sigma^2*(T-t) = -2*0.01*100*30 = -60 bps -> 99.4
    spread = 0.01*100*30 + (2/0.01)*ln(1.02) = 30 + 3.960525 = 33.960525 bps
    bid = -60 - 16.980263 = -76.980263 bps -> 99.230197; ask = -43.019737 bps -> 99.569803
    """
    strategy = mmsim.avellaneda_stoikov(gamma=0.01, kappa=0.5, horizon="1h", order_value=1_000)
    # the bar opens at 29 past the hour: it closes at 30 past, 30 one-minute bars before the hour
    inputs = make_input(100.0, position=20.0, features={VOL: 0.001}, ts=29 * MINUTE_US)
    quotes = quote(strategy, inputs)
    assert quotes.reservation_price == pytest.approx(99.4)
    assert quotes.bids == (pytest.approx((99.230197372704, 10.0)),)
    assert quotes.asks == (pytest.approx((99.569802627296, 10.0)),)


def test_time_left_decays_within_the_horizon_and_resets():
    """The inventory skew shrinks as the hour runs out and is back to full size after it."""
    strategy = mmsim.avellaneda_stoikov(gamma=0.01, kappa=0.5, horizon="1h")
    skews = []
    for minute in (0, 30, 58, 60):
        q = quote(
            strategy, make_input(100.0, position=20.0, features={VOL: 0.001}, ts=minute * MINUTE_US)
        )
        skews.append(100.0 - q.reservation_price)
    # bars left: 59, 29, 1, 59 -> skew = 2*0.01*100*left bps of 100 = 0.02*left
    assert skews == pytest.approx([0.02 * 59, 0.02 * 29, 0.02 * 1, 0.02 * 59])


def test_infinite_horizon_quotes_for_a_known_state():
    """gamma 0.1/bps, sigma 10 bps, q_max 4, q = 1: omega = 0.5*0.01*100*25 = 12.5, g = 1.

    r_ask = 10 ln(1 - 1/24) = -0.425596 bps; r_bid = 10 ln(1 - 3/24) = -1.335314 bps
    depth = 10 ln(1 + 0.1/0.5) = 1.823216 bps
    bid = -3.158529 bps -> 99.968415; ask = 1.397619 bps -> 100.013976
    """
    strategy = mmsim.avellaneda_stoikov(gamma=0.1, kappa=0.5, horizon="inf", max_inventory=4)
    quotes = quote(strategy, make_input(100.0, position=10.0, features={VOL: 0.001}))
    assert quotes.bids[0][0] == pytest.approx(99.96841470506)
    assert quotes.asks[0][0] == pytest.approx(100.01397619424)
    assert quotes.reservation_price == pytest.approx(100 * (1 + (-0.425596144 - 1.335313926) / 2e4))


def test_infinite_horizon_at_zero_inventory_is_asymmetric_as_the_formula_says():
    """At q = 0 the bid sits -(1/gamma) ln(1 - x^2) further out than the ask (x = g/(2 omega))."""
    r_bid, r_ask = infinite_horizon_reservation(0.0, 0.0, 0.1, 10.0, 12.5)
    x = 0.01 * 100 / 25
    assert (0 - r_bid) - (r_ask - 0) == pytest.approx(-10 * math.log(1 - x * x))


@pytest.mark.parametrize("omega", [1e-6, 0.05, 0.124, 0.5, 0.6, 2.0, 12.5])
def test_a_discount_too_small_for_the_volatility_never_leans_the_quotes_the_wrong_way(omega):
    """Quoted sides fall as q grows; at omega <= gamma^2 sigma^2 / 2 nothing is quoted."""
    qs = [-3.0 + 0.05 * k for k in range(121)]
    quotes = [infinite_horizon_reservation(0.0, q, 1.0, 1.0, omega) for q in qs]
    if omega <= 0.5:
        assert all(quote == (None, None) for quote in quotes)
        return
    for side in (0, 1):
        quoted = [quote[side] for quote in quotes if quote[side] is not None]
        assert len(quoted) > 10
        assert all(b <= a + 1e-12 for a, b in zip(quoted, quoted[1:]))


def test_infinite_horizon_stops_the_side_at_the_inventory_bound():
    strategy = mmsim.avellaneda_stoikov(gamma=0.1, kappa=0.5, horizon="inf", max_inventory=4)
    at_cap = quote(strategy, make_input(100.0, position=40.0, features={VOL: 0.001}))
    assert at_cap.bids == () and at_cap.asks
    short_cap = quote(strategy, make_input(100.0, position=-40.0, features={VOL: 0.001}))
    assert short_cap.asks == () and short_cap.bids


def test_size_shaping_shrinks_the_side_that_grows_inventory():
    """eta = 0.5, q = 2: bid worth 1000*exp(-1) USDT, ask the full 1000."""
    strategy = mmsim.avellaneda_stoikov(gamma=0.001, eta=0.5, order_value=1_000)
    quotes = quote(strategy, make_input(100.0, position=20.0, features={VOL: 0.001}))
    assert quotes.bids[0][1] == pytest.approx(10 * math.exp(-1.0))
    assert quotes.asks[0][1] == pytest.approx(10.0)


def test_minimum_spread_floor_widens_around_the_reservation_price():
    strategy = mmsim.avellaneda_stoikov(gamma=0.5, kappa=50.0, horizon="1m", min_spread_bps=20)
    quotes = quote(strategy, make_input(100.0, features={VOL: 0.0001}))
    bid, ask = best(quotes)
    assert (ask - bid) / 100 * 1e4 == pytest.approx(20.0)
    assert (bid + ask) / 2 == pytest.approx(quotes.reservation_price)


def test_max_inventory_stops_the_side_that_would_pass_it():
    strategy = mmsim.avellaneda_stoikov(max_inventory=3, order_value=1_000)
    near = quote(strategy, make_input(100.0, position=25.0, features={VOL: 0.001}))
    assert near.bids == () and near.asks  # q = 2.5: one more bid would make 3.5 > 3


def test_no_quotes_while_volatility_warms_up():
    assert quote(mmsim.avellaneda_stoikov(), make_input(100.0)) == mmsim.core.orders.NO_QUOTES


def test_calibrated_kappa_is_read_from_the_rolling_fit_when_ready():
    strategy = mmsim.avellaneda_stoikov(gamma=0.01, kappa=0.5, calibration_window=100)
    fixed = quote(strategy, make_input(100.0, features={VOL: 0.001}))
    fitted = quote(strategy, make_input(100.0, features={VOL: 0.001, "fill_kappa_100": 0.05}))
    same_as = quote(
        mmsim.avellaneda_stoikov(gamma=0.01, kappa=0.05), make_input(100.0, features={VOL: 0.001})
    )
    assert fixed == quote(
        mmsim.avellaneda_stoikov(gamma=0.01, kappa=0.5), make_input(100.0, features={VOL: 0.001})
    )
    assert fitted == same_as


def test_price_units_match_bps_units_for_the_same_economics():
    """gamma/kappa per USDT at close 100 equal gamma/kappa per bps divided by 0.01 USDT/bps."""
    bps = mmsim.avellaneda_stoikov(gamma=0.01, kappa=0.5)
    price = mmsim.avellaneda_stoikov(gamma=0.01 / 0.01, kappa=0.5 / 0.01, units="price")
    inputs = make_input(100.0, position=20.0, features={VOL: 0.001}, ts=29 * MINUTE_US)
    a, b = quote(bps, inputs), quote(price, inputs)
    assert a.bids[0][0] == pytest.approx(b.bids[0][0]) and a.asks[0][0] == pytest.approx(
        b.asks[0][0]
    )


variants = st.sampled_from(
    [
        {"gamma": 0.0005, "kappa": 0.5},
        {"gamma": 0.01, "kappa": 0.2, "horizon": "8h", "eta": 0.3, "min_spread_bps": 4},
        {"gamma": 0.1, "kappa": 0.5, "horizon": "inf", "max_inventory": 5},
        {"gamma": 0.05, "kappa": 1.0, "horizon": "inf", "max_inventory": 20, "discount": 50.0},
        # a discount far below gamma^2 sigma^2 / 8, where the raw formula leans the wrong way
        {"gamma": 19.0, "kappa": 1.0, "horizon": "inf", "discount": 0.00390625, "units": "price"},
    ]
)
sigmas = st.floats(1e-5, 0.01)
ts_minutes = st.integers(0, 10_000)


@given(
    variants,
    st.floats(1.0, 100_000.0),
    sigmas,
    st.floats(-4.0, 4.0),
    st.floats(-4.0, 4.0),
    ts_minutes,
)
def test_inventory_skew_lowers_quotes_as_inventory_grows(params, close, sigma, q1, q2, minute):
    """A longer position never raises the reservation price, the bid or the ask."""
    strategy = make_strategy("avellaneda_stoikov", **params)
    lo, hi = sorted((q1, q2))
    a = quote(
        strategy,
        make_input(
            close, position=lo * 1_000 / close, features={VOL: sigma}, ts=minute * MINUTE_US
        ),
    )
    b = quote(
        strategy,
        make_input(
            close, position=hi * 1_000 / close, features={VOL: sigma}, ts=minute * MINUTE_US
        ),
    )
    tol = 1e-9 * close
    if a.reservation_price is not None and b.reservation_price is not None:
        assert b.reservation_price <= a.reservation_price + tol
    for side in (0, 1):
        pa, pb = best(a)[side], best(b)[side]
        if pa is not None and pb is not None:
            assert pb <= pa + tol


@given(variants, st.floats(1.0, 100_000.0), sigmas, st.floats(0.01, 4.0), ts_minutes)
def test_inventory_moves_the_reservation_price_against_the_position(
    params, close, sigma, q, minute
):
    """Long: reservation price below the flat one (sell likelier); short: above it.

    (Compared with the flat reservation price rather than the close: the infinite-horizon one
    sits slightly below the close at q = 0, see the asymmetry test above.)
    """
    strategy = make_strategy("avellaneda_stoikov", **params)
    ts = minute * MINUTE_US

    def r(position_orders):
        inputs = make_input(
            close, position=position_orders * 1_000 / close, features={VOL: sigma}, ts=ts
        )
        return quote(strategy, inputs).reservation_price

    flat, long, short = r(0.0), r(q), r(-q)
    if flat is None:  # the model holds no inventory at this discount and volatility
        assert long is None and short is None
        return
    if long is not None:
        assert long < flat
    if short is not None:
        assert short > flat


@given(st.floats(1e-6, 1.0), st.floats(1e-3, 5.0), st.floats(0.01, 100_000.0), sigmas, ts_minutes)
def test_zero_inventory_gives_symmetric_finite_horizon_quotes(gamma, kappa, close, sigma, minute):
    strategy = mmsim.avellaneda_stoikov(gamma=gamma, kappa=kappa, horizon="4h")
    quotes = quote(strategy, make_input(close, features={VOL: sigma}, ts=minute * MINUTE_US))
    bid, ask = best(quotes)
    if bid is not None:  # a bid below zero is not quoted
        assert close - bid == pytest.approx(ask - close, rel=1e-9)


@given(variants, st.floats(0.01, 100_000.0), sigmas, st.floats(-30.0, 30.0), ts_minutes)
def test_bid_stays_below_ask_after_rounding_and_sizes_within_caps(params, close, sigma, q, minute):
    strategy = make_strategy("avellaneda_stoikov", **params)
    quotes = quote(
        strategy,
        make_input(close, position=q * 1_000 / close, features={VOL: sigma}, ts=minute * MINUTE_US),
    )
    bid, ask = rounded_best(quotes, close)
    if bid is not None and ask is not None:
        assert bid < ask
    cap = params.get("max_inventory")
    for price, qty in quotes.bids + quotes.asks:
        assert price > 0 and qty * close <= 1_000 * (1 + 1e-12)
    if cap is not None:
        assert not quotes.bids or q + quotes.bids[0][1] * close / 1_000 <= cap + 1e-9
        assert not quotes.asks or -q + quotes.asks[0][1] * close / 1_000 <= cap + 1e-9


def test_infinite_horizon_needs_an_inventory_bound():
    with pytest.raises(mmsim.StrategyError, match="max_inventory"):
        mmsim.avellaneda_stoikov(horizon="inf")


def test_default_keywords_still_build_the_same_params_positionally():
    """The factory keeps its original keywords and their order."""
    p = mmsim.avellaneda_stoikov(
        gamma=0.0005, kappa=0.5, horizon="1d", order_value=2_000.0, max_inventory=10
    ).params
    assert (p.gamma, p.kappa, p.horizon, p.order_value, p.vol_window, p.max_inventory, p.units) == (
        0.0005,
        0.5,
        "1d",
        2_000.0,
        60,
        10,
        "bps",
    )
    assert p.horizon_us == 24 * HOUR_US
