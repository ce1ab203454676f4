"""Each invariant check catches a deliberately broken stage (or a doctored result) and passes
on the real engine: the checks can fail, and fail for the right reason."""

from __future__ import annotations

import attrs
import polars as pl
import pytest

import mmsim
from mmsim.core.account import mark, pay_funding, settle
from mmsim.core.engine import account_bar
from mmsim.core.matching import match_bar
from mmsim.core.risk import NO_RISK, RiskDecision, RiskRule
from mmsim.testing import (
    MarketSpec,
    SymbolPath,
    assert_invariants,
    check_every_order_fills,
    check_invariants,
    check_leverage_caps,
    ladder,
)
from mmsim.testing.invariants import check_halt
from mmsim.testing.tapes import tape_from_bars

VENUE = mmsim.Venue(maker_fee=-0.0001, taker_fee=0.0005, penetration_ticks=1)
MARKET = MarketSpec(
    (
        SymbolPath("AAAUSDT", "mean_reverting", 100.0, 0.004, 0.3, 7, True),
        SymbolPath("BBBUSDT", "gapping", 2.5, 0.006, 0.4, 8, True),
    ),
    n_bars=40,
)
BARS = MARKET.bars()
MM = mmsim.fixed_spread(half_spread_bps=3.0, order_value=2_000.0)


def run(**kwargs):
    options = {"venue": VENUE, "initial_cash": 50_000.0, "allow_gaps": True, **kwargs}
    return mmsim.backtest(options.pop("bars", BARS), options.pop("strategy", MM), **options)


def names(violations) -> set[str]:
    return {v.invariant for v in violations}


def test_the_real_engine_keeps_every_invariant_on_the_test_market():
    result = run()
    assert (
        result.fills.filter(pl.col("side") > 0).height > 5
        and result.fills.filter(pl.col("side") < 0).height > 5
    )
    assert result.equity["funding"].abs().max() > 0  # funding was paid: its check is exercised
    assert check_invariants(result, BARS) == []


def money_from_nowhere(account, fills, step, venue):
    account, forced, halt = account_bar(account, fills, step, venue)
    return attrs.evolve(account, wallet=account.wallet + 1.0), forced, halt


def fee_free_ledger(account, fills, step, venue):
    return account_bar(account, tuple(attrs.evolve(f, fee=0.0) for f in fills), step, venue)


def booked_twice(account, fills, step, venue):
    return account_bar(account, fills + fills, step, venue)


def never_marked(account, fills, step, venue):
    for fill in fills:
        account = settle(account, fill)
    return account, (), None


def funding_backwards(account, fills, step, venue):
    for fill in fills:
        account = settle(account, fill)
    account = mark(account, tuple(None if b is None else b.close for b in step.bars))
    return (
        pay_funding(account, tuple(0.0 if b is None else -b.funding_rate for b in step.bars)),
        (),
        None,
    )


def fills_at_the_close(resting, market_orders, bars, symbols, specs, venue):
    fills = match_bar(resting, market_orders, bars, symbols, specs, venue)
    closes = {b.symbol: b.close for b in bars if b is not None}
    return tuple(
        attrs.evolve(f, price=closes[f.symbol], fee=closes[f.symbol] * f.qty * venue.maker_fee)
        if f.liquidity == "maker"
        else f
        for f in fills
    )


def maker_charged_taker_fee(resting, market_orders, bars, symbols, specs, venue):
    fills = match_bar(resting, market_orders, bars, symbols, specs, venue)
    return tuple(attrs.evolve(f, fee=f.price * f.qty * venue.taker_fee) for f in fills)


def fills_on_touch(resting, market_orders, bars, symbols, specs, venue):
    return match_bar(
        resting, market_orders, bars, symbols, specs, attrs.evolve(venue, penetration_ticks=0)
    )


def ignores_participation(resting, market_orders, bars, symbols, specs, venue):
    return match_bar(
        resting, market_orders, bars, symbols, specs, attrs.evolve(venue, max_participation=None)
    )


@pytest.mark.parametrize(
    "stage, broken, caught",
    [
        ("accounting", money_from_nowhere, "equity_identity"),
        ("accounting", fee_free_ledger, "fee_total"),
        ("accounting", booked_twice, "position"),
        ("accounting", never_marked, "mark"),
        ("accounting", funding_backwards, "funding"),
        ("matching", fills_at_the_close, "fill_price"),
        ("matching", maker_charged_taker_fee, "fee"),
    ],
    ids=lambda x: getattr(x, "__name__", x),
)
def test_a_broken_stage_is_caught_by_its_invariant(stage, broken, caught):
    result = run(**{stage: broken})
    violations = check_invariants(result, BARS)
    assert caught in names(violations), violations[:5]
    only = [v for v in violations if v.invariant == caught]
    assert str(only[0]).startswith(f"[{caught}] at 2024-01-01")


