"""Calibration: σ from bars, and A and κ recovered from bars that follow the intensity law."""

import math

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mmsim
from mmsim.research.calibration import (
    CalibrationError,
    calibrate,
    estimate_sigma,
    fit_intensity,
    intensity_bars,
    intensity_features,
    rolling_intensity,
    trade_through,
)

GRID = (0.0, 2.0, 5.0, 10.0, 15.0, 20.0, 30.0, 45.0)


def test_generated_bars_trade_through_with_exactly_the_stated_chance():
    """At every δ the observed frequency is within 4 binomial standard errors of
    1 - exp(-A e^(-κδ)) (a check of the generator the recovery tests rely on)."""
    A, kappa, n = 0.8, 0.1, 20_000
    counts = trade_through(intensity_bars(A=A, kappa=kappa, n=n, seed=11), GRID)
    for row in counts.iter_rows(named=True):
        p = 1 - math.exp(-A * math.exp(-kappa * row["delta_bps"]))
        se = math.sqrt(p * (1 - p) / row["trials"])
        assert abs(row["p_hat"] - p) <= 4 * se + 1e-12, row
    assert counts["trials"].to_list() == [2 * (n - 1)] * len(GRID)


@pytest.mark.parametrize(("true_a", "true_kappa"), [(0.8, 0.1), (2.0, 0.05), (0.3, 0.2)])
@pytest.mark.parametrize("method", ["mle", "wls"])
def test_fit_recovers_A_and_kappa_within_3_percent(true_a, true_kappa, method):
    """20,000 bars (40,000 trials): A and κ within 3% and within 4 of their standard errors."""
    bars = intensity_bars(A=true_a, kappa=true_kappa, n=20_000, seed=5)
    fit = fit_intensity(bars, deltas_bps=GRID, method=method)
    a_hat = fit.A
    assert a_hat == pytest.approx(true_a, rel=0.03)
    assert fit.kappa == pytest.approx(true_kappa, rel=0.03)
    assert abs(fit.A - true_a) <= 4 * fit.A_se and abs(fit.kappa - true_kappa) <= 4 * fit.kappa_se
    assert fit.converged and fit.r_squared > 0.999 and fit.max_abs_z < 4
    assert fit.p(10.0) == pytest.approx(1 - math.exp(-fit.A * math.exp(-fit.kappa * 10)))


def test_quality_flags_a_law_the_bars_do_not_follow():
    """On Brownian bars the excursion law is not exponential in δ: a far worse fit than above."""
    bars = mmsim.synthetic_bars(("ETHUSDT",), days=5, seed=2)
    fit = fit_intensity(bars, deltas_bps=(1, 2, 4, 6, 8, 12, 16, 24))
    assert fit.max_abs_z > 5


def test_unfittable_grid_is_a_clear_error():
    bars = intensity_bars(A=0.5, kappa=0.1, n=500, seed=1)
    with pytest.raises(CalibrationError, match="TESTUSDT: only 0 of 2 grid points"):
        fit_intensity(bars, deltas_bps=(900.0, 1_000.0))


def test_calibrate_reports_every_symbol_with_an_error_column():
    bars = pl.concat(
        [
            intensity_bars(A=0.8, kappa=0.1, n=3_000, seed=1, symbol="AAAUSDT"),
            intensity_bars(A=1.5, kappa=0.3, n=3_000, seed=2, symbol="BBBUSDT"),
        ]
    )
    table = calibrate(bars, deltas_bps=GRID)
    assert table["symbol"].to_list() == ["AAAUSDT", "BBBUSDT"]
    assert table["error"].to_list() == [None, None]
    assert table["kappa"].to_list() == pytest.approx([0.1, 0.3], rel=0.1)
    bad = calibrate(bars, deltas_bps=(5_000.0, 6_000.0))
    assert bad["A"].to_list() == [None, None] and all("grid points" in e for e in bad["error"])


def test_sigma_estimate_on_a_known_random_walk():
    """Log returns with std 10 bps per bar: close-to-close σ within 2% over 20,000 bars."""
    rng = np.random.default_rng(4)
    n = 20_000
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.001, n)))
    opens = np.concatenate([[100.0], close[:-1]])
    bars = pl.DataFrame(
        {
            "ts": np.datetime64("2024-01-01", "us") + np.arange(n) * np.timedelta64(60, "s"),
            "symbol": "X",
            "open": opens,
            "high": np.maximum(opens, close),
            "low": np.minimum(opens, close),
            "close": close,
            "volume": 1.0,
        }
    ).with_columns(pl.col("ts").cast(pl.Datetime("us")))
    row = estimate_sigma(bars).row(0, named=True)
    assert row["sigma_bps"] == pytest.approx(10.0, rel=0.02)
    assert row["sigma_annual"] == pytest.approx(0.001 * math.sqrt(365 * 1440), rel=0.02)
    assert estimate_sigma(bars, method="parkinson")["sigma_bps"][0] > 0


def test_rolling_fit_equals_the_batch_wls_fit_over_the_same_window():
    bars = intensity_bars(A=0.8, kappa=0.1, n=1_200, seed=3)
    window = 500
    rolled = rolling_intensity(bars, window, GRID)
    name_a, name_k = (f.name for f in intensity_features(window, GRID))
    last = rolled.row(-1, named=True)
    # the last value fits the outcomes of the last `window` bars (each vs the previous close)
    batch = fit_intensity(bars.tail(window + 1), deltas_bps=GRID, method="wls")
    assert last[name_a] == pytest.approx(batch.A, rel=1e-9)
    assert last[name_k] == pytest.approx(batch.kappa, rel=1e-9)
    assert rolled[name_k][:window].null_count() == window
    assert rolled[name_k][window:].null_count() == 0


@settings(max_examples=20)
@given(st.integers(60, 399), st.floats(0.5, 2.0))
def test_rolling_fit_has_no_look_ahead(t, scale):
    """Changing every bar after t leaves the rolling A and κ at t (and before) unchanged."""
    bars = intensity_bars(A=0.8, kappa=0.1, n=400, seed=9)
    later = pl.col("ts") > bars["ts"][t]
    changed = bars.with_columns(
        *(
            pl.when(later).then(pl.col(c) * scale).otherwise(pl.col(c)).alias(c)
            for c in ("open", "high", "low", "close")
        )
    )
    a = rolling_intensity(bars, 50, GRID).head(t + 1)
    b = rolling_intensity(changed, 50, GRID).head(t + 1)
    assert a.drop("open", "high", "low", "close").equals(b.drop("open", "high", "low", "close"))


def test_calibrated_strategies_run_in_a_backtest():
    """GLFT reading a rolling (A, κ) fit trades once the fit is ready; AS reads κ."""
    bars = mmsim.synthetic_bars(("BTCUSDT",), days=1, seed=5)
    result = mmsim.backtest(bars, mmsim.glft(calibration_window=240))
    assert result.fills.height > 0
    first_fill = result.fills["ts"].min()
    assert first_fill >= bars["ts"][60]  # after the volatility warm-up
    as_result = mmsim.backtest(bars, mmsim.avellaneda_stoikov(gamma=0.001, calibration_window=240))
    assert as_result.config["strategies"]["BTCUSDT"]["params"]["calibration_window"] == 240


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="deltas_bps"):
        trade_through(intensity_bars(A=1, kappa=0.1, n=10), (5.0,))
    with pytest.raises(ValueError, match="window"):
        intensity_features(3)
    with pytest.raises(ValueError, match="method"):
        estimate_sigma(intensity_bars(A=1, kappa=0.1, n=10), method="garch")
