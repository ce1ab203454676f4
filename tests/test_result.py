"""The Result value: its summary is computed once, on first read, and survives pickling unread."""

from __future__ import annotations

import pickle

import pytest

import mmsim
import mmsim.core.backtest
from mmsim.results.metrics import summarize


@pytest.fixture(scope="module")
def bars():
    return mmsim.synthetic_bars(("BTCUSDT", "ETHUSDT"), days=0.1, interval="1m", seed=3)


def run(bars):
    return mmsim.backtest(bars, mmsim.fixed_spread(half_spread_bps=3.0), initial_cash=20_000.0)


def test_the_summary_is_computed_on_first_read_and_only_once(bars, monkeypatch):
    calls = []

    def counting(*args, **kwargs):
        calls.append(1)
        return summarize(*args, **kwargs)

    monkeypatch.setattr(mmsim.core.backtest, "summarize", counting)
    result = run(bars)
    assert calls == []  # a run whose summary nobody reads never computes it
    first = result.summary
    assert result.summary is first and calls == [1]
    assert set(first["symbol"]) == {"BTCUSDT", "ETHUSDT", "TOTAL"}


def test_an_unread_summary_survives_pickling(bars):
    read = run(bars)
    back = pickle.loads(pickle.dumps(run(bars)))
    assert back.summary.equals(read.summary)
    assert back.fills.equals(read.fills)
