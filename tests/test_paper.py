"""Avellaneda-Stoikov (2008): the market, the strategies, engine and fast runs, the result."""

import math

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mmsim
from mmsim.core.bars import Bar
from mmsim.core.venue import Venue
from mmsim.research import paper
from mmsim.strategies.base import StrategyInput

STEP = 2.0 * math.sqrt(0.005)  # sigma * sqrt(dt)
INTERVAL_US = 432_000_000  # dt = 0.005 day = 7m12s


@pytest.fixture(scope="module")
def market():
    return paper.paper_market(paths=1000, seed=2008)


def test_market_layout_is_the_papers_random_walk():
    m = paper.paper_market(paths=3, seed=1)
    assert m.columns == ["ts", "symbol", "open", "high", "low", "close", "volume", "u_bid", "u_ask"]
    assert m.height == 201 * 3
    assert m["symbol"].unique().sort().to_list() == ["path0000", "path0001", "path0002"]
    ts = m["ts"].unique().sort().dt.epoch("us")
    start_us = 1_704_067_200_000_000  # 2024-01-01 00:00 UTC
    assert ts[0] + INTERVAL_US == start_us  # the opening bar closes at t = 0
    assert ts.diff().drop_nulls().unique().to_list() == [INTERVAL_US]
    for one in m.partition_by("symbol"):
        o, c = one["open"].to_numpy(), one["close"].to_numpy()
        assert o[0] == c[0] == 100.0
        assert (o[1:] == c[:-1]).all()  # each bar opens at the previous close
        assert np.allclose(np.abs(c[1:] - o[1:]), STEP, rtol=0, atol=1e-12)
        assert (one["high"] == one[["open", "close"]].max_horizontal()).all()
    draws = m.select("u_bid", "u_ask").to_numpy()
    assert ((draws >= 0) & (draws < 1)).all()
    mmsim.validate_bars(m)


def test_market_is_deterministic_for_a_seed_and_paths_do_not_depend_on_their_number():
    a = paper.paper_market(paths=10, seed=7)
    assert a.equals(paper.paper_market(paths=10, seed=7))
    assert not a.equals(paper.paper_market(paths=10, seed=8))
    first = a.filter(pl.col("symbol").is_in(["path0000", "path0001", "path0002"]))
    assert first.equals(paper.paper_market(paths=3, seed=7))


def test_up_and_down_steps_are_equally_likely(market):
    """The share of up-steps over 200,000 steps is within 4 standard errors of 1/2."""
    moves = market.filter(pl.col("close") != pl.col("open"))
    up = (moves["close"] > moves["open"]).mean()
    assert moves.height == 200 * 1000
    assert abs(up - 0.5) < 4 * math.sqrt(0.25 / moves.height)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(paths=0), "paths"),
        (dict(dt=0.003), "whole number of steps"),
        (dict(sigma=-1.0), "sigma"),
        (dict(draws=("u", "u")), "distinct"),
        (dict(dt=1e-7, time_unit="1s"), "microseconds"),
        (dict(start="2024-01-01 12:00"), "not at the start"),
    ],
)
def test_market_rejects_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        paper.paper_market(**kwargs)


def quote_at(strategy, *, close, position, bars_elapsed):
    """The strategy's quotes at the close of the bar that ends `bars_elapsed` steps after t = 0."""
    start_us = 1_704_067_200_000_000
    b = Bar(
        "path0000", start_us + (bars_elapsed - 1) * INTERVAL_US, close, close, close, close, 0.0
    )
    _, quotes = strategy.update(
        strategy.init(), StrategyInput(b, position, close, 1e4, INTERVAL_US)
    )
    return quotes


def test_inventory_strategy_quotes_the_papers_formulas_by_hand():
    # s = 100, q = 2, gamma = 0.1, sigma = 2, T - t = 1:
    # r = 100 - 2 * 0.1 * 4 * 1 = 99.2; spread = 0.4 + 20 * ln(1 + 0.1 / 1.5) = 1.6907734
    quotes = quote_at(
        paper.inventory_strategy(gamma=0.1), close=100.0, position=2.0, bars_elapsed=0
    )
    half = (0.4 + 20 * math.log(1 + 0.1 / 1.5)) / 2
    assert quotes.reservation_price == pytest.approx(99.2)
    assert quotes.bids[0] == (pytest.approx(99.2 - half), 1.0)
    assert quotes.asks[0] == (pytest.approx(99.2 + half), 1.0)
    # half-way (T - t = 0.5) and short 3: r = 100 + 3 * 0.1 * 4 * 0.5 = 100.6
    quotes = quote_at(
        paper.inventory_strategy(gamma=0.1), close=100.0, position=-3.0, bars_elapsed=100
    )
    half = (0.2 + 20 * math.log(1 + 0.1 / 1.5)) / 2
    assert quotes.reservation_price == pytest.approx(100.6)
    assert quotes.bids[0][0] == pytest.approx(100.6 - half)  # above the mid: the paper allows it