def touching():
    """Bar 1's low touches the fixed-spread bid posted at bar 0's close (99.9) and goes no lower."""
    import datetime as dt

    rows = [
        (100.0, 100.5, 99.95, 100.0),
        (100.0, 100.05, 99.9, 100.0),
        (100.0, 100.05, 99.99, 100.0),
    ]
    return pl.DataFrame(
        {
            "ts": [dt.datetime(2024, 1, 1, 0, k) for k in range(3)],
            "symbol": ["AAAUSDT"] * 3,
            **{c: [r[i] for r in rows] for i, c in enumerate(("open", "high", "low", "close"))},
            "volume": [10.0] * 3,
        }
    )


def test_a_fill_on_a_mere_touch_breaks_the_trade_through_rule():
    bars, mm = touching(), mmsim.fixed_spread(half_spread_bps=10.0, order_value=1_000.0)
    venue = mmsim.Venue(maker_fee=0.0, tick_sizes={"AAAUSDT": 0.01})
    assert run(bars=bars, strategy=mm, venue=venue).fills.height == 0  # one tick through is needed
    touched = run(bars=bars, strategy=mm, venue=venue, matching=fills_on_touch)
    assert touched.fills.height == 1
    assert [str(v) for v in check_invariants(touched, bars)] == [
        "[fill_price] at 2024-01-01 00:01:00 AAAUSDT: quote maker buy at 99.9 vs bar "
        "O=100.0 H=100.05 L=99.9 C=100.0 (mark 100.0)"
    ]


def test_the_participation_cap_is_checked_against_each_bars_volume():
    thin = BARS.with_columns(pl.col("volume") * 1e-4)
    venue = attrs.evolve(VENUE, max_participation=0.5)
    assert check_invariants(run(bars=thin, venue=venue), thin) == []
    violations = check_invariants(run(bars=thin, venue=venue, matching=ignores_participation), thin)
    assert "participation" in names(violations)


def test_an_account_left_open_past_a_margin_ratio_of_one_is_caught():
    crash = MarketSpec(
        (SymbolPath("AAAUSDT", "flash_crash", 100.0, 0.002, 1.0, 3),), n_bars=30
    ).bars()
    heavy = ladder(levels=4, spacing_bps=5.0, order_value=40_000.0, skew_bps=0.0)
    venue = mmsim.Venue(maker_fee=0.0, taker_fee=0.0005, maintenance_margin_rate=0.2)
    liquidated = mmsim.backtest(crash, heavy, venue=venue, initial_cash=20_000.0)
    assert liquidated.halted and liquidated.halted.startswith("liquidation")
    assert check_invariants(liquidated, crash) == []
    survived = mmsim.backtest(
        crash, heavy, venue=venue, initial_cash=20_000.0, accounting=never_liquidates
    )
    assert "liquidation" in names(check_invariants(survived, crash))


def never_liquidates(account, fills, step, venue):
    for fill in fills:
        account = settle(account, fill)
    account = mark(account, tuple(None if b is None else b.close for b in step.bars))
    return (
        pay_funding(account, tuple(0.0 if b is None else b.funding_rate for b in step.bars)),
        (),
        None,
    )


def keeps_orders_when_halting(after: int) -> RiskRule:
    def update(n, inputs):
        return n + 1, RiskDecision(inputs.orders, halt="sloppy stop" if n >= after else None)

    return RiskRule("sloppy_stop", lambda: 0, update)


def test_orders_after_a_halt_are_caught_and_the_engine_cancels_a_halting_rules_orders():
    # the engine cancels every quote at a halt, even those a sloppy rule kept
    kept = run(risk=keeps_orders_when_halting(10))
    assert kept.halted and check_halt(kept) == []
    # a result that shows orders posted after its halt is caught
    first = kept.equity.filter(pl.col("halted"))["ts"][0]
    posted = doctored(
        kept,
        symbols=lambda s: s.with_columns(
            pl.when(pl.col("ts") >= first).then(1).otherwise(pl.col("orders")).alias("orders")
        ),
    )
    halt = check_halt(posted)
    assert halt and all(v.invariant == "halt" for v in halt)
    assert any("posted at or after the halt" in v.detail for v in halt)
    assert check_invariants(run(risk=mmsim.early_stop(min_equity_fraction=0.9999)), BARS) == []


def doctored(result, **frames):
    return attrs.evolve(result, **{k: f(getattr(result, k)) for k, f in frames.items()})


