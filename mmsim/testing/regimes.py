"""Generated markets: a seeded, regime-driven bars frame from a small immutable description.

A `MarketSpec` (one `SymbolPath` per symbol, a grid of `n_bars` bars) always gives the same frame
(`spec.bars()`), so a failing market can be kept as its description and its seed as well as its
rows. No Hypothesis here: `mmsim.testing.markets.market_specs()` draws the descriptions.

Regimes (per symbol; `strength` in [0, 1] is each regime's knob):
- random_walk:    log returns ~ N(0, volatility) per bar;
- trending:       plus a drift of up to 2 volatilities per bar, up or down;
- mean_reverting: the log price is an AR(1) around the first open, pulled back 5-95 % per bar;
- flash_crash:    one bar whose low falls 5-95 % below its open (its close recovers part of it),
                  with 20x the volume;
- zero_volume:    20-100 % of the bars have no trades: volume 0 and open = high = low = close;
- gapping:        10-60 % of the bars are missing (the price walks on underneath, so the next
                  bar opens away from the last close seen); such frames need
                  `backtest(..., allow_gaps=True)` (`MarketSpec.has_gaps`).
Valid OHLC by construction: open = the previous close, high >= max(open, close) and
low <= min(open, close) (wicks are exp(+-w) with w >= 0), prices > 0; on the tick grid inferred
from the first open when `on_tick` (rounding to the grid is monotone, so the order survives).
"""

from __future__ import annotations

import datetime as dt
import math

import attrs
import numpy as np
import polars as pl
from attrs import validators as v

from mmsim.core.clock import parse_duration_us
from mmsim.core.venue import infer_tick_size
from mmsim.testing._registry import recall, remember

REGIMES = ("random_walk", "trending", "mean_reverting", "flash_crash", "zero_volume", "gapping")
GAPLESS = tuple(r for r in REGIMES if r != "gapping")
FUNDING_RATES = (0.0, 0.0, 0.0, 0.0, 0.0001, -0.0002, 0.003)


def _finite_positive(instance, attribute, value):
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise ValueError(f"{attribute.name} must be a positive finite number, got {value!r}")


def _iso(value) -> str:
    return value.isoformat() if isinstance(value, dt.datetime) else str(value)


@attrs.frozen(slots=True)
class SymbolPath:
    """How one symbol's bars are generated (immutable).

    regime: one of REGIMES; price: the first open (USDT); volatility: std of the log return per
    bar (0.01 = 1 %); strength: the regime's knob in [0, 1] (see the module docstring);
    seed: the numpy seed of this symbol's noise; on_tick: prices on the inferred tick grid.
    """

    symbol: str = attrs.field(validator=v.instance_of(str))
    regime: str = attrs.field(default="random_walk", validator=v.in_(REGIMES))
    price: float = attrs.field(default=100.0, validator=_finite_positive)
    volatility: float = attrs.field(default=0.01, validator=[v.ge(0.0), v.le(0.5)])
    strength: float = attrs.field(default=0.5, validator=[v.ge(0.0), v.le(1.0)])
    seed: int = attrs.field(default=0, validator=[v.instance_of(int), v.ge(0)])
    on_tick: bool = attrs.field(default=True, validator=v.instance_of(bool))


def _distinct_symbols(instance, attribute, value):
    names = [p.symbol for p in value]
    if not names or len(set(names)) != len(names):
        raise ValueError(f"a market needs one or more distinct symbols, got {names}")


@attrs.frozen(slots=True)
class MarketSpec:
    """A generated market (immutable): each path on one grid of `n_bars` bars of `interval`
    from `start` (ISO time, UTC); `funding` adds a funding_rate column (mostly 0, sometimes
    +-0.01 % and a rare 0.3 %), `taker_flow` a taker_buy_volume column (the part of the
    volume bought by takers, larger in rising bars) as Binance candles have."""

    paths: tuple[SymbolPath, ...] = attrs.field(converter=tuple, validator=_distinct_symbols)
    n_bars: int = attrs.field(default=40, validator=[v.instance_of(int), v.ge(1)])
    interval: str = attrs.field(default="1m", validator=v.instance_of(str))
    start: str = attrs.field(default="2024-01-01T00:00:00", converter=_iso)
    funding: bool = attrs.field(default=True, validator=v.instance_of(bool))
    taker_flow: bool = attrs.field(default=True, validator=v.instance_of(bool))

    def __attrs_post_init__(self):
        parse_duration_us(self.interval)  # raises naming a bad interval
        dt.datetime.fromisoformat(self.start)

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(p.symbol for p in self.paths)

    @property
    def has_gaps(self) -> bool:
        """True when some bars are missing: run it with `backtest(..., allow_gaps=True)`."""
        return any(p.regime == "gapping" for p in self.paths)

    def bars(self) -> pl.DataFrame:
        """The bars frame (sorted by ts, symbol); the same spec always gives the same frame."""
        frame = generate_bars(self)
        remember(frame, self)  # so a failing frame saved with save_case keeps its seeds
        return frame

    def to_dict(self) -> dict:
        """A JSON-ready description (`MarketSpec.from_dict` reads it back)."""
        return attrs.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> MarketSpec:
        paths = tuple(SymbolPath(**p) for p in data["paths"])
        return cls(paths, **{k: x for k, x in data.items() if k != "paths"})