def test_symmetric_strategy_centres_the_spread_on_the_mid_whatever_the_inventory():
    flat = quote_at(paper.symmetric_strategy(gamma=1.0), close=100.0, position=0.0, bars_elapsed=50)
    long = quote_at(paper.symmetric_strategy(gamma=1.0), close=100.0, position=7.0, bars_elapsed=50)
    spread = 4 * 0.75 + 2 * math.log(1 + 1 / 1.5)  # T - t = 0.75
    assert flat == long
    assert flat.asks[0][0] - flat.bids[0][0] == pytest.approx(spread)
    fixed = quote_at(
        paper.symmetric_strategy(gamma=1.0, spread=3.0), close=100.0, position=7.0, bars_elapsed=50
    )
    assert (fixed.bids[0][0], fixed.asks[0][0]) == (98.5, 101.5)


def test_average_spread_is_the_mean_over_the_200_quotes():
    # gamma = 1: mean of 4 * (1 - k/200) over k = 0..199 is 4 * 0.5025, plus 2 ln(1 + 1/1.5)
    m = paper.paper_market(paths=1, seed=1)
    expected = 4 * 0.5025 + 2 * math.log(1 + 1 / 1.5)
    assert paper.average_spread(m, paper.inventory_strategy(gamma=1.0)) == pytest.approx(expected)


@pytest.mark.parametrize("gamma", [0.1, 1.0])
@pytest.mark.parametrize("post_only", [False, "reject", "clamp"])
def test_engine_and_fast_path_agree_exactly_on_paths(gamma, post_only):
    """On the same paths, one mmsim.backtest per path and the vectorised fast path book the same
    fills (count, final inventory, mean quoted spread) and the same profit to 1e-9."""
    m = paper.paper_market(paths=6, seed=99)
    symbols = m["symbol"].unique().sort().to_list()
    venue = Venue(
        maker_fee=0.0,
        taker_fee=0.0,
        post_only=post_only,
        tick_sizes={s: 1e-9 for s in symbols},
        lot_sizes={s: 1.0 for s in symbols},
    )
    inventory = paper.inventory_strategy(gamma=gamma)
    symmetric = paper.symmetric_strategy(gamma=gamma, spread=paper.average_spread(m, inventory))
    for strategy in (inventory, symmetric):
        engine = paper.run_paths(m, strategy, venue=venue, method="engine")
        fast = paper.run_paths(m, strategy, venue=venue, method="fast")
        assert engine["symbol"].to_list() == fast["symbol"].to_list() == symbols
        assert engine["fills"].to_list() == fast["fills"].to_list()
        assert engine["final_q"].to_list() == fast["final_q"].to_list()
        assert np.allclose(engine["spread"], fast["spread"], rtol=0, atol=1e-12)
        assert np.allclose(engine["profit"], fast["profit"], rtol=0, atol=1e-9)
        assert engine["fills"].sum() > 100  # the paths trade


@settings(max_examples=15)
@given(
    seed=st.integers(0, 2**32 - 1),
    gamma=st.floats(0.005, 3.0),
    center=st.sampled_from(["reservation", "mid"]),
    spread=st.none() | st.floats(0.05, 5.0),
    post_only=st.sampled_from([False, "reject", "clamp"]),
    probability=st.sampled_from(["linear", "poisson"]),
)
def test_engine_and_fast_path_agree_for_any_setting(
    seed, gamma, center, spread, post_only, probability
):
    """For any seed, risk aversion, centre, spread, post-only rule and probability form, the
    engine and the fast path book the same fills and the same profit on the same paths."""
    m = paper.paper_market(paths=2, seed=seed)
    symbols = m["symbol"].unique().to_list()
    venue = Venue(
        maker_fee=0.0,
        taker_fee=0.0,
        post_only=post_only,
        tick_sizes={s: 1e-9 for s in symbols},
        lot_sizes={s: 1.0 for s in symbols},
    )
    make = paper.inventory_strategy if center == "reservation" else paper.symmetric_strategy
    strategy = make(gamma=gamma, spread=spread)
    matching = paper.paper_matching(probability=probability)
    engine = paper.run_paths(m, strategy, matching=matching, venue=venue, method="engine")
    fast = paper.run_paths(m, strategy, matching=matching, venue=venue, method="fast")
    assert engine["fills"].to_list() == fast["fills"].to_list()
    assert engine["final_q"].to_list() == fast["final_q"].to_list()
    assert np.allclose(engine["profit"], fast["profit"], rtol=0, atol=1e-9)


