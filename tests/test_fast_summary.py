"""The summary computed from the kernel's tables (`mmsim.fast.summary`, what batched sweeps
return) equals `summarize` over the run's frames, column by column: same columns, dtypes and
nulls, integers exactly, floats to 1e-9 relative; and the reference engine's summary. The
pass holds a block of bars at a time: any block size (one bar, a few, more than the run) and
any markout horizon (past the run's end too) give the same table."""

from __future__ import annotations

import functools

import numpy as np
import polars as pl
import pytest
from conftest import scaled
from hypothesis import example, given
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from test_fast_equal import MAKERS, setups
from test_summary_equal import assert_same_summary, frames_summary

import mmsim
from mmsim.core.risk import NO_RISK
from mmsim.fast.batch import BatchPoint, PointResult, run_points
from mmsim.fast.summary import BLOCK
from mmsim.testing.suite import backtest_settings


def batched(bars, strategies, *, risk, venue, initial_cash, allow_gaps=False):
    point = BatchPoint(strategies, risk, venue, initial_cash, keep_equity=True)
    (outcome,) = run_points(bars, [point], allow_gaps=allow_gaps, engine="fast")
    return outcome


def assert_same_as_frames(bars, strategies, **kwargs) -> PointResult | None:
    """The batched point's summary, halting event and equity against the fast engine's run
    (its frames summarized, and its own summary); None when the kernels hand the point back."""
    outcome = batched(bars, strategies, **kwargs)
    if outcome is None or isinstance(outcome, BaseException):
        with pytest.raises(Exception):  # noqa: B017 (the failure is the reference's to word)
            mmsim.backtest(bars, strategies, engine="fast", **kwargs).summary  # noqa: B018
        return None
    run = mmsim.backtest(bars, strategies, engine="fast", **kwargs)
    assert_same_summary(outcome.summary, frames_summary(run))
    # a fast run's own summary is this pass too, over the same tables
    assert_frame_equal(run.summary, outcome.summary)
    assert outcome.halted == run.halted
    assert_frame_equal(outcome.equity, run.equity.select("ts", "equity"))
    return outcome


@given(setups(st.one_of(*MAKERS.values())))
@backtest_settings(max_examples=scaled(100))
def test_the_summary_from_the_kernel_tables_equals_the_frames_summary(setup):
    """Any market (several symbols, gaps, flash crashes, zero volume), strategy, venue, risk
    set (early stops, emergency exits, liquidations) and account size."""
    assert_same_as_frames(setup.pop("bars"), setup.pop("strategies"), **setup)


def kernel_run(bars, strategies, *, risk, venue, initial_cash, allow_gaps=False):
    """(kernel output, prepared run, plan) of one point on the kernels, or None when they
    hand it back (no kernel for its stages, or bars the preparation refuses)."""
    from mmsim.core.engine import account_bar
    from mmsim.core.matching import match_bar
    from mmsim.core.setup import resolve_strategies
    from mmsim.fast.batch import _prepare
    from mmsim.fast.engine import run
    from mmsim.fast.plan import fast_plan

    symbols = tuple(bars["symbol"].unique().sort().to_list())
    try:
        per_symbol = resolve_strategies(strategies, symbols)
        plan, _ = fast_plan(per_symbol, risk, match_bar, account_bar, symbols)
        if plan is None:
            return None
        group = _prepare(bars, BatchPoint(strategies, risk, venue, initial_cash), plan, allow_gaps)
    except Exception:  # the reference reports it (`assert_same_as_frames` checks that)
        return None
    return run(*group.inputs), group, plan


def assert_tables_equal_frames(out, group, plan, horizons, block):
    """fast_summary over `block` bars at a time against `summarize` over the run's frames
    (or the same failure), its equity against the frames' equity."""
    from mmsim.fast.run import kernel_frames
    from mmsim.fast.summary import fast_summary
    from mmsim.results.metrics import summarize

    s = group.setup
    kwargs = dict(horizons=horizons, keep_equity=True, block=block)
    try:
        eq, sy, fi, rj, ev, po, _, _ = kernel_frames(
            out, group.inputs, s.symbols, plan, s.venue, s.initial_cash
        )
    except Exception as exc:
        with pytest.raises(type(exc)):
            fast_summary(
                out, group.inputs, s.symbols, plan, s.initial_cash, s.interval_us, **kwargs
            )
        return
    frames = summarize(
        eq, sy, fi, s.initial_cash, s.interval_us, rejections=rj, events=ev, posted=po,
        horizons=horizons,
    )  # fmt: skip
    tables, _, equity = fast_summary(
        out, group.inputs, s.symbols, plan, s.initial_cash, s.interval_us, **kwargs
    )
    assert_same_summary(tables, frames)
    np.testing.assert_allclose(equity, eq["equity"].to_numpy(), rtol=1e-12)


@given(
    setups(st.one_of(*MAKERS.values())),
    st.integers(1, 48),
    st.lists(st.integers(0, 60), max_size=3, unique=True).map(tuple),
)
@backtest_settings(max_examples=scaled(60))
def test_any_block_size_and_horizons_equal_the_frames_summary(setup, block, horizons):
    """Blocks of a few bars (many blocks a run, markouts reaching into later blocks, the ring
    of marks wrapping) or more than the run, on any generated market."""
    ran = kernel_run(setup.pop("bars"), setup.pop("strategies"), **setup)
    if ran is not None:
        assert_tables_equal_frames(*ran, horizons, block)


