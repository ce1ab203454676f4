"""The strategy registry: build by name, list, and clear errors for bad names and values."""

import pickle

import pytest

import mmsim
from mmsim.strategies import StrategyError, get_strategy, list_strategies, make_strategy


def test_every_listed_strategy_builds_with_its_defaults_and_pickles():
    for spec in list_strategies():
        strategy = make_strategy(spec.name)
        assert strategy.name == spec.name
        assert isinstance(strategy.params, spec.params)
        assert spec.parameters(), f"{spec.name} lists no parameters"
        again = pickle.loads(pickle.dumps(strategy))
        assert again.params == strategy.params and again.features == strategy.features


def test_make_strategy_equals_the_factory_called_with_the_same_keywords():
    by_name = make_strategy("avellaneda_stoikov", gamma=0.0005, kappa=0.4, horizon="8h")
    direct = mmsim.avellaneda_stoikov(gamma=0.0005, kappa=0.4, horizon="8h")
    assert by_name.params == direct.params


def test_unknown_strategy_names_the_known_ones():
    with pytest.raises(
        StrategyError, match=r"unknown strategy 'avellaneda'.*known strategies: .*fixed_spread"
    ):
        make_strategy("avellaneda")


def test_unknown_keyword_is_named_with_a_suggestion():
    with pytest.raises(
        StrategyError,
        match=r"avellaneda_stoikov: unknown parameter 'gama' \(did you mean 'gamma'\?\)",
    ):
        make_strategy("avellaneda_stoikov", gama=0.1)


@pytest.mark.parametrize(
    ("name", "params", "fault"),
    [
        ("avellaneda_stoikov", {"gamma": -0.1}, "gamma"),
        ("avellaneda_stoikov", {"kappa": 0}, "kappa"),
        ("avellaneda_stoikov", {"horizon": "tomorrow"}, "horizon"),
        ("avellaneda_stoikov", {"gamma": "0.1"}, "gamma"),
        ("avellaneda_stoikov", {"vol_window": 2.5}, "vol_window"),
        ("fixed_spread", {"half_spread_bps": 0}, "half_spread_bps"),
        ("fixed_spread", {"order_value": float("nan")}, "order_value"),
    ],
)
def test_bad_values_name_the_parameter(name, params, fault):
    with pytest.raises(StrategyError, match=rf"^{name}: bad parameter: {fault} must be"):
        make_strategy(name, **params)


def test_get_strategy_returns_the_spec_with_units_for_every_parameter():
    spec = get_strategy("avellaneda_stoikov")
    units = {p.name: p.unit for p in spec.parameters()}
    assert units["gamma"] == "1/bps" and units["order_value"] == "USDT"
    assert all(p.unit and p.help for p in spec.parameters())
