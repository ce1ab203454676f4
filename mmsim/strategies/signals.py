"""The features the strategy library reads, as named per-symbol Polars expressions.

Each value at bar t uses bars up to t's close only (rolling windows end at t; no shift forward).
Names carry their window so two strategies with different windows never share a column.
"""

from __future__ import annotations

import polars as pl

from mmsim.data.features import Feature


def _window(window: int, minimum: int = 1) -> int:
    if not (isinstance(window, int) and window >= minimum):
        raise ValueError(f"window must be an integer >= {minimum} bars, got {window!r}")
    return window


def sma_close(window: int) -> Feature:
    """Simple moving average of the close over `window` bars (USDT)."""
    w = _window(window)
    return Feature(f"sma_close_{w}", pl.col("close").rolling_mean(w, min_samples=w))


def log_return(window: int) -> Feature:
    """ln(close_t / close_{t-window}): the momentum over `window` bars (a fraction)."""
    w = _window(window)
    return Feature(f"log_return_{w}", pl.col("close").log().diff(w))


def volume_value(window: int) -> Feature:
    """Mean traded value per bar over `window` bars: mean(close * volume) (USDT per bar)."""
    w = _window(window)
    return Feature(
        f"volume_value_{w}", (pl.col("close") * pl.col("volume")).rolling_mean(w, min_samples=w)
    )


def flow_imbalance(window: int) -> Feature:
    """Taker order-flow imbalance over `window` bars, in [-1, 1]: (buys - sells) / volume.

    buys = sum(taker_buy_volume), sells = sum(volume) - buys (Binance's kline columns). Null
    when the window traded nothing. Needs a taker_buy_volume column in the bars.
    """
    w = _window(window)
    buys = pl.col("taker_buy_volume").rolling_sum(w, min_samples=w)
    total = pl.col("volume").rolling_sum(w, min_samples=w)
    return Feature(
        f"flow_imbalance_{w}", pl.when(total > 0).then(2.0 * buys / total - 1.0).otherwise(None)
    )


__all__ = ["flow_imbalance", "log_return", "sma_close", "volume_value"]
