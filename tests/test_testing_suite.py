"""mmsim's own strategies under `strategy_properties` (the one-line suite users apply), and the
suite builder itself."""

from __future__ import annotations

import pytest
from conftest import scaled
from hypothesis import Phase
from hypothesis import strategies as st

import mmsim
from mmsim.testing import PROPERTIES, ladder
from mmsim.testing.suite import backtest_settings, strategy_properties

TestFixedSpread = strategy_properties(mmsim.fixed_spread, max_examples=scaled(40))

# Avellaneda-Stoikov and the ladder lean against inventory by design: at a large position the
# reservation price moves past the close and one side of the quote crosses it (post-only then
# refuses it), so they skip quotes_never_cross.
TestAvellanedaStoikov = strategy_properties(
    mmsim.avellaneda_stoikov,
    params={"vol_window": (2, 10), "horizon": st.sampled_from(["10m", "1h", "1d"])},
    skip=("quotes_never_cross",),
    max_examples=scaled(40),
)
TestLadder = strategy_properties(
    ladder, params={"skew_bps": (0.0, 50.0)}, skip=("quotes_never_cross",), max_examples=scaled(40)
)


def test_the_suite_has_one_test_per_property_named_after_it():
    names = sorted(n for n in vars(TestFixedSpread) if n.startswith("test_"))
    assert names == sorted(f"test_{p}" for p in PROPERTIES)
    assert "test_quotes_never_cross" not in vars(TestLadder)
    assert TestLadder.__module__ == __name__ and TestLadder.__name__ == "TestLadderProperties"
    assert TestFixedSpread.test_skew_reduces_inventory.__doc__.startswith("fixed_spread: A longer position")


def test_a_fixed_strategy_value_can_be_tested_too():
    suite = strategy_properties(mmsim.fixed_spread(half_spread_bps=4.0), properties=["bid_below_ask"], max_examples=3)
    suite().test_bid_below_ask()  # passes: no exception


def test_a_leaning_strategy_fails_quotes_never_cross_with_a_readable_message():
    suite = strategy_properties(ladder, params={"skew_bps": 50.0, "spacing_bps": 1.0}, properties=["quotes_never_cross"],
                                max_examples=scaled(30))
    with pytest.raises(AssertionError, match=r"quotes_never_cross: bids rest below the close and asks above it\n\d+ violation"):
        suite().test_quotes_never_cross()


def test_unknown_properties_are_refused():
    with pytest.raises(ValueError, match=r"unknown propert\(ies\) \['bid_under_ask'\]"):
        strategy_properties(mmsim.fixed_spread, skip=("bid_under_ask",))


def test_backtest_settings_drop_the_deadline_and_the_explain_phase():
    s = backtest_settings(max_examples=7)
    assert s.deadline is None and s.max_examples == 7
    assert Phase.explain not in s.phases and Phase.shrink in s.phases
