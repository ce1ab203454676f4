"""Risk rules by hand: leverage trimming, total scaling, minimum value, exits, early stop, chain."""

from __future__ import annotations

import inspect
import math

import pytest

from mmsim.core.account import Account, settle
from mmsim.core.orders import Fill, Order
from mmsim.core.params import ParamError, param_infos
from mmsim.core.risk import (
    RiskInput,
    basic_risk,
    chain,
    early_stop,
    emergency_exit,
    leverage_caps,
    min_order_value,
)
from mmsim.core.risk_params import (
    RISK_PARAMS,
    BasicRiskParams,
    EarlyStopParams,
    EmergencyExitParams,
    LeverageCapsParams,
    MinOrderValueParams,
)
from mmsim.core.venue import SymbolSpec, Venue

SPECS = {"A": SymbolSpec(0.01, 0.01), "B": SymbolSpec(0.01, 0.01)}


def _inputs(orders, account=None, initial=1_000.0):
    account = account or Account.open(("A", "B"), 1_000.0, (100.0, 100.0))
    return RiskInput(0, tuple(orders), account, initial, Venue(), SPECS)


def _decide(rule, inputs, state=None):
    return rule.update(rule.init() if state is None else state, inputs)


def test_symbol_cap_trims_the_outer_level_to_whole_lots():
    orders = [
        Order("A", 1, 99.0, 10.0, 0),
        Order("A", 1, 98.0, 10.0, 1),
        Order("A", -1, 101.0, 5.0, 0),
    ]
    _, d = _decide(leverage_caps(max_symbol_leverage=1.5), _inputs(orders))
    # cap 1,500 USDT: level 0 uses 990, level 1 gets (1500-990)/98 = 5.204 -> 5.20 lots
    assert [(o.side, o.level, o.qty) for o in d.orders] == [(1, 0, 10.0), (1, 1, 5.2), (-1, 0, 5.0)]
    assert d.rejected == ()


def test_an_order_trimmed_to_nothing_is_rejected_for_leverage():
    _, d = _decide(
        leverage_caps(max_symbol_leverage=0.5),
        _inputs([Order("A", 1, 99.0, 5.05), Order("A", 1, 98.0, 5.0, 1)]),
    )
    assert [o.qty for o in d.orders] == [5.05]  # 499.95 of the 500 cap: no whole lot left
    assert [r.reason for r in d.rejected] == ["leverage"]


def test_orders_that_reduce_exposure_pass_even_above_the_cap():
    account = settle(
        Account.open(("A", "B"), 1_000.0, (100.0, 100.0)),
        Fill(0, "A", 1, 100.0, 30.0, 0.0, "maker"),
    )  # 3x long
    _, d = _decide(
        leverage_caps(max_symbol_leverage=1.0, max_leverage=1.0),
        _inputs([Order("A", -1, 101.0, 10.0), Order("A", 1, 99.0, 1.0)], account),
    )
    assert [(o.side, o.qty) for o in d.orders] == [(-1, 10.0)]
    assert [r.reason for r in d.rejected] == ["leverage"]


def test_total_cap_scales_every_symbol_by_the_same_factor():
    orders = [Order("A", 1, 100.0, 10.0), Order("B", 1, 100.0, 10.0)]
    _, d = _decide(leverage_caps(max_leverage=1.0), _inputs(orders))
    assert sorted((o.symbol, o.qty) for o in d.orders) == [("A", 5.0), ("B", 5.0)]


def test_min_order_value_drops_small_orders():
    _, d = _decide(
        min_order_value(50.0), _inputs([Order("A", 1, 10.0, 4.0), Order("A", -1, 10.0, 6.0)])
    )
    assert [o.qty for o in d.orders] == [6.0]
    assert [r.reason for r in d.rejected] == ["min_order_value"]


def test_emergency_exit_on_drawdown_flattens_and_skips_quoting():
    account = settle(
        Account.open(("A", "B"), 1_000.0, (100.0, 100.0)),
        Fill(0, "A", -1, 100.0, 2.0, 0.0, "maker"),
    )
    rule = emergency_exit(max_drawdown=0.1)
    peak, d = _decide(rule, _inputs([Order("A", 1, 99.0, 1.0)], account))
    assert d.market_orders == () and len(d.orders) == 1
    from mmsim.core.account import mark

    hurt = mark(account, (160.0, 100.0))  # short 2 loses 120: drawdown 12%
    _, d = rule.update(peak, _inputs([Order("A", 1, 99.0, 1.0)], hurt))
    assert d.orders == () and [r.reason for r in d.rejected][0].startswith(
        "emergency_exit: drawdown"
    )
    assert [(m.symbol, m.side, m.qty) for m in d.market_orders] == [("A", 1, 2.0)]
    assert d.halt is None