def test_post_only_changes_the_inventory_strategy_at_high_risk_aversion():
    """At gamma = 1 the reservation price often pushes a quote past the mid: post-only rejects
    it, so the run with post-only differs from the paper's setting (quotes allowed)."""
    m = paper.paper_market(paths=20, seed=5)
    symbols = m["symbol"].unique().to_list()
    strategy = paper.inventory_strategy(gamma=1.0)
    paper_setting = paper.run_paths(m, strategy, method="fast")
    strict = Venue(
        maker_fee=0.0,
        taker_fee=0.0,
        post_only="reject",
        tick_sizes={s: 1e-9 for s in symbols},
        lot_sizes={s: 1.0 for s in symbols},
    )
    with_post_only = paper.run_paths(m, strategy, venue=strict, method="fast")
    assert with_post_only["fills"].sum() < paper_setting["fills"].sum()


def test_fast_path_refuses_strategies_it_does_not_know():
    m = paper.paper_market(paths=2, seed=1)
    with pytest.raises(ValueError, match="fast path runs the paper's strategies"):
        paper.run_paths(m, mmsim.fixed_spread(half_spread_bps=10), method="fast")
    with pytest.raises(ValueError, match="method must be"):
        paper.run_paths(m, paper.inventory_strategy(gamma=0.1), method="slow")


def test_runs_are_deterministic_for_a_seed():
    m = paper.paper_market(paths=4, seed=3)
    strategy = paper.inventory_strategy(gamma=0.1)
    assert paper.run_paths(m, strategy, method="engine").equals(
        paper.run_paths(paper.paper_market(paths=4, seed=3), strategy, method="engine")
    )
    assert paper.run_paths(m, strategy).equals(paper.run_paths(m, strategy))


@pytest.mark.parametrize("gamma", paper.GAMMAS)
def test_inventory_strategy_has_a_smaller_spread_of_outcomes_than_the_symmetric_one(market, gamma):
    """The paper's central result over 1,000 paths: the inventory strategy's terminal inventory
    and terminal profit have smaller standard deviations than the symmetric strategy's quoting
    the same average spread, each by more than 3 combined standard errors."""
    inventory = paper.inventory_strategy(gamma=gamma)
    symmetric = paper.symmetric_strategy(
        gamma=gamma, spread=paper.average_spread(market, inventory)
    )
    inv = paper.summarize_paths(paper.run_paths(market, inventory))
    sym = paper.summarize_paths(paper.run_paths(market, symmetric))
    for column in ("final_q_std", "profit_std"):
        gap = sym[column] - inv[column]
        assert gap > 3 * math.hypot(sym[f"{column}_se"], inv[f"{column}_se"]), (column, inv, sym)


def test_summarize_paths_by_hand():
    results = pl.DataFrame(
        {
            "symbol": ["a", "b", "c", "d"],
            "profit": [1.0, 2.0, 3.0, 10.0],
            "final_q": [0.0, 0.0, 2.0, -2.0],
            "fills": [1, 2, 3, 4],
            "spread": [1.0, 1.0, 1.0, 1.0],
        }
    )
    s = paper.summarize_paths(results)
    std = math.sqrt(50 / 3)  # deviations from the mean 4: -3, -2, -1, 6
    assert (s["profit"], s["profit_std"]) == (pytest.approx(4.0), pytest.approx(std))
    assert s["profit_se"] == pytest.approx(std / 2)
    m4 = (81 + 16 + 1 + 1296) / 4
    assert s["profit_std_se"] == pytest.approx(math.sqrt((m4 - std**4) / (4 * 4 * std**2)))
    assert (s["final_q"], s["final_q_std"]) == (0.0, pytest.approx(math.sqrt(8 / 3)))
    assert (s["fills"], s["spread"], s["paths"]) == (2.5, 1.0, 4)
