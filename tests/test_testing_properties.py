"""Each strategy property holds for a sane strategy and catches a deliberately broken one."""

from __future__ import annotations

import datetime as dt
import random

import attrs
import polars as pl
import pytest

import mmsim
from mmsim.core.matching import match_bar
from mmsim.core.orders import MAKER, Fill, Quotes
from mmsim.core.risk import RiskDecision, RiskRule
from mmsim.data.features import Feature
from mmsim.testing import (
    PROPERTIES,
    MarketSpec,
    SymbolPath,
    assert_bid_below_ask,
    assert_deterministic,
    assert_no_look_ahead,
    assert_skew_reduces_inventory,
    check_bid_below_ask,
    check_deterministic,
    check_no_look_ahead,
    check_no_quotes_without_bar,
    check_property,
    check_quotes_never_cross,
    check_skew_reduces_inventory,
    check_strategy_invariants,
    check_strategy_leverage_caps,
    engine_run,
    engine_setup,
    ladder,
    quote_trace,
)

BARS = MarketSpec(
    (
        SymbolPath("AAAUSDT", "mean_reverting", 100.0, 0.004, 0.3, 21, True),
        SymbolPath("BBBUSDT", "trending", 0.8, 0.01, 0.3, 22, True),
    ),
    n_bars=30,
).bars()
SANE = (
    mmsim.fixed_spread(half_spread_bps=5.0),
    mmsim.avellaneda_stoikov(gamma=0.001, kappa=0.5, vol_window=5, horizon="1h"),
    ladder(levels=3, spacing_bps=8.0, skew_bps=0.5),
)


def quoting(name, quote, **kwargs):
    return mmsim.stateless(name, quote, **kwargs)


@pytest.mark.parametrize("strategy", SANE, ids=lambda s: s.name)
def test_sane_strategies_keep_every_property_but_leaning_through_the_close(strategy):
    for name in PROPERTIES:
        if name != "quotes_never_cross":
            assert check_property(name, strategy, BARS) == [], name


def test_a_crossed_book_is_caught_and_named():
    crossed = quoting(
        "crossed", lambda i: Quotes(((i.bar.close * 1.001, 1.0),), ((i.bar.close * 0.999, 1.0),))
    )
    violations = check_bid_below_ask(crossed, BARS)
    assert len(violations) == BARS.height  # every bar of every symbol
    assert violations[0].symbol == "AAAUSDT" and "best bid" in violations[0].detail
    assert check_bid_below_ask(SANE[0], BARS) == []
    with pytest.raises(
        AssertionError,
        match=(
            r"bid_below_ask: every bid is below every ask\n60 violation\(s\):\n"
            r"  \[bid_below_ask\] at 2024-01-01 00:00:00 AAAUSDT:"
            r" best bid [\d.]+ >= best ask [\d.]+: bids \["
        ),
    ):
        assert_bid_below_ask(crossed, BARS)


def test_quotes_leaning_through_the_close_are_caught_though_bid_stays_below_ask():
    leaning = quoting(
        "leaning", lambda i: Quotes(((i.bar.close * 1.0005, 1.0),), ((i.bar.close * 1.002, 1.0),))
    )
    assert check_bid_below_ask(leaning, BARS) == []
    assert len(check_quotes_never_cross(leaning, BARS)) == BARS.height
    assert check_quotes_never_cross(SANE[0], BARS) == []


def test_a_skew_with_the_wrong_sign_is_caught_at_the_smallest_inventory():
    violations = check_skew_reduces_inventory(ladder(skew_bps=-2.0), BARS)
    assert violations and all(v.invariant == "skew_reduces_inventory" for v in violations)
    # the plainest example first: from flat to +1 % of equity
    assert "(0 -> +0.01 x equity): best bid rose" in violations[0].detail
    assert check_skew_reduces_inventory(ladder(skew_bps=2.0), BARS) == []
    assert check_skew_reduces_inventory(ladder(skew_bps=0.0), BARS) == []  # no skew is no violation
    with pytest.raises(
        AssertionError,
        match="skew_reduces_inventory: the quotes must not rise as the position grows",
    ):
        assert_skew_reduces_inventory(ladder(skew_bps=-2.0), BARS)


def test_an_unseeded_coin_flip_is_caught_as_non_determinism():
    coin = random.Random()  # the prototype's bug: an unseeded coin decides

    def quote(i):
        h = 0.001 if coin.random() < 0.5 else 0.002
        return Quotes(((i.bar.close * (1 - h), 1.0),), ((i.bar.close * (1 + h), 1.0),))

    violations = check_deterministic(quoting("coin", quote), BARS)
    assert violations and violations[0].invariant == "deterministic"
    with pytest.raises(AssertionError, match="deterministic: the same input gives the same quotes"):
        assert_deterministic(quoting("coin", quote), BARS)


