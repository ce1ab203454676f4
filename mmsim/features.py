"""Features: named Polars expressions computed per symbol over the whole frame before the fold.

A feature's value at bar t may use data up to bar t's close and nothing later (quotes are
decided at that close). Expressions are written for one symbol's bars in time order; the engine
evaluates them with `.over("symbol")` on the frame sorted by time.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs
import polars as pl


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


def volatility(window: int = 60) -> Feature:
    """Rolling std of close-to-close log returns over `window` bars; a return per bar (0.001 = 10 bps)."""
    if window < 2:
        raise ValueError(f"volatility window must be >= 2 bars, got {window}")
    return Feature(f"volatility_{window}", log_return().rolling_std(window, min_samples=window))


def add_features(frame: pl.DataFrame, features: Iterable[Feature]) -> pl.DataFrame:
    """Evaluate features per symbol on a (ts, symbol)-sorted frame; NaN becomes null.

    A feature already present as a column (a user's precomputed one) is kept as it is.
    """
    todo: dict[str, Feature] = {}
    for f in features:
        if f.name not in frame.columns:
            todo.setdefault(f.name, f)
    if not todo:
        return frame
    return frame.with_columns(
        f.expr.over("symbol", order_by="ts").cast(pl.Float64).fill_nan(None).alias(name)
        for name, f in todo.items()
    )
