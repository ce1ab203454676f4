"""Each symbol's trading grid read from its bars: the tick from its prices, the lot from volumes.

An exchange's prices sit on its tick grid and a bar's volume, a sum of whole lots, on its lot
grid. The tick read from the data is the finest decimal grid 10^-d (d = 0..8) that every one
of a symbol's open, high, low and close prices sits on, up to float noise (p·10^d within a
millionth of a unit, plus 1e-12 relative, of a whole number); the lot likewise from its
volumes. A grid is read only from at least `MIN_DISTINCT` distinct values (a handful of round
numbers says nothing about the grid); otherwise, or when no d <= 8 fits (float-noisy data),
the venue's rule of thumb at the first close applies. `Venue.tick_sizes` / `lot_sizes` win
over both. The source of each size is kept in the spec and shown in result.config["specs"].
Like the bar interval, the sizes are read from the whole frame before the fold: they are the
venue's static grid, not a decision taken at a bar (`with_specs` pins them for a partial run).
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs
import numpy as np
import polars as pl

from mmsim.core.venue import SymbolSpec, Venue

MAX_DECIMALS = 8
MIN_DISTINCT = 20
PRICE_COLUMNS = ("open", "high", "low", "close")


def on_decimal_grid(value: pl.Expr, decimals: int) -> pl.Expr:
    """True where `value` is a whole multiple of 10^-decimals, up to float noise."""
    x = value * 10.0**decimals
    return (x - x.round(0)).abs() <= 1e-6 + 1e-12 * x.abs()


def decimal_grids(frame: pl.DataFrame, columns: tuple[str, ...]) -> dict[str, float | None]:
    """symbol -> the finest grid 10^-d (d <= MAX_DECIMALS) all its values in `columns` sit on;
    None when none fits or the symbol has fewer than MIN_DISTINCT distinct nonzero values."""
    return _grids(frame, columns, frame["symbol"].n_unique() == 1)


def _grids(frame: pl.DataFrame, columns: tuple[str, ...], one_symbol: bool) -> dict:
    """`decimal_grids`, told whether the frame holds one symbol only (then read as it is)."""
    if one_symbol:
        parts = [(frame["symbol"][0], frame)]
    else:  # one symbol at a time: a long frame is never stacked whole
        parts = (
            (symbol, part)
            for (symbol,), part in frame.select("symbol", *columns).group_by(
                "symbol", maintain_order=True
            )
        )
    grids = {}
    for symbol, part in parts:
        x = np.concatenate([part[c].cast(pl.Float64).to_numpy() for c in columns])
        grids[symbol] = _finest_grid(x) if _distinct_enough(x) else None
    return grids


def _fits(x: np.ndarray, decimals: int) -> bool:
    """`on_decimal_grid` for every value of x (read a cache-sized chunk at a time)."""
    return all(_chunk_fits(x[i : i + _CHUNK], decimals) for i in range(0, len(x), _CHUNK))


_CHUNK = 1 << 14


def _chunk_fits(x: np.ndarray, decimals: int) -> bool:
    scaled = x * 10.0**decimals
    off = np.rint(scaled)  # |scaled - round(scaled)| <= 1e-6 + 1e-12 |scaled|, in place
    off -= scaled
    np.abs(off, out=off)
    np.abs(scaled, out=scaled)
    scaled *= 1e-12
    scaled += 1e-6
    return bool(np.all(off <= scaled))


def _finest_grid(x: np.ndarray) -> float | None:
    # a grid that a few of the values miss is out without scanning them all
    head = x[:_HEAD]
    for d in range(MAX_DECIMALS + 1):
        if _fits(head, d) and _fits(x, d):
            return 10.0**-d
    return None


def _distinct_enough(x: np.ndarray) -> bool:
    """At least MIN_DISTINCT distinct nonzero values (the first few usually show as many)."""
    return any(len(np.unique(s[s != 0])) >= MIN_DISTINCT for s in (x[:_HEAD], x))


_HEAD = 1024


def symbol_specs(frame: pl.DataFrame, venue: Venue) -> dict[str, SymbolSpec]:
    """Each symbol's tick and lot: the venue's, else read from the bars, else the rule of thumb
    at its first close (the frame sorted by time, as `validate_bars` leaves it)."""
    return specs_at(frame, venue, first_closes(frame))


def first_closes(frame: pl.DataFrame) -> dict[str, float]:
    """symbol -> its first close, in the order the symbols first appear."""
    if frame.select((pl.col("symbol") == pl.col("symbol").first()).all()).item():
        return {frame["symbol"][0]: frame["close"][0]}
    return dict(
        frame.group_by("symbol", maintain_order=True).agg(pl.col("close").first()).iter_rows()
    )


def specs_at(
    frame: pl.DataFrame, venue: Venue, first_close: Mapping[str, float]
) -> dict[str, SymbolSpec]:
    """`symbol_specs` given each symbol's first close (`first_closes(frame)`)."""
    one = len(first_close) == 1
    ticks = _grids(frame, PRICE_COLUMNS, one)
    lots = _grids(frame, ("volume",), one)
    return {
        s: venue.spec(s, first_close[s], tick_size=ticks.get(s), lot_size=lots.get(s))
        for s in sorted(first_close)
    }


def with_specs(venue: Venue, specs: Mapping[str, SymbolSpec]) -> Venue:
    """The venue with these symbols' tick and lot sizes listed, so a run on part of a frame
    (or on a changed one) trades on the grid read from the whole: the sizes read from the data
    are, like the bar interval, read from the whole frame before the fold."""
    return attrs.evolve(
        venue,
        tick_sizes={**dict(venue.tick_sizes), **{s: sp.tick_size for s, sp in specs.items()}},
        lot_sizes={**dict(venue.lot_sizes), **{s: sp.lot_size for s, sp in specs.items()}},
    )
