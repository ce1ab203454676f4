"""Features: named Polars expressions computed per symbol over the whole frame before the fold.

A feature's value at bar t may use data up to bar t's close and nothing later (quotes are
decided at that close). Expressions are written for one symbol's bars in time order; the engine
evaluates them with `.over("symbol")` on the frame sorted by time. Windows count bars (rows of
that symbol), not clock time; a bar missing from the data is simply not in the window.

Built in (each a keyword factory returning a `Feature`; returns are log returns, per bar):
- volatility (rolling close-to-close std), ewma_volatility, parkinson_volatility,
  garman_klass_volatility: volatility of log returns per bar (0.001 = 10 bps per bar);
  `annualized(feature, interval)` rescales one to a 365-day year;
- atr (USDT, Wilder's smoothing) and natr (ATR / close, a fraction);
- sma_deviation, ema_deviation: close / average - 1 (a fraction); momentum: log return over
  `window` bars; hl_range: mean of ln(high / low) over `window` bars;
- taker_imbalance: (taker buys - taker sells) / volume over `window` bars, in [-1, 1] (needs
  Binance's taker_buy_volume column); relative_volume: volume / its rolling mean.

Your own feature, two ways:
1. Make one: `Feature("spread_proxy", (pl.col("high") / pl.col("low")).log().rolling_mean(30))`
   and list it in your strategy's `features=(...)` (`mmsim.stateless(..., features=...)`); the
   strategy reads it as `inputs.bar.features["spread_proxy"]` (None during warm-up).
2. Register a factory so configs can name it: `@register_feature("spread_proxy")` over
   `def spread_proxy(*, window=30) -> Feature`, then `feature("spread_proxy", window=10)`.
Any numeric column already in the bars frame (e.g. `quote_volume` from a Binance dump) is also
readable by name without declaring anything. Only look backwards: rolling_*, ewm_*, diff,
shift(k) with k >= 0; never shift(-k), and nothing that reads the whole column (mean(), max()).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import attrs
import polars as pl

from mmsim.core.clock import parse_duration_us

_YEAR_US = 365 * 86_400 * 1_000_000


class FeatureError(ValueError):
    """A feature that cannot be computed on the bars given (e.g. a column they lack)."""


@attrs.frozen(slots=True)
class Feature:
    """A named per-symbol expression over the bars columns (immutable)."""

    name: str
    expr: pl.Expr = attrs.field(eq=False, hash=False)

    def __attrs_post_init__(self):
        if not self.name.isidentifier():
            raise ValueError(f"feature name must be an identifier, got {self.name!r}")


def log_return() -> pl.Expr:
    """Close-to-close log return of each bar (null at a symbol's first bar)."""
    return pl.col("close").log().diff()


def _check_window(kind: str, window: int, minimum: int = 1) -> None:
    if not isinstance(window, int) or isinstance(window, bool) or window < minimum:
        raise ValueError(f"{kind} window must be an integer >= {minimum} bars, got {window!r}")


def volatility(window: int = 60) -> Feature:
    """Rolling std of close-to-close log returns over `window` bars, per bar (0.001 = 10 bps)."""
    if window < 2:
        raise ValueError(f"volatility window must be >= 2 bars, got {window}")
    return Feature(f"volatility_{window}", log_return().rolling_std(window, min_samples=window))


def ewma_volatility(half_life: int = 60) -> Feature:
    """sqrt of the EWMA of squared log returns (RiskMetrics), per bar; null for `half_life` bars."""
    _check_window("ewma_volatility half_life", half_life)
    expr = (
        log_return()
        .pow(2)
        .ewm_mean(half_life=half_life, adjust=False, min_samples=half_life, ignore_nulls=True)
        .sqrt()
    )
    return Feature(f"ewma_volatility_{half_life}", expr)


def parkinson_volatility(window: int = 60) -> Feature:
    """Parkinson (1980) estimator per bar: sqrt(mean(ln(H/L)^2) / (4 ln 2)) over `window` bars."""
    _check_window("parkinson_volatility", window)
    hl = (pl.col("high") / pl.col("low")).log()
    expr = (hl.pow(2).rolling_mean(window, min_samples=window) / (4 * math.log(2))).sqrt()
    return Feature(f"parkinson_volatility_{window}", expr)


def garman_klass_volatility(window: int = 60) -> Feature:
    """Garman-Klass (1980) estimator per bar: sqrt(mean(0.5 ln(H/L)^2 - (2 ln 2 - 1) ln(C/O)^2))."""
    _check_window("garman_klass_volatility", window)
    hl = (pl.col("high") / pl.col("low")).log()
    co = (pl.col("close") / pl.col("open")).log()
    per_bar = 0.5 * hl.pow(2) - (2 * math.log(2) - 1) * co.pow(2)
    # per bar it is >= 0.5 a^2 - 0.386 a^2 since |ln(C/O)| <= ln(H/L); clip guards rounding only
    expr = per_bar.rolling_mean(window, min_samples=window).clip(lower_bound=0.0).sqrt()
    return Feature(f"garman_klass_volatility_{window}", expr)


def annualization_factor(interval: str | int) -> float:
    """sqrt(bars per 365-day year) for `interval` ('1m', '1h' or µs): per-bar vol -> annual."""
    step = interval if isinstance(interval, int) else parse_duration_us(interval)
    if step <= 0:
        raise ValueError(f"interval must be positive, got {interval!r}")
    return math.sqrt(_YEAR_US / step)


def annualized(feature: Feature, interval: str | int) -> Feature:
    """A per-bar volatility rescaled to a 365-day year (0.5 = 50% a year), named `<name>_annual`."""
    return Feature(f"{feature.name}_annual", feature.expr * annualization_factor(interval))


def _true_range() -> pl.Expr:
    prev = pl.col("close").shift(1)
    return pl.max_horizontal(
        pl.col("high") - pl.col("low"), (pl.col("high") - prev).abs(), (pl.col("low") - prev).abs()
    )


def atr(window: int = 14) -> Feature:
    """Average true range in USDT, Wilder's smoothing (EWM, alpha = 1/window); null `window` bars.

    The EWM starts from the first bar's true range (not from a `window`-bar simple mean).
    """
    _check_window("atr", window)
    expr = _true_range().ewm_mean(alpha=1 / window, adjust=False, min_samples=window)
    return Feature(f"atr_{window}", expr)


def natr(window: int = 14) -> Feature:
    """ATR divided by the close: a fraction of price per bar (0.002 = 20 bps)."""
    return Feature(f"natr_{window}", atr(window).expr / pl.col("close"))


def sma_deviation(window: int = 20) -> Feature:
    """close / simple moving average of `window` closes - 1 (a fraction; > 0 above the average)."""
    _check_window("sma_deviation", window)
    return Feature(
        f"sma_deviation_{window}",
        pl.col("close") / pl.col("close").rolling_mean(window, min_samples=window) - 1,
    )


def ema_deviation(span: int = 20) -> Feature:
    """close / exponential moving average (span `span`) - 1 (a fraction); null for `span` bars."""
    _check_window("ema_deviation span", span)
    ema = pl.col("close").ewm_mean(span=span, adjust=False, min_samples=span)
    return Feature(f"ema_deviation_{span}", pl.col("close") / ema - 1)


def momentum(window: int = 20) -> Feature:
    """Log return over the last `window` bars: ln(close_t / close_{t-window})."""
    _check_window("momentum", window)
    return Feature(f"momentum_{window}", (pl.col("close") / pl.col("close").shift(window)).log())


def hl_range(window: int = 1) -> Feature:
    """Mean of ln(high / low) over `window` bars (window 1: this bar's range, ~ (H - L) / L)."""
    _check_window("hl_range", window)
    expr = (pl.col("high") / pl.col("low")).log().rolling_mean(window, min_samples=window)
    return Feature(f"hl_range_{window}", expr)


def _safe_ratio(num: pl.Expr, den: pl.Expr) -> pl.Expr:
    return pl.when(den > 0).then(num / den).otherwise(None)


def taker_imbalance(window: int = 1) -> Feature:
    """(taker buy - taker sell volume) / volume over `window` bars, in [-1, 1]; null on zero volume.

    Needs column taker_buy_volume (Binance kline dumps have it; plain CCXT OHLCV has not).
    """
    _check_window("taker_imbalance", window)
    buys = pl.col("taker_buy_volume").rolling_sum(window, min_samples=window)
    total = pl.col("volume").rolling_sum(window, min_samples=window)
    return Feature(f"taker_imbalance_{window}", _safe_ratio(2 * buys - total, total))


def relative_volume(window: int = 60) -> Feature:
    """volume / mean volume of the last `window` bars (this bar included); 1 = a typical bar."""
    _check_window("relative_volume", window)
    mean = pl.col("volume").rolling_mean(window, min_samples=window)
    return Feature(f"relative_volume_{window}", _safe_ratio(pl.col("volume"), mean))


_REGISTRY: dict[str, Callable[..., Feature]] = {
    "volatility": volatility,
    "ewma_volatility": ewma_volatility,
    "parkinson_volatility": parkinson_volatility,
    "garman_klass_volatility": garman_klass_volatility,
    "atr": atr,
    "natr": natr,
    "sma_deviation": sma_deviation,
    "ema_deviation": ema_deviation,
    "momentum": momentum,
    "hl_range": hl_range,
    "taker_imbalance": taker_imbalance,
    "relative_volume": relative_volume,
}


def register_feature(
    kind: str, factory: Callable[..., Feature] | None = None, *, replace: bool = False
):
    """Register `factory(**params) -> Feature` as `kind`: `feature(kind, ...)` and configs build it.

    Use as `register_feature("name", factory)` or as a decorator `@register_feature("name")`.
    Registering a kind twice raises unless replace=True.
    """
    if not kind.isidentifier():
        raise ValueError(f"feature kind must be an identifier, got {kind!r}")

    def add(fn: Callable[..., Feature]) -> Callable[..., Feature]:
        if kind in _REGISTRY and not replace and _REGISTRY[kind] is not fn:
            raise ValueError(f"feature kind {kind!r} is already registered; pass replace=True")
        _REGISTRY[kind] = fn
        return fn

    return add if factory is None else add(factory)


def registered_features() -> tuple[str, ...]:
    """The kinds `feature()` knows, built in and registered."""
    return tuple(sorted(_REGISTRY))


def feature(kind: str, **params) -> Feature:
    """Build a registered feature by name: feature("atr", window=14) -> Feature("atr_14", ...)."""
    try:
        factory = _REGISTRY[kind]
    except KeyError:
        raise ValueError(
            f"unknown feature {kind!r}; known: {', '.join(registered_features())}"
        ) from None
    made = factory(**params)
    if not isinstance(made, Feature):
        raise TypeError(f"feature factory {kind!r} returned {type(made).__name__}, not a Feature")
    return made


def add_features(frame: pl.DataFrame, features: Iterable[Feature]) -> pl.DataFrame:
    """Evaluate features per symbol on a (ts, symbol)-sorted frame; NaN becomes null.

    A feature already present as a column (a user's precomputed one) is kept as it is. A feature
    reading a column the frame lacks raises FeatureError (a ValueError) naming both.
    """
    todo: dict[str, Feature] = {}
    for f in features:
        if f.name not in frame.columns:
            todo.setdefault(f.name, f)
    if not todo:
        return frame
    for name, f in todo.items():
        lacking = [c for c in f.expr.meta.root_names() if c not in frame.columns]
        if lacking:
            raise FeatureError(
                f"feature {name!r} reads column(s) {lacking} that the bars lack "
                f"(they have {frame.columns})"
            )
    # one symbol in time order is its own window: evaluated as it stands, it gives the same
    # values without the window's sort and gathers (a few columns' worth of memory)
    symbol = frame["symbol"]
    one = frame.height > 0 and bool((symbol == symbol[0]).all()) and frame["ts"].is_sorted()
    frame = frame.with_columns(
        (f.expr if one else f.expr.over("symbol", order_by="ts")).cast(pl.Float64).alias(name)
        for name, f in todo.items()
    )
    # NaN -> null only in the columns that hold one (a scan costs far less than the fill)
    has_nan = frame.select(pl.col(name).is_nan().any() for name in todo).row(0)
    return frame.with_columns(
        pl.col(name).fill_nan(None) for name, nan in zip(todo, has_nan) if nan
    )


__all__ = [
    "Feature",
    "add_features",
    "annualization_factor",
    "annualized",
    "atr",
    "ema_deviation",
    "ewma_volatility",
    "feature",
    "garman_klass_volatility",
    "hl_range",
    "log_return",
    "momentum",
    "natr",
    "parkinson_volatility",
    "register_feature",
    "registered_features",
    "relative_volume",
    "sma_deviation",
    "taker_imbalance",
    "volatility",
]
