"""leverage_caps keeps the symbol cap when the total cap binds; check_leverage_caps sees a side
that would flip a position past the symbol cap the other way."""

from __future__ import annotations

import attrs
import polars as pl
import pytest

import mmsim
from mmsim.core.account import Account, settle
from mmsim.core.orders import Fill, Order, Quotes
from mmsim.core.risk import RiskDecision, RiskInput, leverage_caps, stateless_rule
from mmsim.core.venue import SymbolSpec, Venue
from mmsim.strategies.base import stateless
from mmsim.testing import check_leverage_caps

MIN = 60_000_000
VENUE = Venue(tick_sizes={"AAA": 0.1, "BBB": 0.1}, lot_sizes={"AAA": 0.001, "BBB": 0.001})
CAPS = dict(max_leverage=3.0, max_symbol_leverage=2.0)


def _bar(ts, symbol, o, h, lo, c):
    return dict(ts=ts * MIN, symbol=symbol, open=o, high=h, low=lo, close=c, volume=1_000.0)


# AAA: bought 20 at 99.9 on bar 1, closes at 90 (1,800 notional > 2 x 801.6 equity)
BARS = pl.DataFrame(
    [
        _bar(0, "AAA", 100.0, 100.0, 100.0, 100.0),
        _bar(1, "AAA", 100.0, 100.0, 90.0, 90.0),
        _bar(2, "AAA", 90.0, 90.0, 90.0, 90.0),
        _bar(0, "BBB", 100.0, 100.0, 100.0, 100.0),
        _bar(1, "BBB", 100.0, 100.0, 100.0, 100.0),
        _bar(2, "BBB", 100.0, 100.0, 100.0, 100.0),
    ]
).with_columns(pl.col("ts").cast(pl.Datetime("us")))


def _aaa(inputs):
    if inputs.bar.ts == 0:
        return Quotes(bids=((99.9, 20.0),))
    if inputs.bar.ts == MIN:
        return Quotes(asks=((90.1, 60.0),))
    return Quotes()


def _bbb(inputs):
    return Quotes(bids=((99.9, 30.0),)) if inputs.bar.ts == MIN else Quotes()


STRATEGIES = {"AAA": stateless("aaa", _aaa), "BBB": stateless("bbb", _bbb)}


def test_the_symbol_cap_still_applies_when_the_total_cap_binds():
    result = mmsim.backtest(
        BARS, STRATEGIES, risk=leverage_caps(**CAPS), venue=VENUE, initial_cash=1_000.0
    )
    row = result.symbols.filter((pl.col("symbol") == "AAA") & (pl.col("ask").is_not_null()))
    equity = float(result.equity["equity"][1])
    assert equity == pytest.approx(801.6004)
    (ask_qty,) = row["ask_qty"].to_list()
    # the short left if the ask fills: 20 - q AAA at 90 must stay within 2 x equity
    assert (ask_qty - 20.0) * 90.0 <= 2.0 * equity + 1e-9
    assert ask_qty == pytest.approx(37.771)
    assert check_leverage_caps(BARS, STRATEGIES, **CAPS, venue=VENUE, initial_cash=1_000.0) == []


def test_a_reducing_side_that_flips_past_the_symbol_cap_is_trimmed_by_hand():
    specs = {"A": SymbolSpec(0.1, 0.001), "B": SymbolSpec(0.1, 0.001)}
    account = settle(
        Account.open(("A", "B"), 1_000.0, (100.0, 100.0)),
        Fill(0, "A", 1, 99.9, 20.0, 0.3996, "maker"),
    )
    account = attrs.evolve(account, marks=(90.0, 100.0))
    orders = (Order("A", -1, 90.1, 60.0), Order("B", 1, 99.9, 30.0))
    inputs = RiskInput(0, orders, account, 1_000.0, Venue(), specs)
    _, decision = leverage_caps(**CAPS).update(None, inputs)
    kept = {o.symbol: o.qty for o in decision.orders}
    assert kept["A"] == pytest.approx(37.771)
    # B gets the total cap's room: 3 x 801.6 - 1,800 held
    assert kept["B"] * 99.9 <= 3 * account.equity - 1_800.0 + 1e-9


def _overfilled_ask(inputs: RiskInput) -> RiskDecision:
    """The rule that lost the symbol cap: AAA's ask sized to the held notional, 39.955."""
    trimmed = leverage_caps(**CAPS).update(None, inputs)[1].orders
    return RiskDecision(
        tuple(
            attrs.evolve(o, qty=39.955) if o.symbol == "AAA" and o.side < 0 else o for o in trimmed
        )
    )


def test_check_leverage_caps_catches_a_side_flipping_past_the_symbol_cap():
    broken = stateless_rule("lost_symbol_cap", _overfilled_ask)
    found = check_leverage_caps(
        BARS, STRATEGIES, **CAPS, risk=broken, venue=VENUE, initial_cash=1_000.0
    )
    assert [(v.invariant, v.symbol) for v in found] == [("symbol_leverage", "AAA")]
    assert "short" in found[0].detail
