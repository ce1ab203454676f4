"""The strategy registry: build by name, list, and clear errors for bad names and values."""

import copy
import inspect
import pickle

import attrs
import pytest

import mmsim
from mmsim.strategies import (
    StrategyError,
    get_strategy,
    list_strategies,
    make_strategy,
    register_strategy,
    registry,
)
from mmsim.strategies.params import param, positive, strategy_factory


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


def test_factories_have_the_params_class_as_a_keyword_only_signature():
    for spec in list_strategies():
        signature = inspect.signature(spec.factory)
        assert [p.name for p in signature.parameters.values()] == [
            p.name for p in spec.parameters()
        ]
        assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in signature.parameters.values())
        assert spec.factory.from_params(spec.params()).params == spec.params()


@attrs.frozen
class _EchoParams:
    """A user's parameters."""

    half_spread_bps: float = param(5.0, unit="bps", help="distance from the close", checks=positive)


@strategy_factory("echo", _EchoParams)
def _echo(params):
    """Echo: a user's own strategy."""
    return mmsim.fixed_spread(half_spread_bps=params.half_spread_bps)


def test_a_users_factory_can_be_registered_and_built_by_name():
    spec = register_strategy(_echo)
    try:
        assert spec in list_strategies() and spec.summary == "Echo: a user's own strategy."
        built = make_strategy("echo", half_spread_bps=7.0)
        assert built.name == "echo" and built.params == _EchoParams(7.0)
        with pytest.raises(StrategyError, match="already registered"):
            register_strategy(_echo)
        with pytest.raises(StrategyError, match="echo: bad parameter: half_spread_bps"):
            make_strategy("echo", half_spread_bps=-1)
    finally:
        registry._REGISTRY.pop("echo", None)
    with pytest.raises(StrategyError, match="is not a strategy factory"):
        register_strategy(lambda: None)


def test_strategies_copy_as_themselves_even_when_they_cannot_pickle():
    handmade = mmsim.strategies.stateless("mine", lambda inputs: mmsim.core.orders.NO_QUOTES)
    assert copy.deepcopy(handmade) is handmade and copy.copy(handmade) is handmade
    with pytest.raises(pickle.PicklingError, match="not built by a strategy factory"):
        pickle.dumps(handmade)
