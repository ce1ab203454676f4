"""Mexico: hand-checked ladders and properties of its signals, levels and sizes."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategy_helpers import best, make_input, quote, rounded_best

import mmsim
from mmsim.core.orders import NO_QUOTES


def test_inventory_skewed_two_level_ladder_for_a_known_state():
    """position 25 at 100 = 2,500 USDT of a 10,000 cap: s_inv = -0.25, skew = 4*-0.25 = -1 bps.

    r = 99.99; levels at 10 and 20 bps of r: bids 99.89001, 99.79002; asks 100.08999, 100.18998.
    """
    strategy = mmsim.mexico(
        levels=2, spacing_bps=10, inventory_skew_bps=4, max_position_value=10_000
    )
    quotes = quote(strategy, make_input(100.0, position=25.0))
    assert quotes.reservation_price == pytest.approx(99.99)
    assert [p for p, _ in quotes.bids] == pytest.approx([99.89001, 99.79002])
    assert [p for p, _ in quotes.asks] == pytest.approx([100.08999, 100.18998])
    assert [p * q for p, q in quotes.bids + quotes.asks] == pytest.approx([1_000.0] * 4)


def test_volatility_momentum_and_impact_terms_for_a_known_state():
    """sigma 5 bps; momentum ln-return 0.002 over 4 bars: s_mom = 0.002/(0.0005*2) = 2.

    skew = 1.5*2 = 3 bps -> r = 100.03; spacing = 10 + 1*5 + 0.5*|2| = 16 bps;
    impact at level i = 2*5*sqrt(cumulative value / 1e6): 0.316228 and 0.447214 bps;
    distances 16.316228 and 32.447214 bps -> bids 99.866789, 99.705431; asks 100.193211, 100.354569.
    """
    strategy = mmsim.mexico(
        levels=2,
        spacing_bps=10,
        vol_spacing=1.0,
        momentum_window=4,
        momentum_skew_bps=1.5,
        momentum_spacing_bps=0.5,
        impact_weight=2.0,
    )
    features = {"volatility_60": 0.0005, "log_return_4": 0.002, "volume_value_60": 1e6}
    quotes = quote(strategy, make_input(100.0, features=features))
    assert quotes.reservation_price == pytest.approx(100.03)
    assert [p for p, _ in quotes.bids] == pytest.approx([99.86678877366, 99.70543052240])
    assert [p for p, _ in quotes.asks] == pytest.approx([100.19321122634, 100.35456947760])


def test_reads_only_the_features_its_weights_need():
    assert mmsim.mexico().features == ()
    names = {f.name for f in mmsim.mexico(ma_skew_bps=-2, ma_window=30, impact_weight=1).features}
    assert names == {"volatility_60", "sma_close_30", "volume_value_60"}


def test_no_quotes_while_a_needed_feature_warms_up():
    strategy = mmsim.mexico(vol_spacing=1.0)
    assert quote(strategy, make_input(100.0, features={"volatility_60": None})) == NO_QUOTES


def test_mean_reversion_and_pnl_weights_lean_as_documented():
    # close 1% above its average with ma_skew < 0: the reservation price goes below the close
    revert = mmsim.mexico(ma_skew_bps=-2.0, ma_window=60)
    q = quote(revert, make_input(101.0, features={"volatility_60": 0.001, "sma_close_60": 100.0}))
    z = math.log(1.01) / (0.001 * math.sqrt(60))
    assert q.reservation_price == pytest.approx(101.0 * (1 - 2.0 * z / 1e4))
    # a winning long with pnl_skew < 0 (take profit): quotes lean down
    take_profit = mmsim.mexico(pnl_skew_bps=-10.0, max_position_value=10_000)
    q = quote(take_profit, make_input(110.0, position=50.0, entry_price=100.0))
    assert q.reservation_price == pytest.approx(110.0 * (1 - 10.0 * 500.0 / 10_000 / 1e4))


def test_user_feature_weights_and_a_clear_error_for_a_missing_column():
    strategy = mmsim.mexico(feature_skews={"my_signal": 3.0})
    q = quote(strategy, make_input(100.0, features={"my_signal": 2.0}))
    assert q.reservation_price == pytest.approx(100.0 * (1 + 6.0 / 1e4))
    with pytest.raises(ValueError, match="feature_skews names 'my_signal'.*TESTUSDT"):
        quote(strategy, make_input(100.0, features={"other": 1.0}))


def test_adaptive_sizes_scale_with_the_remaining_room():
    """Long 5,000 of a 10,000 cap: the bid side has 5,000 of room -> half-size levels."""
    strategy = mmsim.mexico(
        levels=3, sizing="adaptive", order_value=1_000, max_position_value=10_000
    )
    q = quote(strategy, make_input(100.0, position=50.0))
    assert [p * x for p, x in q.bids] == pytest.approx([500.0] * 3)
    assert [p * x for p, x in q.asks] == pytest.approx([1_000.0] * 3)


def test_geometric_sizes_and_aggressiveness():
    strategy = mmsim.mexico(levels=3, sizing="geometric", size_ratio=2.0, aggressiveness=0.5)
    q = quote(strategy, make_input(100.0))
    assert [p * x for p, x in q.bids] == pytest.approx([500.0, 1_000.0, 2_000.0])


@pytest.mark.parametrize(
    ("params", "fault"),
    [
        ({"levels": 0}, "levels"),
        ({"min_spread_bps": 0}, "min_spread_bps"),
        ({"inventory_skew_bps": -1}, "inventory_skew_bps"),
        ({"sizing": "random"}, "sizing"),
        ({"feature_skews": {"not an identifier": 1.0}}, "feature_skews"),
    ],
)
def test_bad_parameters_are_named(params, fault):
    with pytest.raises(mmsim.StrategyError, match=f"mexico: bad parameter: {fault}"):
        mmsim.mexico(**params)


weights = st.fixed_dictionaries(
    {
        "levels": st.integers(1, 6),
        "sizing": st.sampled_from(["constant", "geometric", "adaptive"]),
        "size_ratio": st.floats(0.3, 2.0),
        "aggressiveness": st.floats(0.1, 3.0),
        "order_value": st.floats(10.0, 5_000.0),
        "max_position_value": st.floats(100.0, 50_000.0),
        "spacing_bps": st.floats(0.0, 50.0),
        "vol_spacing": st.floats(0.0, 3.0),
        "momentum_spacing_bps": st.floats(0.0, 5.0),
        "min_spread_bps": st.floats(0.1, 20.0),
        "inventory_skew_bps": st.floats(0.0, 50.0),
        "pnl_skew_bps": st.floats(-20.0, 20.0),
        "ma_skew_bps": st.floats(-5.0, 5.0),
        "momentum_skew_bps": st.floats(-5.0, 5.0),
        "impact_weight": st.floats(0.0, 5.0),
    }
)


def _features(close, sigma, deviation, momentum, volume):
    return {
        "volatility_60": sigma,
        "sma_close_60": close / math.exp(deviation),
        "log_return_15": momentum,
        "volume_value_60": volume,
    }


signal_values = st.tuples(
    st.floats(1e-5, 0.01), st.floats(-0.02, 0.02), st.floats(-0.03, 0.03), st.floats(1e3, 1e8)
)


@given(weights, st.floats(0.01, 100_000.0), signal_values, st.floats(-1.5, 1.5))
def test_levels_are_ordered_spaced_and_within_the_cap(p, close, signals, inventory):
    """Bids fall and asks rise level by level, at least i*spacing from the reservation price,
    exactly i*spacing without impact; filling a whole side never passes the cap."""
    strategy = mmsim.mexico(**p)
    cap = p["max_position_value"]
    position = inventory * cap / close
    features = _features(close, *signals)
    q = quote(strategy, make_input(close, position=position, features=features))
    r = q.reservation_price
    sigma_bps = signals[0] * 1e4
    s_mom = signals[2] / (signals[0] * math.sqrt(15))
    spacing = max(
        p["min_spread_bps"] / 2,
        p["spacing_bps"] + p["vol_spacing"] * sigma_bps + p["momentum_spacing_bps"] * abs(s_mom),
    )
    for side, levels in ((1, q.bids), (-1, q.asks)):
        prices = [price for price, _ in levels]
        assert prices == sorted(prices, reverse=side > 0)
        distances = [side * (r - price) / r * 1e4 for price in prices]
        for i, d in enumerate(distances, start=1):
            if p["impact_weight"] == 0:
                assert d == pytest.approx(i * spacing, rel=1e-9)
            else:
                assert d >= i * spacing * (1 - 1e-9)
        exposure = side * position * close
        total = sum(price * qty for price, qty in levels)
        # within the cap if all fill; a side already past the cap adds nothing
        assert exposure + total <= max(cap, exposure) * (1 + 1e-9)
        biggest = (
            p["order_value"] * p["aggressiveness"] * max(1.0, p["size_ratio"] ** (p["levels"] - 1))
        )
        assert all(price * qty <= biggest * (1 + 1e-9) for price, qty in levels)
    bid, ask = rounded_best(q, close)
    if bid is not None and ask is not None:
        assert bid < ask


@given(weights, st.floats(0.01, 100_000.0), st.floats(1e-5, 0.01), st.floats(1e3, 1e8))
def test_zero_inventory_and_zero_signals_give_symmetric_quotes(p, close, sigma, volume):
    strategy = mmsim.mexico(**p)
    q = quote(strategy, make_input(close, features=_features(close, sigma, 0.0, 0.0, volume)))
    assert q.reservation_price == pytest.approx(close, rel=1e-12)
    assert len(q.bids) == len(q.asks)
    for (b, bq), (a, aq) in zip(q.bids, q.asks, strict=True):
        assert close - b == pytest.approx(a - close, rel=1e-9)
        assert b * bq == pytest.approx(a * aq, rel=1e-9)


inventories = st.floats(1e-4, 1.0) | st.floats(-1.0, -1e-4)


@given(weights, st.floats(0.01, 100_000.0), signal_values, inventories, inventories)
def test_inventory_skew_moves_quotes_toward_reducing_inventory(p, close, signals, x1, x2):
    """With only the inventory weight on, more inventory never raises the reservation price
    or the best quotes, and any inventory moves the reservation price against the position.

    (Impact is off: with adaptive sizes a longer position quotes a smaller bid, which the
    impact term then widens less, so the best bid may rise while the reservation price falls.)
    """
    p = {
        **p,
        "pnl_skew_bps": 0.0,
        "ma_skew_bps": 0.0,
        "momentum_skew_bps": 0.0,
        "impact_weight": 0.0,
    }
    p["inventory_skew_bps"] += 1.0  # on
    strategy = mmsim.mexico(**p)
    cap = p["max_position_value"]
    lo, hi = sorted((x1, x2))
    feats = _features(close, *signals)
    a = quote(strategy, make_input(close, position=lo * cap / close, features=feats))
    b = quote(strategy, make_input(close, position=hi * cap / close, features=feats))
    assert b.reservation_price <= a.reservation_price * (1 + 1e-12)
    if hi > 0:
        assert b.reservation_price < close
    if lo < 0:
        assert a.reservation_price > close
    for i in (0, 1):
        if best(a)[i] is not None and best(b)[i] is not None:
            assert best(b)[i] <= best(a)[i] * (1 + 1e-12)
