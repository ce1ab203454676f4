"""An embedded, seeded synthetic perpetuals market so `mmsim run` works with no data at hand.

Model (per bar of `interval`, 365-day year):
- log-volatility of each symbol follows an AR(1) (half-life one day) driven by a factor common
  to all symbols (weight 0.7) and its own noise: sigma_t = sigma_annual * exp(nu*x_t - nu^2/2);
- each bar is `substeps` Brownian steps of the log price; the shocks load on one common market
  factor (correlation `correlation` between symbols) and carry the Ito drift -sigma^2/2;
- open = previous close, close = last substep, high / low = extremes of the substep path, all
  rounded to the symbol's tick (rounding is monotone, so OHLC stays consistent);
- volume (base units) is log-normal and grows with the bar's absolute return;
- taker_buy_volume: a share of volume leaning with the bar's direction;
- funding_rate: non-zero at 00:00, 08:00 and 16:00 UTC bars (about 0.01% with noise), else 0.
The same arguments always give the same frame, byte for byte.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from mmsim.core.clock import parse_duration_us
from mmsim.core.params import (
    between,
    check_value,
    flag,
    non_negative,
    positive,
    whole,
)
from mmsim.core.venue import infer_tick_size

# start price, annual volatility, typical volume per minute (base units)
_PROFILES = {
    "BTCUSDT": (60_000.0, 0.55, 40.0),
    "ETHUSDT": (3_000.0, 0.70, 600.0),
    "SOLUSDT": (150.0, 0.90, 8_000.0),
    "BNBUSDT": (550.0, 0.60, 1_500.0),
}
_DEFAULT_PROFILE = (100.0, 0.80, 20_000.0)
_YEAR_S = 365 * 86_400


def _ar1(shocks: np.ndarray, phi: float) -> np.ndarray:
    out = np.empty_like(shocks)
    scale = np.sqrt(1.0 - phi * phi)
    x = 0.0
    for i, e in enumerate(shocks.tolist()):
        x = phi * x + scale * e
        out[i] = x
    return out


def synthetic_bars(
    symbols: tuple[str, ...] | list[str] = ("BTCUSDT", "ETHUSDT"),
    *,
    days: float = 30,
    interval: str = "1m",
    seed: int = 7,
    start: str | dt.date | dt.datetime = "2024-01-01",
    correlation: float = 0.8,
    vol_of_vol: float = 0.5,
    substeps: int = 8,
    funding: bool = True,
) -> pl.DataFrame:
    """A seeded multi-symbol OHLCV frame in mmsim's bars layout (see module docstring).

    Raises ValueError naming the argument that is out of range or of the wrong type.
    """
    if isinstance(symbols, str) or not all(isinstance(s, str) for s in symbols):
        raise ValueError(
            f"symbols must be a list of symbol names such as ['BTCUSDT'], got {symbols!r}"
        )
    symbols = tuple(symbols)
    if not symbols or len(set(symbols)) != len(symbols):
        raise ValueError(f"symbols must be distinct and non-empty, got {symbols!r}")
    check_value("days", days, positive)
    check_value("correlation", correlation, between(0.0, 1.0, closed="left"))
    check_value("vol_of_vol", vol_of_vol, non_negative)
    check_value("seed", seed, whole(0))
    check_value("substeps", substeps, whole(1))
    check_value("funding", funding, flag)
    try:
        step_us = parse_duration_us(interval)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"interval: {exc}") from None
    try:
        when = dt.datetime.fromisoformat(start) if isinstance(start, str) else start
    except ValueError:
        when = None
    if type(when) is dt.date:  # a TOML date
        when = dt.datetime.combine(when, dt.time())
    if not isinstance(when, dt.datetime):
        raise ValueError(f"start must be an ISO date-time or a datetime, got {start!r}")
    start = when
    n = int(days * 86_400e6 // step_us)
    if n < 2:
        raise ValueError(f"{days} days of {interval} bars is fewer than 2 bars")
    start = (
        start.replace(tzinfo=None)
        if start.tzinfo is None
        else start.astimezone(dt.timezone.utc).replace(tzinfo=None)
    )
    epoch_s = int((start - dt.datetime(1970, 1, 1)).total_seconds())
    dt_year = step_us / 1e6 / _YEAR_S
    phi = 0.5 ** (step_us / 86_400e6)  # log-vol half-life of one day

    rng = np.random.default_rng(seed)
    common_vol = rng.standard_normal(n)
    common_ret = rng.standard_normal((n, substeps))
    ts = np.datetime64(start, "us") + np.arange(n) * np.timedelta64(step_us, "us")
    frames = []
    for symbol in symbols:
        price0, sigma_annual, volume0 = _PROFILES.get(symbol, _DEFAULT_PROFILE)
        tick = infer_tick_size(price0)
        decimals = max(0, -int(np.floor(np.log10(tick))))
        x = _ar1(0.7 * common_vol + np.sqrt(1 - 0.49) * rng.standard_normal(n), phi)
        sigma = sigma_annual * np.exp(vol_of_vol * x - vol_of_vol**2 / 2)
        z = correlation**0.5 * common_ret + (1 - correlation) ** 0.5 * rng.standard_normal(
            (n, substeps)
        )
        var_sub = (sigma**2 * dt_year / substeps)[:, None]
        steps = np.sqrt(var_sub) * z - var_sub / 2
        path = np.log(price0) + np.cumsum(steps.ravel()).reshape(n, substeps)
        log_open = np.concatenate(([np.log(price0)], path[:-1, -1]))
        prices = np.exp(np.column_stack([log_open, path]))
        rounded = np.round(np.round(prices / tick) * tick, decimals)
        bar_ret = path[:, -1] - log_open
        size = np.abs(bar_ret) / (sigma * np.sqrt(dt_year))
        volume = (
            volume0 * (step_us / 60e6) * np.exp(0.5 * rng.standard_normal(n) - 0.125) * (0.5 + size)
        )
        buy_share = np.clip(
            0.5
            + 0.25 * np.tanh(bar_ret / (sigma * np.sqrt(dt_year)))
            + 0.05 * rng.standard_normal(n),
            0,
            1,
        )
        columns = {
            "ts": ts,
            "symbol": [symbol] * n,
            "open": rounded[:, 0],
            "high": rounded.max(axis=1),
            "low": rounded.min(axis=1),
            "close": rounded[:, -1],
            "volume": np.round(volume, 6),
            "taker_buy_volume": np.round(volume * buy_share, 6),
        }
        if funding:
            seconds = (np.arange(n) * step_us // 1_000_000 + epoch_s) % 86_400
            at_funding = (seconds % 28_800) < (step_us // 1_000_000)
            rate = np.round(0.0001 + 0.00005 * rng.standard_normal(n), 8)
            columns["funding_rate"] = np.where(at_funding, rate, 0.0)
        frames.append(pl.DataFrame(columns))
    return (
        pl.concat(frames)
        .with_columns(pl.col("ts").cast(pl.Datetime("us")))
        .sort("ts", "symbol", maintain_order=True)
    )
