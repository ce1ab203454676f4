"""The compiled fast path gives the reference engine's frames: identical fills (ts, symbol,
side, price, qty, fee, liquidity, reason, level) and every frame equal to 1e-9 relative, over
generated markets (gaps, flash crashes, zero volume), venues, risk rule sets, account sizes
and each built-in strategy's parameter space, with trade-through and intensity matching."""

from __future__ import annotations

import os
import subprocess
import sys

import attrs
import polars as pl
import pytest
from conftest import scaled
from hypothesis import given
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import mmsim
from mmsim.fast import cache
from mmsim.testing import has_gaps
from mmsim.testing.markets import cash, market_specs, risk_rules, venues
from mmsim.testing.params import strategy_space
from mmsim.testing.suite import backtest_settings

FRAMES = ("fills", "equity", "symbols", "rejections", "events", "posted", "summary")
FILL_KEYS = ("ts", "symbol", "side", "price", "qty", "fee", "liquidity", "reason", "level")

VALUE = st.floats(50, 50_000)
MAKERS = {
    "fixed_spread": strategy_space(
        mmsim.fixed_spread, half_spread_bps=st.floats(0.5, 200), order_value=VALUE
    ),
    "avellaneda_stoikov": strategy_space(
        mmsim.avellaneda_stoikov,
        gamma=st.floats(1e-5, 0.1),
        kappa=st.floats(0.01, 5),
        horizon=st.sampled_from(["10m", "1h", "1d", "inf"]),
        order_value=VALUE,
        vol_window=st.integers(2, 10),
        calibration_window=st.none(),
    ),
    "glft": strategy_space(
        mmsim.glft,
        gamma=st.floats(1e-4, 0.1),
        kappa=st.floats(0.01, 5),
        order_value=VALUE,
        vol_window=st.integers(2, 10),
        calibration_window=st.none(),
    ),
    "mexico": strategy_space(
        mmsim.mexico,
        order_value=VALUE,
        levels=st.integers(1, 4),
        vol_window=st.integers(2, 10),
        ma_window=st.integers(2, 10),
        momentum_window=st.integers(1, 10),
        volume_window=st.integers(1, 10),
        feature_skews=st.sampled_from([(), (("taker_buy_volume", 0.001),)]),
        # skews up to several spacings: inner levels cross the close (clamped or refused)
        spacing_bps=st.floats(0.5, 20),
        momentum_skew_bps=st.floats(0, 500),
        inventory_skew_bps=st.floats(0, 1000),
    ),
}


def assert_same_run(reference: mmsim.Result, fast: mmsim.Result) -> None:
    assert reference.config["engine"]["name"] == "reference"
    assert fast.config["engine"]["name"] == "fast"
    # fills identical: every field exactly
    assert fast.fills.select(FILL_KEYS).rows() == reference.fills.select(FILL_KEYS).rows()
    for name in FRAMES:
        assert_frame_equal(getattr(fast, name), getattr(reference, name), rel_tol=1e-9, abs_tol=0)
    same = {k: v for k, v in reference.config.items() if k != "engine"}
    assert {k: v for k, v in fast.config.items() if k != "engine"} == same


def both(bars, strategies, **kwargs) -> tuple[mmsim.Result, mmsim.Result]:
    return (
        mmsim.backtest(bars, strategies, engine="reference", **kwargs),
        mmsim.backtest(bars, strategies, engine="fast", **kwargs),
    )


@st.composite
def setups(draw, makers, regimes=mmsim.testing.REGIMES):
    spec = draw(market_specs(max_symbols=3, max_bars=40, regimes=regimes), label="market")
    bars = spec.bars()
    per_symbol = {s: draw(makers, label=f"strategy {s}") for s in spec.symbols}
    risk = draw(st.one_of(st.just(mmsim.chain()), risk_rules()), label="risk")
    return dict(
        bars=bars,
        strategies=per_symbol,
        risk=risk,
        venue=attrs.evolve(
            draw(venues(bars=bars), label="venue"),
            post_only=draw(st.sampled_from(["clamp", "reject", False]), label="post_only"),
        ),
        initial_cash=draw(cash(), label="initial_cash"),
        allow_gaps=has_gaps(bars),
    )


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_fast_equals_reference(name):
    @given(setups(MAKERS[name]))
    @backtest_settings(max_examples=scaled(60))
    def check(setup):
        assert_same_run(*both(setup.pop("bars"), setup.pop("strategies"), **setup))

    check()