def _ar1_returns(shocks: np.ndarray, pull: float) -> np.ndarray:
    # x_t = (1 - pull) * x_{t-1} + shock_t around 0; returns are x_t - x_{t-1}
    x, out = 0.0, np.empty_like(shocks)
    for i, e in enumerate(shocks.tolist()):
        new = (1.0 - pull) * x + e
        out[i] = new - x
        x = new
    return out


def _symbol_columns(path: SymbolPath, n: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(path.seed)
    vol, s = path.volatility, path.strength
    returns = vol * rng.standard_normal(n)
    up_wick = vol * rng.exponential(0.5, n)
    down_wick = vol * rng.exponential(0.5, n)
    volume = (
        (1e5 / path.price)
        * np.exp(rng.standard_normal(n))
        * (1.0 + np.abs(returns) / max(vol, 1e-12))
    )
    keep = np.ones(n, dtype=bool)
    crash_low = None
    if path.regime == "trending":
        returns = returns + (1.0 if rng.random() < 0.5 else -1.0) * 2.0 * s * vol
    elif path.regime == "mean_reverting":
        returns = _ar1_returns(returns, 0.05 + 0.9 * s)
    elif path.regime == "flash_crash":
        k, depth, recovered = int(rng.integers(0, n)), 0.05 + 0.9 * s, float(rng.random())
        returns[k] = math.log(1.0 - depth * (1.0 - recovered))
        crash_low = (k, depth)
        volume[k] *= 20.0
    elif path.regime == "zero_volume":
        idle = rng.random(n) < 0.2 + 0.8 * s
        returns[idle] = up_wick[idle] = down_wick[idle] = volume[idle] = 0.0
    elif path.regime == "gapping":
        keep = rng.random(n) >= 0.1 + 0.5 * s
        keep[0] = True
        if n > 1 and keep.sum() < 2:
            keep[-1] = True
    close = path.price * np.exp(np.cumsum(returns))  # exact: a bar with no return is flat
    open_ = np.concatenate(([path.price], close[:-1]))
    high = np.maximum(open_, close) * np.exp(up_wick)
    low = np.minimum(open_, close) * np.exp(-down_wick)
    if crash_low is not None:
        k, depth = crash_low
        low[k] = min(low[k], open_[k] * (1.0 - depth))
    if path.on_tick:
        tick = infer_tick_size(path.price)
        decimals = max(0, -math.floor(math.log10(tick))) + 1

        def grid(x):  # monotone: keeps low <= open, close <= high; never below one tick
            return np.round(np.maximum(np.round(x / tick), 1.0) * tick, decimals)

        open_, high, low, close = grid(open_), grid(high), grid(low), grid(close)
    funding = np.random.default_rng([path.seed, 1]).choice(FUNDING_RATES, n)
    # takers buy more of the volume in a rising bar (a share in [0, 1])
    flow = np.random.default_rng([path.seed, 2]).standard_normal(n)
    share = np.clip(0.5 + 0.25 * np.tanh(returns / max(vol, 1e-12)) + 0.05 * flow, 0.0, 1.0)
    volume = np.round(volume, 6)
    return {
        "open": open_[keep],
        "high": high[keep],
        "low": low[keep],
        "close": close[keep],
        "volume": volume[keep],
        "taker_buy_volume": np.round(volume * share, 6)[keep],
        "funding_rate": funding[keep],
        "k": np.arange(n)[keep],
    }


def generate_bars(spec: MarketSpec) -> pl.DataFrame:
    """The bars frame of `spec` (see the module docstring for the regimes)."""
    step_us = parse_duration_us(spec.interval)
    start = dt.datetime.fromisoformat(spec.start)
    frames = []
    for path in spec.paths:
        cols = _symbol_columns(path, spec.n_bars)
        k = cols.pop("k")
        frames.append(
            pl.DataFrame(
                {
                    "ts": [start + dt.timedelta(microseconds=int(i) * step_us) for i in k],
                    "symbol": [path.symbol] * len(k),
                    **{
                        c: cols[c].tolist()
                        for c in (
                            "open",
                            "high",
                            "low",
                            "close",
                            "volume",
                            "taker_buy_volume",
                            "funding_rate",
                        )
                    },
                }
            )
        )
    frame = (
        pl.concat(frames)
        .with_columns(pl.col("ts").cast(pl.Datetime("us")))
        .sort("ts", "symbol", maintain_order=True)
    )
    drop = [
        c
        for c, keep in (("funding_rate", spec.funding), ("taker_buy_volume", spec.taker_flow))
        if not keep
    ]
    return frame.drop(drop)


def spec_of(frame: pl.DataFrame) -> MarketSpec | None:
    """The MarketSpec a frame was generated from (in this process, while it lives), else None."""
    info = recall(frame)
    return info if isinstance(info, MarketSpec) else None