def test_a_strategy_that_mutates_its_state_in_place_is_caught():
    def update(history, inputs):
        history.append(inputs.bar.close)  # mutates the state it was given
        h = 0.0005 * len(history)
        return history, Quotes(
            ((inputs.bar.close * (1 - h), 1.0),), ((inputs.bar.close * (1 + h), 1.0),)
        )

    mutating = mmsim.Strategy("mutating", list, update)
    violations = check_deterministic(mutating, BARS)
    assert any("state was mutated" in v.detail for v in violations)

    def pure(history, inputs):
        history = (*history, inputs.bar.close)
        h = 0.0005 * len(history)
        return history, Quotes(
            ((inputs.bar.close * (1 - h), 1.0),), ((inputs.bar.close * (1 + h), 1.0),)
        )

    assert check_deterministic(mmsim.Strategy("pure", tuple, pure), BARS) == []


def test_a_feature_that_reads_the_next_close_is_caught_by_truncation():
    peek = Feature("next_close", pl.col("close").shift(-1))

    def quote(i):
        ahead = i.bar.features["next_close"] or i.bar.close
        return Quotes(
            ((min(ahead, i.bar.close) * 0.999, 1.0),), ((max(ahead, i.bar.close) * 1.001, 1.0),)
        )

    cheat = quoting("cheat", quote, features=(peek,))
    violations = check_no_look_ahead(cheat, BARS)
    assert violations and "quotes change when the bars after" in violations[0].detail
    with pytest.raises(AssertionError, match="no_look_ahead: the quotes up to t do not change"):
        assert_no_look_ahead(cheat, BARS)
    honest = quoting("honest", quote, features=(Feature("next_close", pl.col("close").shift(1)),))
    assert check_no_look_ahead(honest, BARS) == []


def sloppy_halt(after: int) -> RiskRule:
    def update(n, inputs):
        return n + 1, RiskDecision(inputs.orders, halt="sloppy" if n >= after else None)

    return RiskRule("sloppy", lambda: 0, update)


def fills_on_missing_bars(resting, market_orders, bars, symbols, specs, venue):
    """A broken matching stage: orders of a symbol with no bar fill at their price anyway."""
    fills = list(match_bar(resting, market_orders, bars, symbols, specs, venue))
    missing = {s for s, b in zip(symbols, bars) if b is None}
    ts = next(b.ts for b in bars if b is not None)
    for o in resting:
        if o.symbol in missing:
            fills.append(Fill(ts, o.symbol, o.side, o.price, o.qty, 0.0, MAKER, "quote", o.level))
    return tuple(fills)


def test_quotes_or_fills_on_missing_bars_and_after_a_halt_are_caught():
    mm = SANE[0]
    assert check_no_quotes_without_bar(mm, BARS) == []
    # a rule that halts but keeps its orders: the engine cancels them, so nothing is quoted after
    assert check_no_quotes_without_bar(mm, BARS, risk=sloppy_halt(3)) == []
    missing = check_no_quotes_without_bar(mm, BARS, matching=fills_on_missing_bars)
    assert "missing_bar" in {v.invariant for v in missing}


def test_the_invariants_property_runs_the_strategy_under_its_risk_and_venue():
    venue = mmsim.Venue(maker_fee=-0.0001, max_participation=0.3)
    assert (
        check_strategy_invariants(
            SANE[2], BARS, venue=venue, risk=mmsim.basic_risk(max_leverage=2.0)
        )
        == []
    )

    def no_fees(account, fills, step, v):
        from mmsim.core.engine import account_bar

        return account_bar(account, tuple(attrs.evolve(f, fee=0.0) for f in fills), step, v)

    assert check_strategy_invariants(SANE[2], BARS, venue=venue, accounting=no_fees)


def booster(factor: float) -> RiskRule:
    """A rule that enlarges every order: after the caps, it undoes them."""

    def update(state, inputs):
        return state, RiskDecision(
            tuple(attrs.evolve(o, qty=o.qty * factor) for o in inputs.orders)
        )

    return RiskRule("booster", lambda: None, update)


def test_the_leverage_caps_hold_with_a_users_rule_after_them_unless_it_undoes_them():
    big = ladder(levels=4, spacing_bps=10.0, order_value=40_000.0, skew_bps=0.0)
    caps = {"max_leverage": 2.0, "max_symbol_leverage": 1.5}
    assert (
        check_strategy_leverage_caps(
            big, BARS, risk=mmsim.early_stop(min_equity_fraction=0.5), **caps
        )
        == []
    )
    broken = check_strategy_leverage_caps(big, BARS, risk=booster(3.0), **caps)
    assert {v.invariant for v in broken} >= {"symbol_leverage"}