@given(setups(st.one_of(*MAKERS.values())))
@backtest_settings(max_examples=scaled(60))
def test_fast_equals_reference_mixed_strategies(setup):
    assert_same_run(*both(setup.pop("bars"), setup.pop("strategies"), **setup))


@given(setups(st.one_of(MAKERS["fixed_spread"], MAKERS["avellaneda_stoikov"])), st.data())
@backtest_settings(max_examples=scaled(40))
def test_fast_equals_reference_with_intensity_fills(setup, data):
    bars = mmsim.add_uniform_draws(setup.pop("bars"), seed=data.draw(st.integers(0, 99)))
    matching = mmsim.intensity_matching(
        A=data.draw(st.floats(0.05, 5.0)),
        kappa=data.draw(st.floats(0.01, 2.0)),
        probability=data.draw(st.sampled_from(["linear", "poisson"])),
        units=data.draw(st.sampled_from(["bps", "price"])),
    )
    assert_same_run(*both(bars, setup.pop("strategies"), matching=matching, **setup))


def test_auto_takes_the_fast_path_and_says_why():
    bars = mmsim.testing.MarketSpec((mmsim.testing.SymbolPath("AAAUSDT"),), n_bars=30).bars()
    # compiles the kernels (the fold, then the summary pass when the summary is read) when the
    # cache is cold (CI compiles them before the suite): auto takes them once they are
    # compiled, whatever the run's size
    mmsim.backtest(bars, mmsim.fixed_spread(), engine="fast").summary  # noqa: B018
    assert cache.kernels_cached()
    for post_only in ("clamp", "reject", False):  # the default venue clamps
        venue = mmsim.Venue(post_only=post_only)
        result = mmsim.backtest(bars, mmsim.fixed_spread(), risk=mmsim.basic_risk(), venue=venue)
        assert result.config["engine"]["name"] == "fast"
        assert "fixed_spread" in result.config["engine"]["reason"]
    default = mmsim.backtest(bars, mmsim.fixed_spread(), risk=mmsim.basic_risk())
    assert default.config["engine"]["name"] == "fast"


COLD_RUN = """
import sys, mmsim, mmsim.testing
bars = mmsim.testing.MarketSpec((mmsim.testing.SymbolPath("AAAUSDT"),), n_bars=300).bars()
result = mmsim.backtest(bars, mmsim.fixed_spread(), risk=mmsim.basic_risk())
print(result.config["engine"]["name"])
print(result.config["engine"]["reason"])
print("numba imported" if "numba" in sys.modules else "numba not imported")
"""


