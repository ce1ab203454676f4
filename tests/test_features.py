"""Features: each estimator against a plain-Python reference, causality, and user features."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl
import pytest
from data_support import real
from hypothesis import given, settings
from hypothesis import strategies as st

import mmsim
from mmsim.core.orders import Quotes
from mmsim.data import features as F
from mmsim.data.features import (
    Feature,
    add_features,
    feature,
    register_feature,
    registered_features,
)

T0 = dt.datetime(2024, 1, 1)


def _bars_from_rows(rows_by_symbol: dict[str, list[tuple]]) -> pl.DataFrame:
    """rows: (log return, up, down, volume, buy share) -> consistent OHLCV per symbol, 1m apart."""
    frames = []
    for symbol, rows in rows_by_symbol.items():
        price = 100.0
        out = []
        for k, (ret, up, down, volume, share) in enumerate(rows):
            open_, close = price, price * math.exp(ret)
            high = max(open_, close) * math.exp(up)
            low = min(open_, close) * math.exp(-down)
            out.append(
                (
                    T0 + dt.timedelta(minutes=k),
                    symbol,
                    open_,
                    high,
                    low,
                    close,
                    volume,
                    volume * share,
                )
            )
            price = close
        frames.append(
            pl.DataFrame(
                out,
                orient="row",
                schema=[
                    "ts",
                    "symbol",
                    "open",
                    "high",
                    "low",
                    "close",
                    "volume",
                    "taker_buy_volume",
                ],
            )
        )
    return pl.concat(frames).with_columns(pl.col("ts").cast(pl.Datetime("us"))).sort("ts", "symbol")


row = st.tuples(
    st.floats(-0.05, 0.05, allow_nan=False),
    st.floats(0, 0.02, allow_nan=False),
    st.floats(0, 0.02, allow_nan=False),
    st.one_of(st.just(0.0), st.floats(0.001, 1e6, allow_nan=False)),
    st.floats(0, 1, allow_nan=False),
)


def small_set() -> list[Feature]:
    """Every registered feature with short windows (so values exist within a few bars)."""
    made = [
        F.volatility(3),
        F.ewma_volatility(2),
        F.parkinson_volatility(3),
        F.garman_klass_volatility(3),
        F.atr(3),
        F.natr(3),
        F.sma_deviation(3),
        F.ema_deviation(3),
        F.momentum(2),
        F.hl_range(2),
        F.taker_imbalance(2),
        F.relative_volume(3),
        F.annualized(F.parkinson_volatility(2), "1m"),
    ]
    kinds = {f.name.rsplit("_", 1)[0] for f in made}
    assert {k for k in registered_features() if not k.startswith("test_")} <= kinds | {"volatility"}
    return made


@settings(max_examples=100)
@given(
    data=st.data(),
    n=st.integers(2, 30),
)
def test_no_feature_at_bar_t_changes_when_later_bars_change(data, n):
    """Replacing every bar after t (in any symbol) leaves every feature at bars <= t unchanged."""
    rows = {s: data.draw(st.lists(row, min_size=n, max_size=n)) for s in ("BTCUSDT", "ETHUSDT")}
    cut = data.draw(st.integers(0, n - 1))
    future = {s: data.draw(st.lists(row, min_size=n - cut - 1, max_size=n - cut - 1)) for s in rows}
    original = _bars_from_rows(rows)
    changed = _bars_from_rows({s: rows[s][: cut + 1] + future[s] for s in rows})
    feats = small_set()
    names = [f.name for f in feats]
    limit = T0 + dt.timedelta(minutes=cut)
    before = (
        add_features(original, feats).filter(pl.col("ts") <= limit).select("ts", "symbol", *names)
    )
    after = (
        add_features(changed, feats).filter(pl.col("ts") <= limit).select("ts", "symbol", *names)
    )
    assert before.equals(after, null_equal=True)


# --- each estimator against a reference -------------------------------------------------------


@pytest.fixture(scope="module")
def two_symbols():
    return mmsim.synthetic_bars(
        ("BTCUSDT", "ETHUSDT"), days=0.2, interval="1m", seed=4, funding=False
    )


def per_symbol(frame: pl.DataFrame, symbol: str) -> dict[str, np.ndarray]:
    one = frame.filter(pl.col("symbol") == symbol)
    return {c: one[c].to_numpy().astype(float) for c in one.columns if c not in ("ts", "symbol")}


def rolling(values: np.ndarray, window: int, fn) -> np.ndarray:
    out = np.full(len(values), np.nan)
    for t in range(window - 1, len(values)):
        chunk = values[t - window + 1 : t + 1]
        if not np.isnan(chunk).any():
            out[t] = fn(chunk)
    return out


def ewm(values: np.ndarray, alpha: float, min_samples: int) -> np.ndarray:
    """adjust=False EWM over the non-NaN values, seeded by the first one."""
    out, level, seen = np.full(len(values), np.nan), None, 0
    for t, x in enumerate(values):
        if np.isnan(x):
            continue
        level = x if level is None else (1 - alpha) * level + alpha * x
        seen += 1
        if seen >= min_samples:
            out[t] = level
    return out


def references(b: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    o, h, l, c, v, tb = (
        b["open"],
        b["high"],
        b["low"],
        b["close"],
        b["volume"],
        b["taker_buy_volume"],
    )
    r = np.concatenate([[np.nan], np.diff(np.log(c))])
    prev = np.concatenate([[np.nan], c[:-1]])
    tr = np.nanmax(np.vstack([h - l, np.abs(h - prev), np.abs(l - prev)]), axis=0)
    hl2 = np.log(h / l) ** 2
    gk = 0.5 * hl2 - (2 * math.log(2) - 1) * np.log(c / o) ** 2
    ema = ewm(c, 2 / (20 + 1), 20)
    vol_sum = rolling(v, 5, np.sum)
    return {
        "volatility_30": rolling(r, 30, lambda x: np.std(x, ddof=1)),
        "ewma_volatility_10": np.sqrt(ewm(r**2, 1 - math.exp(-math.log(2) / 10), 10)),
        "parkinson_volatility_30": np.sqrt(rolling(hl2, 30, np.mean) / (4 * math.log(2))),
        "garman_klass_volatility_30": np.sqrt(rolling(gk, 30, np.mean)),
        "atr_14": ewm(tr, 1 / 14, 14),
        "natr_14": ewm(tr, 1 / 14, 14) / c,
        "sma_deviation_20": c / rolling(c, 20, np.mean) - 1,
        "ema_deviation_20": c / ema - 1,
        "momentum_15": np.concatenate([[np.nan] * 15, np.log(c[15:] / c[:-15])]),
        "hl_range_5": rolling(np.log(h / l), 5, np.mean),
        "taker_imbalance_5": (2 * rolling(tb, 5, np.sum) - vol_sum) / vol_sum,
        "relative_volume_30": v / rolling(v, 30, np.mean),
    }


def windowed(frame: pl.DataFrame, feats: list[Feature]) -> pl.DataFrame:
    """Each feature evaluated over each symbol's window in time order (NaN -> null)."""
    return frame.with_columns(
        f.expr.over("symbol", order_by="ts").cast(pl.Float64).fill_nan(None).alias(f.name)
        for f in feats
    )