BARS = mmsim.synthetic_bars(("BTCUSDT", "ETHUSDT"), days=1, interval="1m", seed=3)
AS = mmsim.avellaneda_stoikov(order_value=2_000.0, max_inventory=10)


def _edge_cases():
    gappy = BARS.filter(
        ~((pl.col("symbol") == "ETHUSDT") & pl.col("ts").dt.hour().is_between(3, 5))
    )
    return {
        "two symbols": (BARS, AS, mmsim.basic_risk(max_leverage=3.0), 100_000.0, False),
        "no fills": (BARS, mmsim.fixed_spread(half_spread_bps=1900.0), NO_RISK, 1e5, False),
        "early stop": (
            BARS,
            mmsim.fixed_spread(half_spread_bps=0.5, order_value=20_000.0),
            mmsim.basic_risk(max_leverage=None, stop_equity_fraction=0.999),
            50_000.0,
            False,
        ),
        "emergency exit": (
            BARS,
            mmsim.fixed_spread(half_spread_bps=0.5, order_value=20_000.0),
            mmsim.basic_risk(max_leverage=None, emergency_drawdown=0.001),
            50_000.0,
            False,
        ),
        "liquidation": (
            BARS,
            mmsim.fixed_spread(half_spread_bps=1.0, order_value=200_000.0),
            NO_RISK,
            1_000.0,
            False,
        ),
        "gaps": (gappy, AS, mmsim.basic_risk(max_leverage=3.0), 100_000.0, True),
        "one symbol": (
            BARS.filter(pl.col("symbol") == "BTCUSDT"),
            AS,
            mmsim.basic_risk(max_leverage=3.0, min_order_value=500.0),
            20_000.0,
            False,
        ),
    }


EDGE_CASES = _edge_cases()


@pytest.mark.parametrize("case", sorted(EDGE_CASES))
def test_edge_cases_equal_the_frames_and_the_reference(case):
    bars, strategy, risk, cash, gaps = EDGE_CASES[case]
    kwargs = dict(risk=risk, venue=mmsim.Venue(), initial_cash=cash, allow_gaps=gaps)
    outcome = assert_same_as_frames(bars, strategy, **kwargs)
    assert isinstance(outcome, PointResult)  # every case runs on the kernels
    reference = mmsim.backtest(bars, strategy, engine="reference", **kwargs)
    assert_frame_equal(outcome.summary, reference.summary, rel_tol=1e-9)
    assert outcome.halted == reference.halted
    total = outcome.summary.row(-1, named=True)
    if case == "no fills":
        assert total["fills"] == 0 and total["captured_spread_bps"] is None
    if case == "early stop":
        assert total["early_stops"] >= 1 and outcome.halted.startswith("early_stop")
    if case == "emergency exit":
        assert total["emergency_exits"] >= 1 and total["taker_fills"] >= 1
    if case == "liquidation":
        assert total["liquidations"] == 1 and outcome.halted.startswith("liquidation")


@functools.cache
def day_run():
    return kernel_run(
        BARS, AS, risk=mmsim.basic_risk(max_leverage=3.0), venue=mmsim.Venue(), initial_cash=1e4
    )


@example(horizons=(), block=BLOCK)
@example(horizons=(0,), block=BLOCK)
@example(horizons=(1, 5, 15, 60), block=1)
@given(
    st.lists(st.integers(0, 2_000), max_size=4, unique=True).map(tuple),
    st.sampled_from([3, 64, BLOCK]),
)
@backtest_settings(max_examples=scaled(10))
def test_other_markout_horizons_equal_the_frames_summary(horizons, block):
    """A day of two symbols (1,440 bars: several blocks), horizons up to more than the run."""
    out, group, plan = day_run()
    assert out[3].shape[0] > 100  # fills enough to mark out
    assert_tables_equal_frames(out, group, plan, horizons, block)


def test_negative_markout_horizons_are_refused():
    """A markout looks ahead of its fill: a negative horizon is an error, not a wrong mean."""
    from mmsim.fast.summary import fast_summary

    out, group, plan = day_run()
    s = group.setup
    with pytest.raises(ValueError, match=r"bars >= 0, got \(5, -1\)"):
        fast_summary(out, group.inputs, s.symbols, plan, s.initial_cash, s.interval_us,
                     horizons=(5, -1))  # fmt: skip


def _outputs_equal(a, b) -> bool:
    return all(
        np.array_equal(x, y, equal_nan=True) if isinstance(x, np.ndarray) else x == y
        for x, y in zip(a, b, strict=True)
    )


@pytest.mark.parametrize("case", sorted(EDGE_CASES))
def test_a_run_into_used_tables_equals_a_fresh_run(case):
    """Batched points reuse one set of output tables: whatever an earlier point (or garbage)
    left in them, a run into them gives the fresh run's outputs, bit for bit."""
    from mmsim.fast.engine import new_tables, run, run_into

    bars, strategy, risk, cash, gaps = EDGE_CASES[case]
    ran = kernel_run(
        bars, strategy, risk=risk, venue=mmsim.Venue(), initial_cash=cash, allow_gaps=gaps
    )
    assert ran is not None
    out, group, plan = ran
    T, S = group.inputs[1].shape
    tables = new_tables(T, S, plan.levels, plan.risk.shape[0])
    for table in tables:  # garbage everywhere a run might read before it writes
        table.fill(7)
    first, tables = run_into(tables, *group.inputs)
    assert _outputs_equal(first, out)
    for table in tables:
        table[...] = np.where(np.isnan(table), 3, -table)
    again, _ = run_into(tables, *group.inputs)
    assert _outputs_equal(again, run(*group.inputs))