def test_auto_takes_the_reference_while_the_kernels_are_not_compiled(tmp_path):
    """A fresh install (an empty kernel cache): a small run goes to the reference engine,
    which takes less than compiling the kernels, says so, and never imports numba."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    out = subprocess.run(
        [sys.executable, "-c", COLD_RUN], env=env, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out[0] == "reference"
    assert "fixed_spread" in out[1] and "not compiled yet" in out[1]
    assert "300 symbol-bars" in out[1]
    assert out[2] == "numba not imported"


def test_auto_compiles_the_kernels_for_a_run_longer_than_compiling_them(monkeypatch):
    """With the kernels not compiled, auto weighs the compile time against the reference
    engine's time for the run's symbol-bars."""
    bars = mmsim.testing.MarketSpec((mmsim.testing.SymbolPath("AAAUSDT"),), n_bars=30).bars()
    monkeypatch.setattr(cache, "kernels_cached", lambda: False)
    small = mmsim.backtest(bars, mmsim.fixed_spread())
    assert small.config["engine"]["name"] == "reference"
    # a run whose reference time exceeds the compile time: 30 bars against 1 ms of compiling
    monkeypatch.setattr(cache, "COMPILE_SECONDS", 1e-3)
    large = mmsim.backtest(bars, mmsim.fixed_spread())
    assert large.config["engine"]["name"] == "fast"
    assert large.fills.equals(mmsim.backtest(bars, mmsim.fixed_spread(), engine="reference").fills)


def test_auto_runs_a_users_strategy_on_the_reference():
    bars = mmsim.testing.MarketSpec((mmsim.testing.SymbolPath("AAAUSDT"),), n_bars=30).bars()
    mine = mmsim.stateless("mine", lambda inputs: mmsim.Quotes())
    result = mmsim.backtest(bars, mine)
    assert result.config["engine"] == {
        "name": "reference",
        "reason": "strategy 'mine' has no kernel (a user's own strategy) for AAAUSDT",
    }
    with pytest.raises(ValueError, match="engine='fast' cannot run this backtest"):
        mmsim.backtest(bars, mine, engine="fast")
    custom = mmsim.core.risk.stateless_rule(
        "mine", lambda i: mmsim.core.risk.RiskDecision(i.orders)
    )
    result = mmsim.backtest(bars, mmsim.fixed_spread(), risk=custom)
    assert result.config["engine"]["name"] == "reference"
    assert "risk rule 'mine'" in result.config["engine"]["reason"]


def test_an_invalid_quote_raises_the_reference_error():
    bars = mmsim.testing.MarketSpec((mmsim.testing.SymbolPath("AAAUSDT"),), n_bars=30).bars()
    # each signal is finite (inputs must be); their weighted sum overflows to an infinite skew
    bars = bars.with_columns(signal=pl.lit(1e308), other=pl.lit(1e308))
    strategy = mmsim.mexico(feature_skews={"signal": 1.0, "other": 1.0})
    messages = []
    for engine in ("reference", "fast"):
        with pytest.raises(mmsim.StrategyRunError, match="mexico.*AAAUSDT.*inf") as err:
            mmsim.backtest(bars, strategy, engine=engine, venue=mmsim.Venue(post_only="reject"))
        messages.append(str(err.value))
    assert messages[0] == messages[1]


def test_sweep_rows_are_the_same_on_both_engines():
    bars = mmsim.testing.MarketSpec(
        (mmsim.testing.SymbolPath("AAAUSDT", volatility=0.01, seed=5),), n_bars=120
    ).bars()
    setup = dict(
        strategy=mmsim.avellaneda_stoikov,
        grid={"gamma": [1e-4, 1e-3, 1e-2], "kappa": [0.1, 1.0]},
        params={"vol_window": 5},
        venue={"post_only": "reject"},
        risk={"max_leverage": 2.0, "emergency_drawdown": 0.01},
        executor="inprocess",
    )
    fast = mmsim.sweep(bars, engine="fast", **setup)
    reference = mmsim.sweep(bars, engine="reference", **setup)
    assert (fast["status"] == "ok").all()
    assert_frame_equal(fast.drop("elapsed_s"), reference.drop("elapsed_s"), rel_tol=1e-9)
    with pytest.raises(ValueError, match="engine must be one of"):
        mmsim.sweep(bars, engine="numba", **setup)


@pytest.mark.parametrize("post_only", ["clamp", "reject", False])
def test_quotes_through_the_close_are_placed_alike(post_only):
    # a momentum skew of 50 bps over 0.5 bps spacing puts inner levels through the close
    bars = mmsim.testing.MarketSpec(
        (mmsim.testing.SymbolPath("AAAUSDT", volatility=0.01, seed=5),), n_bars=120
    ).bars()
    strategy = mmsim.mexico(spacing_bps=0.5, momentum_skew_bps=50, levels=3)
    reference, fast = both(bars, strategy, venue=mmsim.Venue(post_only=post_only))
    assert_same_run(reference, fast)
    crossing = {
        "clamp": fast.symbols["clamped"].sum(),
        "reject": fast.rejections.filter(pl.col("reason") == "post_only").height,
        False: 1,
    }[post_only]
    assert crossing > 0


def test_tables_that_fill_up_double_and_stay_equal():
    """More fills than the kernel's first room (a fill every bar): the fill table doubles
    mid-run and the run is still the reference's."""
    bars = mmsim.testing.MarketSpec(
        (mmsim.testing.SymbolPath("AAAUSDT", volatility=0.02, seed=7),), n_bars=200
    ).bars()
    strategy = mmsim.mexico(spacing_bps=0.5, levels=4, order_value=100.0)
    reference, fast = both(bars, strategy)
    assert_same_run(reference, fast)
    assert fast.fills.height > 2 * bars.height  # over twice the first room of 200 rows