@settings(max_examples=50)
@given(rows=st.lists(row, min_size=1, max_size=40), order=st.randoms(use_true_random=False))
def test_one_symbol_gives_exactly_its_window_in_or_out_of_time_order(rows, order):
    """A one-symbol frame in time order is evaluated without the window (it is its own): the
    same values to the bit; out of time order it still gets the window."""
    bars = _bars_from_rows({"BTCUSDT": rows})
    feats = small_set()
    assert add_features(bars, feats).equals(windowed(bars, feats))
    shuffled = bars.with_row_index("i").sample(fraction=1.0, shuffle=True, seed=order.randrange(99))
    assert add_features(shuffled, feats).equals(windowed(shuffled, feats))


def test_every_estimator_matches_its_reference_per_symbol(two_symbols):
    feats = [
        F.volatility(30),
        F.ewma_volatility(10),
        F.parkinson_volatility(30),
        F.garman_klass_volatility(30),
        F.atr(14),
        F.natr(14),
        F.sma_deviation(20),
        F.ema_deviation(20),
        F.momentum(15),
        F.hl_range(5),
        F.taker_imbalance(5),
        F.relative_volume(30),
    ]
    out = add_features(two_symbols, feats)
    for symbol in ("BTCUSDT", "ETHUSDT"):
        got = per_symbol(out, symbol)
        want = references(got)
        for name, expected in want.items():
            actual = got[name]
            assert np.array_equal(np.isnan(actual), np.isnan(expected)), name
            ok = ~np.isnan(expected)
            assert ok.sum() > 100, name
            np.testing.assert_allclose(
                actual[ok], expected[ok], rtol=1e-9, atol=1e-15, err_msg=name
            )


def test_volatility_estimators_agree_on_a_random_walk():
    """On Brownian bars all four estimators measure the same per-bar sigma (here 55%/yr at 1m)."""
    bars = mmsim.synthetic_bars(
        ("BTCUSDT",), days=20, interval="1m", seed=9, vol_of_vol=0.0, substeps=64
    )
    per_bar = 0.55 / F.annualization_factor("1m")
    feats = [
        F.volatility(5000),
        F.ewma_volatility(2000),
        F.parkinson_volatility(5000),
        F.garman_klass_volatility(5000),
    ]
    last = add_features(bars, feats).row(-1, named=True)
    for f in feats:
        # high/low from 64 sub-steps understate the true range a little: within 15%
        assert last[f.name] == pytest.approx(per_bar, rel=0.15), f.name


def test_taker_imbalance_is_null_on_zero_volume_and_bounded():
    rows = [
        (0.001, 0.001, 0.001, 0.0, 0.5),
        (0.001, 0.001, 0.001, 10.0, 1.0),
        (0.0, 0.001, 0.001, 10.0, 0.0),
    ]
    out = add_features(_bars_from_rows({"X": rows}), [F.taker_imbalance(1)])
    assert out["taker_imbalance_1"].to_list() == [None, 1.0, -1.0]


