"""The regression workflow: a failing generated market kept as Parquet with its seeds and how to
run it, replayed as a plain pytest case; and mmsim's own kept cases, replayed."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from conftest import scaled
from hypothesis import Phase, given, settings

import mmsim
from mmsim.testing import (
    CaseError,
    MarketSpec,
    SymbolPath,
    assert_skew_reduces_inventory,
    keep_failures,
    ladder,
    load_case,
    recorded,
    regression_cases,
    replay,
    save_case,
    save_property_case,
)
from mmsim.testing.markets import bars_frames
from mmsim.testing.params import strategy_space
from mmsim.testing.regression import decode, resolve
from mmsim.testing.suite import backtest_settings, strategy_properties

REGRESSIONS = Path(__file__).resolve().parent / "regressions"
SPEC = MarketSpec(
    (
        SymbolPath("AAAUSDT", "trending", 50.0, 0.01, 0.4, 5),
        SymbolPath("BBBUSDT", "gapping", 3.0, 0.02, 0.5, 6),
    ),
    n_bars=12,
)


@pytest.mark.parametrize("path", regression_cases(REGRESSIONS), ids=lambda p: p.stem)
def test_kept_regression_cases_pass(path):
    replay(path)


def test_the_kept_liquidation_case_still_liquidates_a_symbol_on_a_missing_bar():
    case = load_case(REGRESSIONS / "liquidation-on-a-missing-bar.parquet")
    assert case.regenerate().equals(case.bars) and case.seeds == {
        "AAAUSDT": 0,
        "BBBUSDT": 0,
        "CCCUSDT": 0,
    }
    run = {k: decode(x, bars=case.bars) for k, x in case.meta["run"].items()}
    result = mmsim.backtest(
        case.bars, decode(case.meta["strategy"], bars=case.bars), allow_gaps=True, **run
    )
    liquidated = result.fills.filter(pl.col("reason") == "liquidation").join(
        case.bars, on=["ts", "symbol"], how="anti"
    )
    assert liquidated.height == 1 and liquidated["symbol"][0] == "AAAUSDT"


def test_a_case_round_trips_its_bars_spec_and_description(tmp_path):
    bars = SPEC.bars()
    path = save_case(tmp_path / "cases" / "one.parquet", bars, note="by hand", numbers=[1, 2.5])
    case = load_case(path)
    assert case.bars.equals(bars)
    assert case.market == SPEC and case.seeds == {"AAAUSDT": 5, "BBBUSDT": 6}
    assert case.regenerate().equals(bars)
    assert (case.meta["note"], case.meta["numbers"]) == ("by hand", [1, 2.5])
    assert replay(path).path == path  # a bars-only case: nothing to run, just the market
    plain = save_case(tmp_path / "plain.parquet", bars.clone())
    assert load_case(plain).market is None
    with pytest.raises(CaseError, match="no MarketSpec"):
        load_case(plain).regenerate()


def test_a_case_is_written_whole_or_not_at_all(tmp_path):
    unwritable = pl.DataFrame({"ts": [1], "x": [object()]}, schema={"ts": pl.Int64, "x": pl.Object})
    with pytest.raises(Exception):  # noqa: B017  (polars' own error for an Object column)
        save_case(tmp_path / "bad.parquet", unwritable)
    assert list(tmp_path.iterdir()) == []  # neither the case nor a temporary file


def test_unreadable_cases_are_named(tmp_path):
    with pytest.raises(CaseError, match="no such case file"):
        load_case(tmp_path / "nope.parquet")
    (tmp_path / "text.parquet").write_text("not parquet")
    with pytest.raises(CaseError, match="text.parquet: not a Parquet file"):
        load_case(tmp_path / "text.parquet")
    pl.DataFrame({"a": [1]}).write_parquet(tmp_path / "bare.parquet")
    with pytest.raises(CaseError, match="without an 'mmsim.case' description"):
        load_case(tmp_path / "bare.parquet")
    assert regression_cases(tmp_path / "missing") == []


@backtest_settings(max_examples=scaled(50), database=None)
@given(bars=bars_frames(max_bars=8), strategy=strategy_space(ladder, skew_bps=(-20.0, -1.0)))
@keep_failures()
def skew_of(bars, strategy):
    """A deliberately failing property (the skew's sign is wrong in every drawn ladder)."""
    assert_skew_reduces_inventory(strategy, bars)


@settings(max_examples=5, database=None, phases=[Phase.generate])
@given(bars=bars_frames(max_bars=3))
@keep_failures()
def always_fails(bars):
    raise AssertionError("deliberately")


def test_keep_failures_saves_the_shrunk_market_and_replay_runs_the_test_again(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("MMSIM_SAVE_FAILURES", str(tmp_path))
    with pytest.raises(AssertionError) as info:
        skew_of()
    path = tmp_path / "skew_of.parquet"
    assert f"failing market saved to {path}" in "\n".join(info.value.__notes__)
    case = load_case(path)
    assert case.meta["kind"] == "test" and case.meta["test"]["function"] == f"{__name__}:skew_of"
    assert case.meta["args"]["strategy"]["__call__"] == "mmsim.testing.fixtures:ladder"
    assert case.market is not None and case.regenerate().equals(case.bars)
    assert case.bars["ts"].n_unique() <= 2  # shrunk to the smallest market that fails
    with pytest.raises(AssertionError, match="skew_reduces_inventory") as again:
        replay(path)
    assert f"replayed from {path}" in again.value.__notes__
    assert sorted(tmp_path.iterdir()) == [path]  # the replay did not save a second case
    fixed = replay(path, strategy=ladder(skew_bps=2.0))  # after the fix, the kept case passes
    assert fixed.path == path


def test_keep_failures_without_a_folder_saves_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv("MMSIM_SAVE_FAILURES", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(AssertionError, match="deliberately") as info:
        always_fails()
    assert not any("saved" in note for note in getattr(info.value, "__notes__", []))
    assert list(tmp_path.iterdir()) == []


def test_strategy_properties_save_a_failing_property_case_that_replays(tmp_path):
    suite = strategy_properties(
        ladder,
        params={"skew_bps": (-20.0, -1.0)},
        properties=["skew_reduces_inventory"],
        max_examples=20,
        save_failures=str(tmp_path),
    )
    with pytest.raises(AssertionError, match="skew_reduces_inventory"):
        suite().test_skew_reduces_inventory()
    path = tmp_path / "ladder-skew_reduces_inventory.parquet"
    case = load_case(path)
    assert case.meta["property"] == "skew_reduces_inventory"
    assert case.meta["run"]["risk"]["__call__"] == "mmsim.core.risk:basic_risk"
    with pytest.raises(AssertionError, match="the quotes must not rise as the position grows"):
        replay(path)
    replay(path, strategy=ladder(skew_bps=1.0))


def test_an_argument_that_could_not_be_saved_must_be_given_to_replay(tmp_path):
    bars = SPEC.bars()
    hand_made = mmsim.RiskRule("mine", lambda: None, lambda s, i: (s, mmsim.RiskDecision(i.orders)))
    path = save_property_case(
        tmp_path / "c.parquet", "bid_below_ask", mmsim.fixed_spread(), bars, risk=hand_made
    )
    assert (
        json.loads(json.dumps(load_case(path).meta))["strategy"]["__call__"]
        == "mmsim.strategies.fixed_spread:fixed_spread"
    )
    with pytest.raises(
        CaseError, match=r"argument 'risk' \(RiskRule\(name='mine'.*pass it to replay"
    ):
        replay(path)
    replay(path, risk=hand_made)
    kept = save_property_case(
        tmp_path / "d.parquet",
        "bid_below_ask",
        mmsim.fixed_spread(),
        bars,
        risk=recorded(mmsim.basic_risk, max_leverage=2.0),
    )
    replay(kept)


def test_resolve_imports_by_file_when_the_module_is_not_importable(tmp_path):
    source = tmp_path / "elsewhere.py"
    source.write_text("def answer():\n    return 42\n")
    assert resolve("not_a_module_anywhere:answer", str(source))() == 42
    with pytest.raises(ImportError):
        resolve("not_a_module_anywhere:answer")
