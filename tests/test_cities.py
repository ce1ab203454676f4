"""The city-named example strategies: hand-checked quotes and their one idea each."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategy_helpers import best, make_input, quote

import mmsim
from mmsim.core.orders import NO_QUOTES
from mmsim.strategies.cities import LimaState


def test_tokyo_ladder_for_a_known_state_stops_at_the_cap():
    """Long 1,000 of a 2,500 cap: the bid side has room for one 1,000 order, the ask for three."""
    strategy = mmsim.tokyo(levels=3, spacing_bps=10, order_value=1_000, max_position_value=2_500)
    q = quote(strategy, make_input(100.0, position=10.0))
    assert [p for p, _ in q.bids] == pytest.approx([99.9])
    assert [p for p, _ in q.asks] == pytest.approx([100.1, 100.2, 100.3])
    assert [p * x for p, x in q.asks] == pytest.approx([1_000.0] * 3)
    at_cap = quote(strategy, make_input(100.0, position=25.0))
    assert at_cap.bids == () and len(at_cap.asks) == 3


@given(
    st.integers(1, 8),
    st.floats(0.1, 500.0),
    st.floats(1.0, 5_000.0),
    st.floats(100.0, 50_000.0),
    st.floats(0.01, 100_000.0),
    st.floats(-2.0, 2.0),
)
def test_tokyo_levels_are_symmetric_spaced_and_capped(
    levels, spacing, value, cap, close, inventory
):
    """Level i sits i*spacing from the close; a side's orders never take |position| past the cap."""
    strategy = mmsim.tokyo(
        levels=levels, spacing_bps=spacing, order_value=value, max_position_value=cap
    )
    position = inventory * cap / close
    q = quote(strategy, make_input(close, position=position))
    for side, quotes in ((1, q.bids), (-1, q.asks)):
        for i, (price, qty) in enumerate(quotes, start=1):
            assert side * (close - price) / close * 1e4 == pytest.approx(i * spacing, rel=1e-9)
            assert price * qty == pytest.approx(value)
        exposure = side * position * close
        assert exposure + sum(p * x for p, x in quotes) <= max(cap, exposure) * (1 + 1e-9)
    if position == 0:
        assert len(q.bids) == len(q.asks)


def test_lisbon_half_spread_scales_with_volatility_above_its_floor():
    strategy = mmsim.lisbon(vol_multiplier=1.5, min_half_spread_bps=2.0)
    calm = quote(strategy, make_input(100.0, features={"volatility_60": 0.0001}))  # 1.5 bps < 2
    busy = quote(strategy, make_input(100.0, features={"volatility_60": 0.0004}))  # 6 bps
    assert best(calm) == pytest.approx((99.98, 100.02))
    assert best(busy) == pytest.approx((99.94, 100.06))
    assert quote(strategy, make_input(100.0, features={"volatility_60": None})) == NO_QUOTES


def test_oslo_leans_with_the_taker_flow():
    """Imbalance +0.5 with 5 bps per unit: r = 100.025; half-spread 8 bps around it."""
    strategy = mmsim.oslo(half_spread_bps=8, imbalance_skew_bps=5, flow_window=30)
    q = quote(strategy, make_input(100.0, features={"flow_imbalance_30": 0.5}))
    assert q.reservation_price == pytest.approx(100.025)
    assert best(q) == pytest.approx((100.025 * 0.9992, 100.025 * 1.0008))
    balanced = quote(strategy, make_input(100.0, features={"flow_imbalance_30": 0.0}))
    assert 100.0 - best(balanced)[0] == pytest.approx(best(balanced)[1] - 100.0)


def test_oslo_flow_feature_on_bars():
    """flow_imbalance = 2*sum(taker buys)/sum(volume) - 1 over the window, null while warming up."""
    bars = mmsim.synthetic_bars(("BTCUSDT",), days=0.01, seed=1)
    from mmsim.data.features import add_features

    window = 3
    f = mmsim.oslo(flow_window=window).features[0]
    out = add_features(bars, [f])
    tb, v = bars["taker_buy_volume"].to_list(), bars["volume"].to_list()
    k = 5
    expected = 2 * sum(tb[k - 2 : k + 1]) / sum(v[k - 2 : k + 1]) - 1
    assert out[f.name][k] == pytest.approx(expected)
    assert out[f.name][: window - 1].null_count() == window - 1


def test_nairobi_reverts_toward_the_average():
    """Close 100 over an SMA of 99.8: 20.0401 bps above; half of it -> r = 99.8998 (cap 20)."""
    strategy = mmsim.nairobi(reversion=0.5, max_skew_bps=20, half_spread_bps=8)
    q = quote(strategy, make_input(100.0, features={"sma_close_60": 99.8}))
    assert q.reservation_price == pytest.approx(100 * (1 - 0.5 * (100 / 99.8 - 1)))
    capped = quote(strategy, make_input(100.0, features={"sma_close_60": 99.0}))
    assert capped.reservation_price == pytest.approx(100 * (1 - 20 / 1e4))
    at_mean = quote(strategy, make_input(100.0, features={"sma_close_60": 100.0}))
    assert 100.0 - best(at_mean)[0] == pytest.approx(best(at_mean)[1] - 100.0)


def test_lima_widens_after_a_fill_and_relaxes_over_the_cooldown():
    """h = 6 + 10*max(0, 1 - k/10) bps with k bars since the last position change."""
    strategy = mmsim.lima(half_spread_bps=6, fill_widen_bps=10, cooldown_bars=10)
    state = strategy.init()
    assert state == LimaState()
    halves = []
    for position in (0.0, 0.0, 5.0, 5.0, 5.0, 2.0):
        state, q = strategy.update(state, make_input(100.0, position=position))
        halves.append((best(q)[1] - 100.0) / 100 * 1e4)
    assert halves == pytest.approx([6.0, 6.0, 16.0, 15.0, 14.0, 16.0])
    assert state == LimaState(2.0, 0)
