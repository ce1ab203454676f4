"""The ledger: the five trade cases by hand, fees and rebates, funding, a stateful model check."""

from __future__ import annotations

import math

import attrs
import pytest
from conftest import scaled
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from mmsim.core.account import FLAT, Account, Position, mark, pay_funding, settle, trade
from mmsim.core.orders import Fill


def test_open_long_sets_entry_at_fill_price():
    assert trade(FLAT, 2.0, 100.0) == (Position(2.0, 100.0), 0.0)


def test_add_moves_entry_to_size_weighted_average():
    position, realized = trade(Position(2.0, 100.0), 2.0, 110.0)
    assert position == Position(4.0, 105.0) and realized == 0.0


def test_reduce_realizes_pnl_and_keeps_entry():
    position, realized = trade(Position(4.0, 105.0), -1.0, 120.0)
    assert position == Position(3.0, 105.0)
    assert realized == pytest.approx(15.0)


def test_close_short_realizes_and_goes_flat():
    position, realized = trade(Position(-3.0, 50.0), 3.0, 40.0)
    assert position == FLAT
    assert realized == pytest.approx(30.0)  # short 3 from 50, bought back at 40


def test_flip_closes_old_position_and_opens_rest_at_fill_price():
    position, realized = trade(Position(1.0, 100.0), -3.0, 90.0)
    assert position == Position(-2.0, 90.0)
    assert realized == pytest.approx(-10.0)


def test_float_residue_of_an_exact_close_is_flat():
    position = Position(0.3, 10.0)
    for _ in range(3):
        position, _ = trade(position, -0.1, 10.0)
    assert position == FLAT


def test_invalid_positions_cannot_exist():
    with pytest.raises(ValueError, match="entry price"):
        Position(1.0, 0.0)
    with pytest.raises(ValueError, match="finite"):
        Position(math.nan, 1.0)
    with pytest.raises(ValueError, match="initial_cash"):
        Account.open(("A",), -5.0, (1.0,))


def _fill(side, price, qty, fee, symbol="A"):
    return Fill(ts=0, symbol=symbol, side=side, price=price, qty=qty, fee=fee, liquidity="maker")


def test_settle_pays_fee_and_a_rebate_is_received():
    account = Account.open(("A",), 1_000.0, (100.0,))
    account = settle(account, _fill(1, 100.0, 1.0, 0.02))
    assert account.wallet == pytest.approx(999.98)
    account = settle(account, _fill(-1, 101.0, 1.0, -0.0101))  # rebate
    assert account.wallet == pytest.approx(999.98 + 1.0 + 0.0101)
    assert account.fees_paid == pytest.approx(0.02 - 0.0101)
    assert account.realized_pnl == pytest.approx(1.0)
    assert account.traded_notional == pytest.approx(201.0)


def test_funding_is_paid_by_longs_when_rate_is_positive():
    account = settle(Account.open(("A", "B"), 1_000.0, (100.0, 10.0)), _fill(1, 100.0, 2.0, 0.0))
    account = settle(account, _fill(-1, 10.0, 5.0, 0.0, "B"))
    account = pay_funding(mark(account, (110.0, None)), (0.001, 0.001))
    # long 2 @ mark 110 pays 0.22; short 5 @ mark 10 receives 0.05
    assert account.funding == pytest.approx((-0.22, 0.05))
    assert account.wallet == pytest.approx(1_000.0 - 0.17)
    assert account.marks == (110.0, 10.0)  # B had no bar: its mark carries forward


def test_equity_leverage_and_margin_ratio():
    account = settle(Account.open(("A",), 1_000.0, (100.0,)), _fill(1, 100.0, 20.0, 0.0))
    account = mark(account, (90.0,))
    assert account.equity == pytest.approx(800.0)
    assert account.leverage() == pytest.approx(1_800.0 / 800.0)
    assert account.margin_ratio(0.01) == pytest.approx(18.0 / 800.0)
    broke = mark(account, (40.0,))
    assert broke.equity < 0 and broke.margin_ratio(0.01) == math.inf


class LedgerMachine(RuleBasedStateMachine):
    """The immutable ledger against a plain-dict model of cash, positions and costs per symbol."""

    symbols = ("A", "B")

    def __init__(self):
        super().__init__()
        self.account = Account.open(self.symbols, 10_000.0, (100.0, 5.0))
        self.model = {
            "cash": 10_000.0,
            "qty": {"A": 0.0, "B": 0.0},
            "cost": {"A": 0.0, "B": 0.0},
            "marks": {"A": 100.0, "B": 5.0},
            "fees": 0.0,
        }

    @rule(
        symbol=st.sampled_from(symbols),
        side=st.sampled_from([1, -1]),
        price=st.floats(1.0, 200.0),
        qty=st.floats(0.001, 50.0),
        rate=st.sampled_from([0.0, 0.0002, -0.0001]),
    )
    def fill(self, symbol, side, price, qty, rate):
        before = self.account
        snapshot = attrs.asdict(before)
        self.account = settle(self.account, _fill(side, price, qty, price * qty * rate, symbol))
        assert attrs.asdict(before) == snapshot  # the old state is untouched
        # model: cash-flow view (buy spends notional), equity = cash + sum qty*mark
        self.model["cash"] -= side * price * qty + price * qty * rate
        self.model["qty"][symbol] += side * qty
        self.model["fees"] += price * qty * rate

    @rule(a=st.floats(1.0, 200.0), b=st.floats(0.5, 10.0))
    def move(self, a, b):
        self.account = mark(self.account, (a, b))
        self.model["marks"] = {"A": a, "B": b}

    @rule(rate=st.floats(-0.001, 0.001))
    def funding(self, rate):
        self.account = pay_funding(self.account, (rate, rate))
        for s in self.symbols:
            self.model["cash"] -= self.model["qty"][s] * self.model["marks"][s] * rate

    @invariant()
    def matches_model(self):
        m = self.model
        equity = m["cash"] + sum(m["qty"][s] * m["marks"][s] for s in self.symbols)
        scale = 10_000.0 + sum(abs(m["qty"][s]) * 200 for s in self.symbols)
        assert self.account.equity == pytest.approx(equity, abs=1e-9 * scale)
        for i, s in enumerate(self.symbols):
            assert self.account.positions[i].qty == pytest.approx(
                m["qty"][s], abs=1e-9 * (1 + abs(m["qty"][s]))
            )
        assert self.account.fees_paid == pytest.approx(m["fees"], abs=1e-9)


TestLedger = LedgerMachine.TestCase
TestLedger.settings = settings(max_examples=scaled(300), stateful_step_count=30, deadline=None)