@pytest.mark.parametrize(
    "strategy",
    [
        mmsim.avellaneda_stoikov(gamma=1e-4, kappa=0.5, calibration_window=30),
        mmsim.avellaneda_stoikov(
            gamma=0.01, kappa=0.5, horizon="inf", max_inventory=5, calibration_window=30
        ),
        mmsim.glft(gamma=0.01, kappa=0.5, A=2.0, calibration_window=30),
    ],
    ids=["avellaneda_stoikov", "avellaneda_stoikov_inf", "glft"],
)
def test_fast_equals_reference_with_kappa_fitted_bar_by_bar(strategy):
    """A fitted kappa (and A) changes from bar to bar: the terms the kernels keep per parameter
    set are recomputed each time it does, so the quotes follow the fit as the reference's do."""
    bars = mmsim.synthetic_bars(("BTCUSDT", "ETHUSDT"), days=0.5, interval="1m", seed=5)
    reference, fast = both(bars, strategy, risk=mmsim.basic_risk())
    assert_same_run(reference, fast)
    unfitted = attrs.evolve(strategy, params=attrs.evolve(strategy.params, calibration_window=None))
    plain = mmsim.backtest(bars, unfitted, risk=mmsim.basic_risk(), engine="fast")
    assert fast.fills.height > 0
    # the fit moved the quotes: the runs differ (else this would test the unfitted path twice)
    assert not plain.symbols["bid"].equals(fast.symbols["bid"])


HALTING = {
    "liquidation": (mmsim.fixed_spread(half_spread_bps=1.0, order_value=200_000.0), None, 1e3),
    "early stop": (
        mmsim.fixed_spread(half_spread_bps=0.5, order_value=20_000.0),
        mmsim.basic_risk(max_leverage=None, stop_equity_fraction=0.999),
        5e4,
    ),
}


@pytest.mark.parametrize("case", sorted(HALTING))
def test_a_halted_run_at_rest_equals_the_reference_to_its_last_bar(case):
    # once halted with nothing held or pending (an early stop flattens at the next open), the
    # kernel writes the remaining bars at once
    bars = mmsim.synthetic_bars(("BTCUSDT", "ETHUSDT"), days=0.5, interval="1m", seed=3)
    strategy, risk, initial_cash = HALTING[case]
    reference, fast = both(
        bars, strategy, risk=risk or mmsim.chain(), venue=mmsim.Venue(), initial_cash=initial_cash
    )
    assert_same_run(reference, fast)
    halted = fast.equity.filter(pl.col("halted"))
    assert fast.halted and halted.height > 100  # halted well before the end
    # at rest: flat in every symbol and quoting nothing from some bar after the halt to the end
    rest = fast.symbols.filter(pl.col("ts") > halted["ts"][10])
    assert (rest["position"] == 0.0).all() and rest["bid"].is_null().all()
    assert (rest["orders"] == 0).all() and rest["reservation_price"].is_null().all()