def test_quote_trace_records_every_call_the_engine_made():
    calls = quote_trace(BARS, SANE[0])
    assert len(calls) == BARS.height
    assert [(c.symbol, c.bar.close) for c in calls] == list(
        zip(BARS["symbol"].to_list(), BARS["close"].to_list())
    )


def test_engine_setup_is_the_backtests_own_run_setup():
    """The step-by-step helpers fold the very `RunSetup` `prepare_run` builds for a backtest."""
    from mmsim.core.setup import RunSetup, prepare_run

    setup = engine_setup(BARS, SANE[0])
    assert type(setup) is RunSetup
    assert list(setup.steps()) == list(prepare_run(BARS, SANE[0]).steps())
    run = engine_run(BARS, SANE[0])
    assert run.setup.symbols == setup.symbols
    assert run.steps == tuple(setup.steps()) and len(run.states) == len(run.steps)


def test_an_unknown_property_is_refused_with_the_list():
    with pytest.raises(KeyError, match="unknown property 'sane'"):
        check_property("sane", SANE[0], BARS)


def test_an_exit_order_waiting_for_a_symbols_next_bar_is_no_activity_after_the_halt():
    """Regression (found by the dev profile on TestFixedSpread): an early stop's exit for a
    symbol whose next bar is missing fills at its bar after that, as the engine promises."""
    bars = MarketSpec(
        (
            SymbolPath("AAAUSDT", "random_walk", 1.0, 0.03125, 0.0, 0, False),
            SymbolPath("BBBUSDT", "random_walk", 1.0, 0.0, 0.0, 0, False),
        ),
        n_bars=10,
        funding=False,
    ).bars()
    mm = mmsim.fixed_spread(half_spread_bps=1.0, order_value=31147.0)
    risk = mmsim.basic_risk(max_leverage=None, stop_equity_fraction=0.875)
    venue = mmsim.Venue(maker_fee=0.0, taker_fee=0.0, penetration_ticks=0)
    run = dict(risk=risk, venue=venue, initial_cash=1000.0)
    assert check_no_quotes_without_bar(mm, bars, **run) == []
    from mmsim.testing.invariants import check_halt
    from mmsim.testing.properties import _with_gaps

    gapped = _with_gaps(bars)
    result = mmsim.backtest(gapped, mm, allow_gaps=True, **run)
    exits = result.fills.filter(pl.col("reason").str.starts_with("early_stop"))
    halt_ts = result.equity.filter(pl.col("halted"))["ts"][0]
    assert exits.height == 1 and exits["ts"][0] == halt_ts + dt.timedelta(
        minutes=2
    )  # waited for its bar
    late = result.fills.with_columns(
        pl.when(pl.col("reason").str.starts_with("early_stop"))
        .then(pl.col("ts") + pl.duration(minutes=1))
        .otherwise(pl.col("ts"))
        .alias("ts")
    )
    assert "later than the symbol's next bar" in " ".join(
        v.detail for v in check_halt(attrs.evolve(result, fills=late), gapped)
    )


def test_a_side_that_leans_by_size_may_trade_price_for_it():
    """Regression (found by the dev profile on TestMexicoProperties): Mexico's adaptive sizing
    shrinks the bid as a long grows, and its impact term then widens the smaller bid less, so
    the bid price rises a little while the bid size falls: leaning by size, not a wrong sign."""
    from mmsim.strategies import make_strategy

    bars = MarketSpec(
        (SymbolPath("AAAUSDT", "random_walk", 1.0, 0.015625, 0.0, 0, False),),
        n_bars=6,
        funding=False,
    ).bars()
    mexico = make_strategy(
        "mexico",
        order_value=1.0,
        levels=1,
        sizing="adaptive",
        max_position_value=10.0,
        spacing_bps=0.0,
        min_spread_bps=1.0,
        inventory_skew_bps=0.0,
        impact_weight=1.0,
        vol_window=2,
        ma_window=2,
        momentum_window=1,
        volume_window=1,
    )
    call = quote_trace(bars, mexico, initial_cash=1000.0)[-1]
    flat = call.strategy.update(
        call.state, attrs.evolve(call.inputs, position=0.0, entry_price=0.0)
    )[1]
    long = call.strategy.update(
        call.state, attrs.evolve(call.inputs, position=9.9, entry_price=call.bar.close)
    )[1]
    assert (
        long.bids[0][0] > flat.bids[0][0] and long.bids[0][1] < flat.bids[0][1]
    )  # price up, size down
    assert check_skew_reduces_inventory(mexico, bars, initial_cash=1000.0) == []

    def same_size_higher_bid(i):  # the price rise alone, with the size kept: caught
        c = i.bar.close * (1 + 1e-5 * i.position)
        return Quotes(((c * 0.999, 1.0),), ((c * 1.001, 1.0),))

    assert check_skew_reduces_inventory(quoting("up", same_size_higher_bid), bars)
