"""The reference engine's records: every frame row holds what the fold's state held at that
bar (the recorder writes the account only at bars that changed it and carries it forward), and
the unchecked constructors the fold uses build the same values as the validated ones."""

from __future__ import annotations

import math

import attrs
import pytest
from conftest import scaled
from hypothesis import given, settings

import mmsim
from mmsim.core.account import Account, Position
from mmsim.core.engine import EngineStep
from mmsim.core.frozen import unchecked
from mmsim.core.orders import Fill, Order
from mmsim.testing import REGIMES, engine_run, has_gaps
from mmsim.testing.markets import bars_frames, cash, market_makers, risk_rules, venues


def _nan_none(x):
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else x


@settings(max_examples=scaled(60))
@given(
    bars=bars_frames(regimes=REGIMES),
    strategy=market_makers(),
    risk=risk_rules(),
    venue=venues(),
    initial_cash=cash(),
)
def test_every_frame_row_holds_the_folds_state_at_that_bar(
    bars, strategy, risk, venue, initial_cash
):
    kwargs = dict(risk=risk, venue=venue, initial_cash=initial_cash, allow_gaps=has_gaps(bars))
    run = engine_run(bars, strategy, **kwargs)
    result = mmsim.backtest(bars, strategy, engine="reference", **kwargs)
    symbols = run.setup.symbols
    equity = result.equity.select("wallet", "halted").rows()
    rows = result.symbols.select(
        "position", "entry_price", "mark", "realized", "fees", "funding", "bid", "ask", "orders"
    ).rows()
    assert len(equity) == len(run.states)
    for k, state in enumerate(run.states):
        a = state.account
        assert equity[k] == (a.wallet, state.halted is not None)
        for i, symbol in enumerate(symbols):
            p = a.positions[i]
            mine = [o for o in state.resting if o.symbol == symbol]
            bids = [o.price for o in mine if o.side > 0]
            asks = [o.price for o in mine if o.side < 0]
            want = (
                p.qty,
                p.entry_price if p.qty else None,
                a.marks[i],
                a.realized[i],
                a.fees[i],
                a.funding[i],
                max(bids) if bids else None,
                min(asks) if asks else None,
                len(mine),
            )
            got = tuple(_nan_none(x) for x in rows[k * len(symbols) + i])
            assert got == want, (k, symbol)


def test_an_unchecked_value_equals_the_validated_one_and_stays_frozen():
    make = unchecked(Order)
    order = make("BTCUSDT", 1, 100.5, 0.25, 2, None)
    same = Order("BTCUSDT", 1, 100.5, 0.25, 2)
    assert order == same and hash(order) == hash(same) and repr(order) == repr(same)
    assert attrs.evolve(order, qty=0.5) == Order("BTCUSDT", 1, 100.5, 0.5, 2)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        order.price = 1.0
    fill = unchecked(Fill)(7, "BTCUSDT", -1, 10.0, 1.0, 0.002, "maker", "quote", 0, None)
    assert fill == Fill(7, "BTCUSDT", -1, 10.0, 1.0, 0.002, "maker", level=0)


def test_public_construction_still_validates():
    with pytest.raises(ValueError, match="price"):
        Order("BTCUSDT", 1, -1.0, 1.0)
    with pytest.raises(ValueError, match="wallet"):
        Account(("BTCUSDT",), math.inf, (Position(),), (1.0,), (0.0,), (0.0,), (0.0,), (0.0,))
    account = Account.open(("BTCUSDT",), 1_000.0, (1.0,))
    with pytest.raises(ValueError, match="marks"):
        mmsim.core.account.mark(account, ())


def test_unchecked_refuses_a_class_with_fields_it_cannot_set():
    with pytest.raises(TypeError, match="EngineStep"):
        unchecked(EngineStep)