def test_doctored_frames_are_caught_where_no_stage_can_break():
    result = run()
    missing = BARS.filter(pl.col("symbol") == "BBBUSDT")["ts"]
    gap_ts = next(t for t in BARS["ts"].unique().sort() if t not in missing.to_list())
    cases = {
        "missing_bar": doctored(
            result,
            symbols=lambda s: s.with_columns(
                pl.when((pl.col("ts") == gap_ts) & (pl.col("symbol") == "BBBUSDT"))
                .then(1)
                .otherwise(pl.col("orders"))
                .alias("orders")
            ),
        ),
        "post_only": doctored(
            result,
            symbols=lambda s: s.with_columns(
                pl.when(pl.col("bid").is_not_null())
                .then(pl.col("mark") * 1.01)
                .otherwise(None)
                .alias("bid")
            ),
        ),
        "grid": doctored(result, symbols=lambda s: s.with_columns(pl.col("bid_qty") * 1.0000001)),
        "equity_identity": doctored(
            result, equity=lambda e: e.with_columns(pl.col("wallet") + 5.0)
        ),
        "finite": doctored(
            result,
            fills=lambda f: f.with_columns(
                pl.when(pl.int_range(pl.len()) == 3)
                .then(float("nan"))
                .otherwise("fee")
                .alias("fee")
            ),
        ),
        "halt": doctored(
            result, equity=lambda e: e.with_columns((pl.col("ts") >= gap_ts).alias("halted"))
        ),
    }
    for invariant, broken in cases.items():
        assert invariant in names(check_invariants(broken, BARS)), invariant
    with pytest.raises(AssertionError, match=r"\d+ invariant violation\(s\):\n  \["):
        assert_invariants(cases["post_only"], BARS)


def test_leverage_caps_are_checked_step_by_step_at_placement():
    wide = ladder(levels=4, spacing_bps=20.0, order_value=30_000.0, skew_bps=0.0)
    kwargs = dict(
        max_leverage=2.0,
        max_symbol_leverage=1.5,
        venue=VENUE,
        initial_cash=50_000.0,
        allow_gaps=True,
    )
    assert check_leverage_caps(BARS, wide, **kwargs) == []
    uncapped = check_leverage_caps(BARS, wide, risk=NO_RISK, **kwargs)
    assert names(uncapped) == {"leverage", "symbol_leverage"}
    first = uncapped[0]
    assert first.symbol == "AAAUSDT" and "> 1.5 x equity" in first.detail


def test_a_bid_a_float_hair_below_the_close_still_crosses_on_the_tick_grid():
    result = run()
    ticks = {s: v["tick_size"] for s, v in result.config["specs"].items()}
    hair = result.symbols.with_columns(
        pl.when(pl.col("bid").is_not_null())
        .then(pl.col("mark") - pl.col("symbol").replace_strict(ticks) * 1e-8)
        .alias("bid")
    )
    found = check_invariants(attrs.evolve(result, symbols=hair), BARS)
    assert "post_only" in names(found)
    assert "post_only" not in names(check_invariants(result, BARS))


def test_a_position_back_to_flat_after_millions_of_units_is_not_a_violation():
    """Fills of tens of millions of units leave float noise in their running sum while
    the ledger is exactly flat: the position check's tolerance scales with the quantity
    traded (found by the randomized profile at 3.7 million units)."""
    import datetime as dt
    from types import SimpleNamespace

    from mmsim.testing.invariants import check_positions

    t0, t1 = dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 1, 0, 1)
    fills = pl.DataFrame(
        {
            "ts": [t0, t0, t1],
            "symbol": ["AAAUSDT"] * 3,
            "side": [1, 1, -1],
            "qty": [13626698.794174, 19980855.560804, 33607554.354978],
        }
    )  # the sum of the buys is 7.5e-9 more than the sell in floats
    symbols = pl.DataFrame(
        {"ts": [t0, t1], "symbol": ["AAAUSDT"] * 2, "position": [33607554.354978, 0.0]}
    )
    assert check_positions(SimpleNamespace(fills=fills, symbols=symbols)) == []
    off = symbols.with_columns(pl.Series("position", [33607554.354978, 0.001]))
    assert [v.invariant for v in check_positions(SimpleNamespace(fills=fills, symbols=off))] == [
        "position"
    ]


