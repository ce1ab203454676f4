"""Properties every registered strategy keeps, whatever the state it is given."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategy_helpers import rounded_best, states

import mmsim
from mmsim.strategies import list_strategies, make_strategy
from mmsim.strategies.cities import LimaState

NAMES = [spec.name for spec in list_strategies()]

# a non-default parameter set per strategy, so the properties also cover the optional parts
RICH = {
    "fixed_spread": {"max_position_value": 20_000.0},
    "avellaneda_stoikov": {"gamma": 0.001, "eta": 0.2, "max_inventory": 20, "min_spread_bps": 2},
    "glft": {"gamma": 0.02, "calibration_window": 100},
    "mexico": {
        "levels": 4,
        "sizing": "adaptive",
        "inventory_skew_bps": 5,
        "ma_skew_bps": -1,
        "momentum_skew_bps": 1,
        "vol_spacing": 0.5,
        "impact_weight": 1.0,
    },
    "tokyo": {"levels": 5, "spacing_bps": 3},
    "lisbon": {"max_position_value": 20_000.0},
    "oslo": {"imbalance_skew_bps": -4},
    "nairobi": {"reversion": 1.0},
    "lima": {"fill_widen_bps": 0.0},
}


def test_every_registered_strategy_has_a_rich_parameter_set_here():
    assert sorted(RICH) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("rich", [False, True], ids=["defaults", "rich"])
@settings(max_examples=100)
@given(data=st.data())
def test_quotes_are_positive_finite_and_bid_below_ask_after_rounding(name, rich, data):
    """Every level has a positive finite price and size; the rounded best bid is below the
    rounded best ask; bids fall and asks rise level by level."""
    strategy = make_strategy(name, **(RICH[name] if rich else {}))
    inputs = data.draw(states(strategy))
    _, q = strategy.update(strategy.init(), inputs)
    for price, qty in q.bids + q.asks:
        assert math.isfinite(price) and price > 0 and math.isfinite(qty) and qty > 0
    bid, ask = rounded_best(q, inputs.bar.close)
    if bid is not None and ask is not None:
        assert bid < ask
    assert [p for p, _ in q.bids] == sorted((p for p, _ in q.bids), reverse=True)
    assert [p for p, _ in q.asks] == sorted(p for p, _ in q.asks)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=50)
@given(data=st.data())
def test_update_is_pure(name, data):
    """The same state and input give the same quotes and state, and the input is untouched."""
    strategy = make_strategy(name, **RICH[name])
    inputs = data.draw(states(strategy))
    state = strategy.init() if name != "lima" else LimaState(1.0, 3)
    snapshot = (inputs, dict(inputs.bar.features))
    first = strategy.update(state, inputs)
    assert strategy.update(state, inputs) == first
    assert (inputs, dict(inputs.bar.features)) == snapshot


def test_one_strategy_or_one_per_symbol_in_a_backtest():
    """Per-symbol choice: a mapping symbol -> strategy, or one strategy for every symbol."""
    bars = mmsim.synthetic_bars(("BTCUSDT", "ETHUSDT"), days=0.5, seed=3)
    mixed = mmsim.backtest(bars, {"BTCUSDT": mmsim.glft(), "ETHUSDT": mmsim.tokyo()})
    assert mixed.config["strategies"]["BTCUSDT"]["name"] == "glft"
    assert mixed.config["strategies"]["ETHUSDT"]["name"] == "tokyo"
    same = mmsim.backtest(bars, mmsim.mexico(levels=2))
    assert {v["name"] for v in same.config["strategies"].values()} == {"mexico"}
    assert mixed.fills.height > 0 and same.fills.height > 0
