"""The two core strategies: the AS formulas on the paper's numbers, bps units, and the baseline."""

from __future__ import annotations

import math

import pytest

import mmsim
from mmsim.core.bars import Bar
from mmsim.strategies.avellaneda_stoikov import optimal_spread, reservation_price
from mmsim.strategies.base import StrategyInput, parse_duration_us, time_left_us


def test_paper_numeric_example_in_absolute_units():
    # Avellaneda & Stoikov (2008): s=100, sigma=2, gamma=0.1, kappa=1.5, T-t=1
    assert optimal_spread(0.1, 2.0, 1.0, 1.5) == pytest.approx(0.4 + 20 * math.log(1 + 0.1 / 1.5))
    assert optimal_spread(0.1, 2.0, 1.0, 1.5) == pytest.approx(1.6908, abs=1e-4)
    assert reservation_price(100.0, 2.0, 0.1, 2.0, 1.0) == pytest.approx(99.2)
    assert reservation_price(100.0, -1.0, 0.1, 2.0, 0.5) == pytest.approx(100.2)


def _input(close, position=0.0, sigma=0.001, minute=0):
    bar = Bar(
        "X", minute * 60_000_000, close, close, close, close, 1.0, 0.0, {"volatility_60": sigma}
    )
    return StrategyInput(bar, position, close if position else 0.0, 1e6, 60_000_000)


def test_as_in_bps_is_the_same_on_any_price_level():
    strategy = mmsim.avellaneda_stoikov(gamma=0.001, kappa=0.5, horizon="1h", order_value=1_000.0)
    _, hi = strategy.update(strategy.init(), _input(60_000.0, position=1_000.0 / 60_000.0))
    _, lo = strategy.update(strategy.init(), _input(0.5, position=1_000.0 / 0.5))
    assert hi.bids[0][0] / 60_000.0 == pytest.approx(lo.bids[0][0] / 0.5)
    assert hi.asks[0][0] / 60_000.0 == pytest.approx(lo.asks[0][0] / 0.5)
    # by hand: sigma 10 bps per bar, 59 bars left, q = 1: r = -0.001*100*59 = -5.9 bps
    spread = 0.001 * 100 * 59 + 2 / 0.001 * math.log1p(0.001 / 0.5)
    assert hi.reservation_price == pytest.approx(60_000.0 * (1 - 5.9e-4))
    assert (hi.asks[0][0] - hi.bids[0][0]) / 60_000.0 * 1e4 == pytest.approx(spread)


def test_as_warms_up_without_quotes_and_stops_the_side_at_max_inventory():
    strategy = mmsim.avellaneda_stoikov(max_inventory=2)
    _, q = strategy.update(strategy.init(), _input(100.0, sigma=None))
    assert q.bids == () and q.asks == ()
    _, q = strategy.update(strategy.init(), _input(100.0, position=20.0))  # q = 2 order sizes
    assert q.bids == () and q.asks


def test_as_never_quotes_a_non_positive_price_at_huge_inventory():
    """Regression (found by Hypothesis): a huge long skewed the ask below zero."""
    strategy = mmsim.avellaneda_stoikov(gamma=0.1, kappa=0.01, vol_window=60)
    _, q = strategy.update(strategy.init(), _input(10.0, position=1e6, sigma=0.05))
    assert all(p > 0 for p, _ in q.bids + q.asks)


def test_fixed_spread_quotes_and_inventory_cap():
    strategy = mmsim.fixed_spread(half_spread_bps=10, order_value=500.0, max_position_value=1_000.0)
    _, q = strategy.update(strategy.init(), _input(100.0))
    assert q.bids == ((pytest.approx(99.9), 5.0),) and q.asks == ((pytest.approx(100.1), 5.0),)
    _, q = strategy.update(strategy.init(), _input(100.0, position=6.0))
    assert q.bids == () and q.asks


def test_horizon_parsing_and_time_left():
    assert parse_duration_us("1d") == 86_400_000_000
    assert parse_duration_us("15m") == 900_000_000
    with pytest.raises(ValueError, match="cannot read duration"):
        parse_duration_us("1 fortnight")
    day = parse_duration_us("1d")
    assert time_left_us(day + 60_000_000, day) == day - 60_000_000
    assert time_left_us(2 * day, day) == day  # a session boundary starts a fresh horizon


@pytest.mark.parametrize(
    "kwargs", [{"gamma": -1.0}, {"kappa": 0.0}, {"units": "pips"}, {"horizon": "soon"}]
)
def test_invalid_as_parameters_are_refused(kwargs):
    with pytest.raises(ValueError):
        mmsim.avellaneda_stoikov(**kwargs)