def test_runs_under_the_intensity_and_tape_fill_rules_keep_every_invariant():
    """The trade-through rule and its converse bind trade-through runs only: intensity fills
    (a draw against λ(δ)·dt, through the bar or not) and tape fills (the bar's prints, up to
    their size) keep every other invariant; read as trade-through runs, both break it."""
    bars = mmsim.add_uniform_draws(
        mmsim.synthetic_bars(("BTCUSDT",), days=0.3, interval="1m", seed=3), seed=1
    )
    strategy = mmsim.fixed_spread(half_spread_bps=5.0)
    rules = {
        "intensity_matching": mmsim.intensity_matching(A=1.0, kappa=0.5, units="bps"),
        "trade_matching": mmsim.trade_matching(
            tape_from_bars(bars, qty=0.01), interval="1m", queue_ahead=0.0
        ),
    }
    for name, rule in rules.items():
        result = mmsim.backtest(bars, strategy, matching=rule)
        assert result.config["matching"] == name
        assert result.fills.height > 0, name
        assert check_invariants(result, bars) == [], name
        as_trade_through = attrs.evolve(result, config={**result.config, "matching": "match_bar"})
        assert names(check_invariants(as_trade_through, bars)) & {"fill_price", "missed_fill"}
    assert run().config["matching"] == "match_bar"


def inner_levels_never_fill(resting, market_orders, bars, symbols, specs, venue):
    return match_bar(
        tuple(o for o in resting if o.level == 0), market_orders, bars, symbols, specs, venue
    )


def half_of_the_inner_levels(resting, market_orders, bars, symbols, specs, venue):
    fills = match_bar(resting, market_orders, bars, symbols, specs, venue)
    return tuple(attrs.evolve(f, qty=f.qty / 2) if f.level > 0 else f for f in fills)


def half_of_every_fill(resting, market_orders, bars, symbols, specs, venue):
    fills = match_bar(resting, market_orders, bars, symbols, specs, venue)
    return tuple(attrs.evolve(f, qty=f.qty / 2) if f.liquidity == "maker" else f for f in fills)


LADDER = ladder(levels=3, spacing_bps=4.0, order_value=1_000.0)


def test_every_resting_order_reached_fills_inner_levels_included():
    options = {"venue": VENUE, "initial_cash": 50_000.0, "allow_gaps": True}
    result = run(strategy=LADDER)
    inner = result.fills.filter(pl.col("level") > 0)
    assert inner.height > 5  # inner levels reached their threshold and filled: checked
    assert check_every_order_fills(BARS, LADDER, **options) == []
    capped = {**options, "venue": attrs.evolve(VENUE, max_participation=0.5)}
    thin = BARS.with_columns(pl.col("volume") * 1e-4)
    assert check_every_order_fills(thin, LADDER, **capped) == []


@pytest.mark.parametrize("broken", [inner_levels_never_fill, half_of_the_inner_levels])
def test_an_inner_level_left_unfilled_is_caught_though_the_frames_keep_only_the_best(broken):
    options = {"venue": VENUE, "initial_cash": 50_000.0, "allow_gaps": True, "matching": broken}
    # the frames' check sees only the best quotes, which still fill
    assert "missed_fill" not in names(check_invariants(run(strategy=LADDER, matching=broken), BARS))
    violations = check_every_order_fills(BARS, LADDER, **options)
    assert names(violations) == {"missed_fill"}
    assert all("level-1" in str(v) or "level-2" in str(v) for v in violations)


def test_a_capped_side_filled_below_its_share_is_caught():
    thin = BARS.with_columns(pl.col("volume") * 1e-4)
    venue = attrs.evolve(VENUE, max_participation=0.5)
    options = {"venue": venue, "initial_cash": 50_000.0, "allow_gaps": True}
    assert names(check_every_order_fills(thin, LADDER, **options, matching=half_of_every_fill))
    assert check_every_order_fills(thin, LADDER, **options) == []
    # the intensity rule's fills follow draws, not the threshold: not held to it
    draws = mmsim.intensity_matching(A=1.0, kappa=0.5, units="bps")
    assert check_every_order_fills(BARS, LADDER, **options, matching=draws) == []


def test_only_a_bankrupt_accounts_leverage_may_be_infinite():
    from mmsim.testing.invariants import check_finite

    result = run()
    assert check_finite(result) == []
    bankrupt = doctored(
        result,
        equity=lambda e: e.with_columns(
            pl.when(pl.int_range(pl.len()) == 5)
            .then(float("inf"))
            .otherwise("leverage")
            .alias("leverage")
        ),
    )
    assert check_finite(bankrupt) == []
    for column, value in (("equity", float("inf")), ("leverage", float("nan"))):
        broken = doctored(
            result,
            equity=lambda e, c=column, v=value: e.with_columns(
                pl.when(pl.int_range(pl.len()) == 5).then(v).otherwise(c).alias(c)
            ),
        )
        (violation,) = check_finite(broken)
        assert violation.invariant == "finite" and f"equity.{column} is" in violation.detail
    wild = doctored(result, symbols=lambda s: s.with_columns(pl.col("mark") * float("nan")))
    assert len(check_finite(wild)) == 20  # the first MAX_PER_CHECK rows, each named
