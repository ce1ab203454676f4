"""The summary computed from the kernel's tables (`mmsim.fast.summary`, what batched sweeps
return) equals `summarize` over the run's frames, column by column: same columns, dtypes and
nulls, integers exactly, floats to 1e-9 relative; and the reference engine's summary."""

from __future__ import annotations

import polars as pl
import pytest
from conftest import scaled
from hypothesis import example, given
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from test_fast_equal import MAKERS, setups
from test_summary_equal import assert_same_summary

import mmsim
from mmsim.core.risk import NO_RISK
from mmsim.fast.batch import BatchPoint, PointResult, run_points
from mmsim.testing.suite import backtest_settings


def batched(bars, strategies, *, risk, venue, initial_cash, allow_gaps=False):
    point = BatchPoint(strategies, risk, venue, initial_cash, keep_equity=True)
    (outcome,) = run_points(bars, [point], allow_gaps=allow_gaps, engine="fast")
    return outcome


def assert_same_as_frames(bars, strategies, **kwargs) -> PointResult | None:
    """The batched point's summary, halting event and equity against the fast engine's run
    (its frames summarized); None when the kernels hand the point back."""
    outcome = batched(bars, strategies, **kwargs)
    if outcome is None or isinstance(outcome, BaseException):
        with pytest.raises(Exception):  # noqa: B017 (the failure is the reference's to word)
            mmsim.backtest(bars, strategies, engine="fast", **kwargs).summary  # noqa: B018
        return None
    run = mmsim.backtest(bars, strategies, engine="fast", **kwargs)
    assert_same_summary(outcome.summary, run.summary)
    assert outcome.halted == run.halted
    assert_frame_equal(outcome.equity, run.equity.select("ts", "equity"))
    return outcome


@given(setups(st.one_of(*MAKERS.values())))
@backtest_settings(max_examples=scaled(100))
def test_the_summary_from_the_kernel_tables_equals_the_frames_summary(setup):
    """Any market (several symbols, gaps, flash crashes, zero volume), strategy, venue, risk
    set (early stops, emergency exits, liquidations) and account size."""
    assert_same_as_frames(setup.pop("bars"), setup.pop("strategies"), **setup)


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


@example(horizons=())
@example(horizons=(0,))
@given(st.lists(st.integers(0, 2_000), max_size=4, unique=True).map(tuple))
@backtest_settings(max_examples=scaled(10))
def test_other_markout_horizons_equal_the_frames_summary(horizons):
    from mmsim.core.engine import account_bar
    from mmsim.core.matching import match_bar
    from mmsim.fast.batch import _prepare
    from mmsim.fast.engine import run
    from mmsim.fast.plan import fast_plan
    from mmsim.fast.run import kernel_frames
    from mmsim.fast.summary import fast_summary
    from mmsim.results.metrics import summarize

    risk = mmsim.basic_risk(max_leverage=3.0)
    symbols = ("BTCUSDT", "ETHUSDT")
    plan, _ = fast_plan((AS, AS), risk, match_bar, account_bar, symbols)
    group = _prepare(BARS, BatchPoint(AS, risk, mmsim.Venue(), 10_000.0), plan, False)
    s = group.setup
    out = run(*group.inputs)
    eq, sy, fi, rj, ev, po, _, _ = kernel_frames(
        out, group.inputs, s.symbols, plan, s.venue, s.initial_cash
    )
    frames = summarize(
        eq, sy, fi, s.initial_cash, s.interval_us, rejections=rj, events=ev, posted=po,
        horizons=horizons,
    )  # fmt: skip
    tables, _, _ = fast_summary(
        out, group.inputs, s.symbols, plan, s.initial_cash, s.interval_us, horizons=horizons
    )
    assert_same_summary(tables, frames)