def test_real_dump_order_flow_feature_is_bounded():
    bars = mmsim.read_binance_klines(
        real("owlacar_isda__binance_usdm_futures_1m_dump", "FILUSDT-1m-2024-10.csv")
    )
    out = add_features(bars, [F.taker_imbalance(15), F.natr(14)])
    imb = out["taker_imbalance_15"].drop_nulls()
    assert imb.len() > 44_000 and imb.min() >= -1 and imb.max() <= 1
    assert 0 < out["natr_14"].drop_nulls().median() < 0.01


def test_annualization_uses_a_365_day_year():
    assert F.annualization_factor("1m") == pytest.approx(math.sqrt(525_600))
    assert F.annualization_factor("1d") == pytest.approx(math.sqrt(365))
    scaled = F.annualized(F.volatility(10), "1h")
    assert scaled.name == "volatility_10_annual"


def test_a_feature_needing_a_missing_column_says_which(two_symbols):
    ccxt_like = two_symbols.drop("taker_buy_volume")
    with pytest.raises(
        ValueError, match=r"'taker_imbalance_1' reads column\(s\) \['taker_buy_volume'\]"
    ):
        add_features(ccxt_like, [F.taker_imbalance()])


def test_bad_windows_are_refused():
    for make in (F.atr, F.momentum, F.sma_deviation, F.relative_volume):
        with pytest.raises(ValueError, match="window must be an integer >= 1"):
            make(0)
    with pytest.raises(ValueError, match="must be >= 2"):
        F.volatility(1)


# --- user features --------------------------------------------------------------------------


def test_registered_features_build_by_name_and_refuse_duplicates():
    assert feature("atr", window=5).name == "atr_5"
    with pytest.raises(ValueError, match="unknown feature 'nope'; known: atr"):
        feature("nope")

    @register_feature("test_close_over_open")
    def close_over_open(*, window: int = 1) -> Feature:
        return Feature(
            f"close_over_open_{window}",
            (pl.col("close") / pl.col("open")).log().rolling_sum(window),
        )

    assert "test_close_over_open" in registered_features()
    assert feature("test_close_over_open", window=3).name == "close_over_open_3"
    with pytest.raises(ValueError, match="already registered"):
        register_feature("test_close_over_open", lambda: F.atr())
    register_feature("test_close_over_open", close_over_open)  # the same factory again is fine
    with pytest.raises(TypeError, match="returned int, not a Feature"):
        register_feature("test_bad", lambda: 3)
        feature("test_bad")


def test_a_strategy_reads_its_own_feature_and_any_extra_column(two_symbols):
    """The strategy publishes what it read as its reservation price; the result records it."""
    mine = Feature("range_x100", (pl.col("high") / pl.col("low")).log().rolling_mean(3) * 100)

    def quote(inputs):
        value = inputs.bar.features["range_x100"]
        return Quotes(bids=(), asks=(), reservation_price=None if value is None else value)

    reader = mmsim.stateless("reader", quote, features=(mine,))
    result = mmsim.backtest(two_symbols, reader)
    expected = add_features(two_symbols, [mine]).select(
        "ts", pl.col("symbol").cast(pl.String), "range_x100"
    )
    got = result.symbols.select("ts", "symbol", "reservation_price").join(
        expected, on=["ts", "symbol"]
    )
    assert got.height == two_symbols.height
    assert got["reservation_price"].equals(got["range_x100"], check_names=False, null_equal=True)

    def taker(inputs):
        return Quotes(bids=(), asks=(), reservation_price=inputs.bar.features["taker_buy_volume"])

    result = mmsim.backtest(two_symbols, mmsim.stateless("taker", taker))
    assert (
        result.symbols.sort("ts", "symbol")["reservation_price"].to_list()
        == two_symbols["taker_buy_volume"].to_list()
    )


def test_nan_becomes_null_in_the_features_that_make_one_and_nowhere_else():
    bars = mmsim.synthetic_bars(("AAAUSDT", "BBBUSDT"), days=0.02, seed=4)
    some_nan = F.Feature("some_nan", (pl.col("close") - pl.col("close").shift(1)).sqrt())
    plain = F.Feature("plain", pl.col("close").rolling_mean(3))
    out = F.add_features(bars.with_columns(kept=pl.lit(float("nan"))), [some_nan, plain])
    falls = bars.select((pl.col("close").diff() < 0).over("symbol").sum()).item()
    assert falls > 0 and out["some_nan"].is_nan().sum() == 0
    assert out["some_nan"].null_count() == falls + 2  # each symbol's first bar has no change
    expected = bars.select(pl.col("close").rolling_mean(3).over("symbol", order_by="ts"))
    assert out["plain"].equals(expected.to_series().alias("plain"), null_equal=True)
    assert out["kept"].is_nan().all()  # a column of the bars is not a feature: left as it is