def test_early_stop_halts_below_the_equity_fraction():
    rule = early_stop(min_equity_fraction=0.9)
    _, d = _decide(rule, _inputs([], initial=1_200.0))
    assert d.halt.startswith("early_stop: equity 1000.00 < 0.9")
    _, d = _decide(rule, _inputs([], initial=1_000.0))
    assert d.halt is None


def test_chain_applies_rules_in_order_and_merges_exits_per_symbol():
    account = settle(
        Account.open(("A", "B"), 1_000.0, (100.0, 100.0)), Fill(0, "A", 1, 100.0, 1.0, 0.0, "maker")
    )
    rule = chain(
        early_stop(min_equity_fraction=0.99),
        emergency_exit(max_leverage=0.01),
        min_order_value(1.0),
    )
    _, d = _decide(rule, _inputs([Order("A", -1, 101.0, 1.0)], account, initial=2_000.0))
    assert len(d.market_orders) == 1  # both exits want to sell A: once only
    assert d.halt.startswith("early_stop")
    assert len(d.events) == 2


def test_chain_equals_applying_the_rules_by_hand():
    orders = [Order("A", 1, 99.0, 10.0), Order("A", 1, 1.0, 1.0, 1), Order("B", -1, 101.0, 30.0)]
    caps, small = leverage_caps(max_leverage=2.0, max_symbol_leverage=1.5), min_order_value(5.0)
    _, chained = _decide(chain(caps, small), _inputs(orders))
    _, first = _decide(caps, _inputs(orders))
    _, second = _decide(small, _inputs(first.orders))
    assert chained.orders == second.orders
    assert chained.rejected == first.rejected + second.rejected


@pytest.mark.parametrize(
    "factory, kwargs, message",
    [
        (
            leverage_caps,
            {"max_leverage": 0.0},
            r"^leverage_caps: max_leverage must be a finite number > 0 or None, got 0\.0$",
        ),
        (
            leverage_caps,
            {"max_symbol_leverage": math.inf},
            r"^leverage_caps: max_symbol_leverage must be a finite number > 0 or None, got inf$",
        ),
        (
            emergency_exit,
            {"max_drawdown": 1.5},
            r"^emergency_exit: max_drawdown must be a finite number in \(0, 1\) or None, got 1\.5$",
        ),
        (
            emergency_exit,
            {"max_margin_ratio": "2"},
            r"^emergency_exit: max_margin_ratio must be a finite number > 0 or None, got '2'$",
        ),
        (
            early_stop,
            {"min_equity_fraction": 0.0},
            r"^early_stop: min_equity_fraction must be a finite number in \(0, 1\), got 0\.0$",
        ),
        (
            min_order_value,
            {"value": -1.0},
            r"^min_order_value: value must be a finite number >= 0, got -1\.0$",
        ),
        (
            basic_risk,
            {"max_symbol_leverage": -2.0},
            r"^max_symbol_leverage must be a finite number > 0 or None, got -2\.0$",
        ),
        # a fraction past 1 is named by basic_risk's own keyword, not the inner rule's
        (
            basic_risk,
            {"emergency_drawdown": 1.5},
            r"^emergency_drawdown must be a finite number in \(0, 1\) or None, got 1\.5$",
        ),
        (
            basic_risk,
            {"stop_equity_fraction": 2.0},
            r"^stop_equity_fraction must be a finite number in \(0, 1\) or None, got 2\.0$",
        ),
    ],
)
def test_bad_risk_parameters_are_named(factory, kwargs, message):
    with pytest.raises(ParamError, match=message) as info:
        factory(**kwargs)
    assert info.value.param == next(iter(kwargs))


@pytest.mark.parametrize(
    "factory, kwargs, params",
    [
        (leverage_caps, {"max_leverage": 2.0}, LeverageCapsParams(max_leverage=2.0)),
        (emergency_exit, {"max_drawdown": 0.2}, EmergencyExitParams(max_drawdown=0.2)),
        (early_stop, {"min_equity_fraction": 0.5}, EarlyStopParams(min_equity_fraction=0.5)),
        (min_order_value, {"value": 5.0}, MinOrderValueParams(value=5.0)),
    ],
)
def test_each_rule_is_built_from_its_validated_params(factory, kwargs, params):
    rule = factory(**kwargs)
    assert rule.name == factory.__name__ and rule.params == params
    assert RISK_PARAMS[rule.name] is type(params)
    # the factory's keywords are the params class's fields, defaults included
    signature = inspect.signature(factory).parameters
    assert [p.name for p in param_infos(type(params))] == list(signature)
    for p in param_infos(type(params)):
        default = signature[p.name].default
        assert (default is inspect.Parameter.empty) if p.required else default == p.default


def test_basic_risk_keywords_are_its_params_fields():
    signature = inspect.signature(basic_risk).parameters
    infos = param_infos(BasicRiskParams)
    assert [(p.name, p.default) for p in infos] == [
        (name, q.default) for name, q in signature.items()
    ]
    assert all(p.unit and p.help for p in infos)
