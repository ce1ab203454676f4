"""The Result value: its summary (and a fast run's per-bar frames) is computed once, on first
read; its config, like a bar's features, is read-only yet serialises, pickles and copies as
plain dicts."""

from __future__ import annotations

import copy
import json
import pickle

import attrs
import polars as pl
import pytest

import mmsim
import mmsim.core.backtest
from mmsim.core.bars import Bar


@pytest.fixture(scope="module")
def bars():
    return mmsim.synthetic_bars(("BTCUSDT", "ETHUSDT"), days=0.1, interval="1m", seed=3)


def run(bars, engine="auto"):
    return mmsim.backtest(
        bars, mmsim.fixed_spread(half_spread_bps=3.0), initial_cash=20_000.0, engine=engine
    )


def counted(monkeypatch, module, name: str) -> list:
    """Calls of `module.name` from now on, counted."""
    calls = []
    original = getattr(module, name)

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, counting)
    return calls


def test_the_summary_is_computed_on_first_read_and_only_once(bars, monkeypatch):
    calls = counted(monkeypatch, mmsim.core.backtest, "summarize")
    result = run(bars, "reference")
    assert calls == []  # a run whose summary nobody reads never computes it
    first = result.summary
    assert result.summary is first and calls == [1]
    assert set(first["symbol"]) == {"BTCUSDT", "ETHUSDT", "TOTAL"}


def test_a_fast_run_builds_its_per_bar_frames_and_summary_on_first_read_only(bars, monkeypatch):
    """The fast path keeps the kernel's tables and builds the equity and symbols frames, and
    the summary (from the tables, not the frames), when first read."""
    import mmsim.fast.backtest
    import mmsim.fast.summary

    calls = {
        name: counted(monkeypatch, module, name)
        for module, name in (
            (mmsim.fast.backtest, "equity_frame"),
            (mmsim.fast.backtest, "symbol_frame"),
            (mmsim.fast.summary, "fast_summary"),
        )
    }
    result = run(bars, "fast")
    text = repr(result)  # says what the run was without building anything
    assert all(c == [] for c in calls.values())
    assert text == (
        f"Result(symbols=['BTCUSDT', 'ETHUSDT'], symbol_bars={bars.height}, "
        f"fills={result.fills.height}, engine='fast', halted=None)"
    )
    summary = result.summary
    assert calls["fast_summary"] == [1] and calls["equity_frame"] == calls["symbol_frame"] == []
    equity = result.equity
    assert result.equity is equity and calls["equity_frame"] == [1]
    assert calls["symbol_frame"] == []
    symbols = result.symbols
    assert result.symbols is symbols and calls["symbol_frame"] == [1]
    assert result.summary is summary and calls["fast_summary"] == [1]
    assert equity.height == symbols.height / 2 == bars.height / 2


@pytest.mark.parametrize("engine", ["reference", "fast"])
def test_frames_and_summary_survive_pickling_unread_and_read(bars, engine):
    read = run(bars, engine)
    back = pickle.loads(pickle.dumps(run(bars, engine)))
    for name in ("summary", "equity", "symbols", "fills", "rejections", "events", "posted"):
        assert getattr(back, name).equals(getattr(read, name)), name
    again = pickle.loads(pickle.dumps(read))  # and once every frame is built
    for name in ("summary", "equity", "symbols"):
        assert getattr(again, name).equals(getattr(read, name)), name


def test_the_config_is_read_only_at_every_depth(bars):
    config = run(bars).config
    for change in (
        lambda: config.__setitem__("initial_cash", 1.0),
        lambda: config.update(initial_cash=1.0),
        lambda: config.pop("venue"),
        lambda: config["venue"].__setitem__("maker_fee", 0.0),
        lambda: config["symbols"].append("XRPUSDT"),
        lambda: config["strategies"]["BTCUSDT"]["params"].clear(),
    ):
        with pytest.raises(TypeError, match="read-only"):
            change()
    assert config["initial_cash"] == 20_000.0 and config["symbols"] == ["BTCUSDT", "ETHUSDT"]


def test_a_read_only_config_still_serialises_pickles_and_copies_as_dicts(bars, tmp_path):
    result = run(bars)
    as_json = json.loads(json.dumps(result.config, default=str))
    assert as_json == result.config and as_json["venue"] == dict(result.config["venue"])
    back = pickle.loads(pickle.dumps(result.config))
    assert back == result.config
    with pytest.raises(TypeError):
        back["venue"]["taker_fee"] = 0.0
    assert copy.deepcopy(result.config) == result.config
    loaded = mmsim.load_result(result.save(tmp_path / "run", report=False))
    assert loaded.config == as_json
    with pytest.raises(TypeError):
        loaded.config["symbols"][0] = "XRPUSDT"
    # a new config is a new value: evolve builds it, and it is read-only too
    evolved = attrs.evolve(result, config={**result.config, "note": "again"})
    assert evolved.config["note"] == "again" and "note" not in result.config
    with pytest.raises(TypeError):
        evolved.config["note"] = "changed"


def test_a_bars_features_are_read_only():
    bar = Bar("BTCUSDT", 0, 1.0, 1.0, 1.0, 1.0, 1.0, features={"vol": 0.01})
    with pytest.raises(TypeError, match="read-only"):
        bar.features["vol"] = 0.02
    with pytest.raises(TypeError, match="read-only"):
        bar.features.setdefault("signal", 1.0)
    assert bar.features == {"vol": 0.01} and Bar("X", 0, 1, 1, 1, 1, 1).features == {}
    assert pickle.loads(pickle.dumps(bar)).features == {"vol": 0.01}


def test_the_fold_hands_strategies_read_only_features():
    seen = []

    def quote(inputs):
        try:
            inputs.bar.features["sma"] = 0.0
        except TypeError:
            seen.append(dict(inputs.bar.features))
        return mmsim.Quotes()

    sma = mmsim.Feature("sma", pl.col("close").rolling_mean(3))
    strategy = mmsim.stateless("peek", quote, features=(sma,))
    bars = mmsim.synthetic_bars(("BTCUSDT",), days=0.01, interval="1m", seed=1)
    mmsim.backtest(bars, strategy)
    assert len(seen) == bars.height and "sma" in seen[-1]
