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
    x = pl.col("x")
    fits = [on_decimal_grid(x, d).all().alias(f"d{d}") for d in range(MAX_DECIMALS + 1)]
    finest = pl.coalesce(
        [pl.when(pl.col(f"d{d}")).then(pl.lit(10.0**-d)) for d in range(MAX_DECIMALS + 1)]
    )
    grids = {}
    # one symbol at a time, its distinct values only: a long frame is never stacked whole
    for (symbol,), part in frame.select("symbol", *columns).group_by("symbol", maintain_order=True):
        values = pl.concat([part[c] for c in columns]).unique().to_frame("x")
        row = values.select(*fits, x.filter(x != 0).n_unique().alias("distinct")).select(
            pl.when(pl.col("distinct") >= MIN_DISTINCT).then(finest).alias("grid")
        )
        grids[symbol] = row.item()
    return grids


def symbol_specs(frame: pl.DataFrame, venue: Venue) -> dict[str, SymbolSpec]:
    """Each symbol's tick and lot: the venue's, else read from the bars, else the rule of thumb
    at its first close (the frame sorted by time, as `validate_bars` leaves it)."""
    first_close = dict(
        frame.group_by("symbol", maintain_order=True).agg(pl.col("close").first()).iter_rows()
    )
    ticks = decimal_grids(frame, PRICE_COLUMNS)
    lots = decimal_grids(frame, ("volume",))
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
