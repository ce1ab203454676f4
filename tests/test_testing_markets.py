"""The kit's generators beyond markets: venues, ledger values, risk inputs, strategy inputs and
whole runs are valid, and wide enough to meet what they promise."""

from __future__ import annotations

import math

import polars as pl
import pytest
from conftest import scaled
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st

import mmsim
from mmsim.core.risk import worst_case_notional
from mmsim.core.venue import infer_lot_size, infer_tick_size
from mmsim.data.features import Feature
from mmsim.strategies import list_strategies, make_strategy
from mmsim.testing import MarketSpec, SymbolPath
from mmsim.testing.markets import accounts, positions, risk_inputs, runs, strategy_inputs, venues

FIND = settings(max_examples=300, phases=[Phase.generate], database=None, derandomize=True)


@pytest.mark.parametrize(
    "what, condition",
    [
        ("a liquidation", lambda r: (r.fills["reason"] == "liquidation").any()),
        ("an early stop's exit", lambda r: r.fills["reason"].str.starts_with("early_stop").any()),
        ("an emergency exit", lambda r: r.fills["reason"].str.starts_with("emergency_exit").any()),
        ("a maker rebate", lambda r: (r.fills["fee"] < 0).any()),
        ("a fill beyond the first level", lambda r: (r.fills["level"] > 0).any()),
        ("a bar a symbol does not have", lambda r: r.symbols.height > r.config["bars"]["rows"]),
        ("hourly bars", lambda r: r.config["interval_us"] == 3_600_000_000),
    ],
)
def test_generated_runs_meet_every_kind_of_event(what, condition):
    found = find(runs(max_bars=30), condition, settings=FIND)
    assert condition(found), what


@settings(max_examples=scaled(60))
@given(
    data=st.data(),
    spec=st.builds(
        MarketSpec,
        st.just((SymbolPath("AAAUSDT", price=0.37), SymbolPath("BBBUSDT", price=61_000.0))),
    ),
)
def test_venues_for_a_market_size_ticks_and_lots_around_the_inferred_ones(data, spec):
    """Per-symbol tick sizes are 0.1x-1000x and lot sizes 0.01x-100x the ones inferred from
    the first close, or absent (inferred)."""
    bars = spec.bars()
    venue = data.draw(venues(bars=bars))
    first = dict(
        bars.group_by("symbol", maintain_order=True).agg(pl.col("close").first()).iter_rows()
    )
    for symbol, tick in venue.tick_sizes:
        assert 0.1 * (1 - 1e-9) <= tick / infer_tick_size(first[symbol]) <= 1000 * (1 + 1e-9)
    for symbol, lot in venue.lot_sizes:
        assert 0.01 * (1 - 1e-9) <= lot / infer_lot_size(first[symbol]) <= 100 * (1 + 1e-9)
    assert -0.00025 <= venue.maker_fee <= 0.001


@settings(max_examples=scaled(100))
@given(position=positions(), account=accounts(min_equity=1.0))
def test_ledger_values_are_valid_and_consistent(position, account):
    """Positions are flat or have a positive entry; accounts have one value per symbol and the
    equity asked for."""
    assert position.qty == 0 or position.entry_price > 0
    n = len(account.symbols)
    assert len(account.positions) == len(account.marks) == n and all(m > 0 for m in account.marks)
    assert account.equity >= 1.0 and all(t >= 0 for t in account.traded)


@settings(max_examples=scaled(150))
@given(
    inputs=risk_inputs(), max_leverage=st.floats(0.1, 10), max_symbol_leverage=st.floats(0.1, 10)
)
def test_leverage_caps_hold_for_any_account_and_orders(inputs, max_leverage, max_symbol_leverage):
    """On any account and proposed orders, what leverage_caps keeps could not, if every order
    of a side filled, take a symbol past max_symbol_leverage x equity nor the total past
    max_leverage x equity (beyond the exposure already held)."""
    rule = mmsim.leverage_caps(max_leverage=max_leverage, max_symbol_leverage=max_symbol_leverage)
    _, decision = rule.update(rule.init(), inputs)
    account = inputs.account
    equity = max(account.equity, 0.0)
    total_worst = total_held = 0.0
    for i, symbol in enumerate(account.symbols):
        kept = tuple(o for o in decision.orders if o.symbol == symbol)
        held = account.notional(i)
        worst = worst_case_notional(kept, account.positions[i].qty, account.marks[i])
        assert worst <= max(max_symbol_leverage * equity, held) * (1 + 1e-9) + 1e-9
        total_worst, total_held = total_worst + worst, total_held + held
    assert total_worst <= max(max_leverage * equity, total_held) * (1 + 1e-9) + 1e-9
    assert len(decision.orders) + len(decision.rejected) == len(inputs.orders)


@pytest.mark.parametrize("name", [s.name for s in list_strategies()])
def test_strategy_inputs_carry_every_feature_a_registered_strategy_reads(name):
    strategy = make_strategy(name)

    @settings(max_examples=20, database=None)
    @given(inputs=strategy_inputs(strategy))
    def check(inputs):
        assert set(inputs.bar.features) == {f.name for f in strategy.features}
        assert all(v is not None and math.isfinite(v) for v in inputs.bar.features.values())
        strategy.update(strategy.init(), inputs)  # every input is one the strategy can take

    check()


def test_an_unknown_feature_needs_its_values_named():
    odd = mmsim.stateless(
        "odd", lambda i: mmsim.Quotes(), features=(Feature("odd_signal", pl.col("close")),)
    )
    with pytest.raises(
        ValueError, match=r"no values known for feature 'odd_signal' of strategy 'odd'"
    ):
        find(strategy_inputs(odd), lambda _: True)

    @settings(max_examples=5, database=None)
    @given(inputs=strategy_inputs(odd, features={"odd_signal": st.just(0.5)}))
    def check(inputs):
        assert inputs.bar.features == {"odd_signal": 0.5}

    check()
