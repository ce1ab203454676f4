"""The bars frame: its layout, its validator, and the per-step view the fold reads.

Layout (long, one row per bar and symbol): ts (Datetime, the bar's open time, UTC), symbol,
open, high, low, close (USDT), volume (base units); optional funding_rate (fraction paid by
longs at that bar); any other column is a feature strategies may read by name.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import repeat

import attrs
import polars as pl

from mmsim.core.clock import interval_name
from mmsim.core.errors import DataError
from mmsim.core.frozen import EMPTY, FrozenDict, frozen_dict, unchecked

# a symbol names files (charts, caches): letters, digits, '.', '_' and '-', no path or markup
SYMBOL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
REQUIRED = ("ts", "symbol", "open", "high", "low", "close", "volume")
PRICES = ("open", "high", "low", "close")


class BarsError(ValueError):
    """A bars frame that cannot be backtested; the message names the column, symbol and row."""


def bad_symbol(symbol: object) -> str | None:
    """Why `symbol` cannot be a symbol name, or None when it can."""
    import re

    if not isinstance(symbol, str):
        return f"symbol {symbol!r} must be a string"
    if re.fullmatch(SYMBOL_PATTERN, symbol) is None:
        return (
            f"symbol {symbol!r} is not a symbol name: use 1-64 letters, digits, '.', '_' or '-' "
            "(starting with a letter or digit), like BTCUSDT"
        )
    return None


class MissingBarsError(BarsError, DataError):
    """Bars missing inside a symbol's history (a hole in time) in a run that does not allow
    gaps: a BarsError of `validate_bars` and a DataError of bad input."""


@attrs.frozen(slots=True)
class Bar:
    """One symbol's bar as the fold sees it: plain floats (immutable).

    ts: open time in µs since the epoch; prices in USDT; volume in base units; funding_rate a
    fraction (longs pay when > 0); features: name -> value at this bar's close (None in warm-up).
    """

    symbol: str
    ts: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    funding_rate: float = 0.0
    features: FrozenDict = attrs.field(default=EMPTY, converter=frozen_dict, eq=False, hash=False)


@attrs.frozen(slots=True)
class Step:
    """What one step of the fold reads: a timestamp and each symbol's bar (None if it has none)."""

    ts: int
    bars: tuple[Bar | None, ...]


def _first_bad_row(frame: pl.DataFrame, condition: pl.Expr) -> dict | None:
    bad = frame.with_row_index("row").filter(condition)
    return bad.row(0, named=True) if bad.height else None


def _describe(row: dict) -> str:
    return f"symbol {row['symbol']!r}, row {row['row']} (ts {row['ts']})"


def validate_bars(bars: pl.DataFrame, *, allow_gaps: bool = False) -> pl.DataFrame:
    """Check a bars frame and return it sorted by (ts, symbol) with float64 prices.

    Raises BarsError naming the column, symbol and row of the first problem found: a missing column,
    a symbol that is not a plain name (SYMBOL_PATTERN), a null or NaN, an infinite number (or a
    NaN funding_rate), a non-positive price, high < max(open, close), low > min(open, close),
    negative volume, a duplicate timestamp or unsorted timestamps within a symbol. Unless
    allow_gaps=True, also missing bars: two consecutive bars of a symbol further apart than
    the bar interval (`bar_interval_us`) raise a MissingBarsError (a DataError and a BarsError)
    naming the symbol, the first missing bar and how many are missing, even when every symbol
    misses them; and symbols on different timestamp grids raise a BarsError naming them.
    With allow_gaps=True a symbol with no row at a timestamp neither quotes nor fills there, its
    mark carries forward, and an order whose next bar is missing expires (`mmsim.core.engine`).
    """
    return checked_bars(bars, allow_gaps=allow_gaps)[0]


def checked_bars(bars: pl.DataFrame, *, allow_gaps: bool = False) -> tuple[pl.DataFrame, int]:
    """`validate_bars` and the bar interval of the frame it returns (`bar_interval_us`), both
    read in one pass over the bars."""
    numeric = _check_schema(bars)
    frame = bars.with_columns(
        pl.col("symbol").cast(pl.String),
        *(pl.col(c).cast(pl.Float64) for c in numeric),
    )
    # one pass answers every check and reads what the rest needs: the bar interval, the
    # largest step of a symbol, whether the rows are in (ts, symbol) order already, the grid;
    # only a failed check is searched again for its first row
    # one symbol (nulls aside, refused below): its steps need no grouping, and its rows are
    # in (ts, symbol) order when its timestamps increase
    one = frame.select((pl.col("symbol") == pl.col("symbol").first()).all()).item()
    conditions = _conditions(frame, numeric, one)
    step = (_STEP_US if one else _STEP_US.over("symbol")).alias("step")
    *flags, interval, widest, ordered, n_symbols, n_ts = frame.select(
        *(c.any().alias(str(k)) for k, c in enumerate(conditions)),
        step.filter(step > 0).min().alias("interval"),
        step.max().alias("widest"),
        pl.lit(True).alias("ordered") if one else _IN_ORDER.all().alias("ordered"),
        pl.lit(1).alias("n_symbols") if one else pl.col("symbol").n_unique().alias("n_symbols"),
        pl.col("ts").n_unique().alias("n_ts"),
    ).row(0)
    if any(flags):
        _check_values(frame, numeric)
        _check_order(frame)
    # rows already in (ts, symbol) order are what the (stable) sort would return
    frame = (
        frame.with_columns(pl.col("ts").set_sorted())
        if ordered
        else frame.sort("ts", "symbol", maintain_order=True)
    )
    interval_us = 60_000_000 if interval is None else int(interval)
    if not allow_gaps:
        if widest is not None and widest > interval_us:
            raise _missing_bars_error(missing_bars(frame, interval_us), interval_us)
        if frame.height != n_symbols * n_ts:
            _check_one_grid(frame)
    return frame, interval_us


def _check_schema(bars: pl.DataFrame) -> list[str]:
    """The frame has every required column with the right types; returns the numeric columns."""
    if not isinstance(bars, pl.DataFrame):
        raise BarsError(f"bars must be a polars DataFrame, got {type(bars).__name__}")
    missing = [c for c in REQUIRED if c not in bars.columns]
    if missing:
        raise BarsError(f"bars frame is missing column(s) {missing}; it has {bars.columns}")
    if bars.height == 0:
        raise BarsError("bars frame is empty")
    if not isinstance(bars.schema["ts"], pl.Datetime):
        raise BarsError(f"column 'ts' must be a Datetime, got {bars.schema['ts']}")
    numeric = [*PRICES, "volume"] + (["funding_rate"] if "funding_rate" in bars.columns else [])
    for column in numeric:
        if not bars.schema[column].is_numeric():
            raise BarsError(f"column {column!r} must be numeric, got {bars.schema[column]}")
    return numeric


def _null(column: str, numeric: list[str]) -> pl.Expr:
    null = pl.col(column).is_null()
    return null | pl.col(column).is_nan() if column in numeric else null


_VALUE_CHECKS = (
    (pl.min_horizontal(*PRICES) <= 0, "non-positive price"),
    (pl.col("high") < pl.max_horizontal("open", "close"), "high < max(open, close)"),
    (pl.col("low") > pl.min_horizontal("open", "close"), "low > min(open, close)"),
    (pl.col("volume") < 0, "negative volume"),
)
# a timestamp that does not increase within its symbol (the first row of each symbol is null)
_NOT_INCREASING_IN_ORDER = pl.col("ts").diff() <= pl.duration(microseconds=0)
_NOT_INCREASING = _NOT_INCREASING_IN_ORDER.over("symbol")


_BAD_SYMBOL = ~pl.col("symbol").str.contains(SYMBOL_PATTERN)
# each bar's step from its symbol's previous one in µs, as `bar_interval_us` reads it
_STEP_US = pl.col("ts").dt.epoch("us").diff()  # over each symbol's rows
# a row after the previous one in (ts, symbol) order (the first row: null, ignored by all())
_IN_ORDER = (pl.col("ts").diff() > pl.duration(microseconds=0)) | (
    (pl.col("ts").diff() == pl.duration(microseconds=0))
    & (pl.col("symbol") > pl.col("symbol").shift(1))
)


def _not_finite(frame: pl.DataFrame, numeric: list[str]) -> list[tuple[str, pl.Expr]]:
    """(column, true where not finite) for every float the fold reads (null funding: none)."""
    extras = [c for c, t in frame.schema.items() if t.is_float() and c not in numeric]
    nan = {c: pl.col(c).is_nan() if c in numeric else pl.lit(False) for c in [*numeric, *extras]}
    return [(c, pl.col(c).is_infinite() | nan[c]) for c in nan]


def _conditions(frame: pl.DataFrame, numeric: list[str], one: bool) -> list[pl.Expr]:
    """Every row-level check of `validate_bars` (true on a bad row); `one`: the frame holds
    one symbol (its rows are read in order, not grouped)."""
    return [
        *(_null(c, numeric) for c in REQUIRED),
        *(bad for _, bad in _not_finite(frame, numeric)),
        _BAD_SYMBOL,
        *(c for c, _ in _VALUE_CHECKS),
        _NOT_INCREASING_IN_ORDER if one else _NOT_INCREASING,
    ]


def _check_values(frame: pl.DataFrame, numeric: list[str]) -> None:
    """No null or NaN, positive prices inside the bar's range, non-negative volume."""
    for column in REQUIRED:
        row = _first_bad_row(frame, _null(column, numeric))
        if row is not None:
            raise BarsError(f"null or NaN in column {column!r} at {_describe(row)}")
    for column, bad in _not_finite(frame, numeric):
        row = _first_bad_row(frame, bad)
        if row is not None:
            raise BarsError(f"{row[column]} in column {column!r} at {_describe(row)}")
    row = _first_bad_row(frame, _BAD_SYMBOL)
    if row is not None:
        raise BarsError(f"{bad_symbol(row['symbol'])} (at row {row['row']}, ts {row['ts']})")
    for condition, problem in _VALUE_CHECKS:
        row = _first_bad_row(frame, condition)
        if row is not None:
            ohlc = ", ".join(f"{c}={row[c]}" for c in PRICES)
            raise BarsError(f"{problem} at {_describe(row)}: {ohlc}")


def _check_order(frame: pl.DataFrame) -> None:
    """Timestamps strictly increase within each symbol."""
    row = _first_bad_row(frame, _NOT_INCREASING)
    if row is not None:
        kind = "duplicate" if _is_duplicate(frame, row) else "unsorted"
        raise BarsError(
            f"{kind} timestamp at {_describe(row)}: timestamps must increase per symbol"
        )


def _check_one_grid(frame: pl.DataFrame) -> None:
    """Every symbol has a bar at the same timestamps."""
    # timestamps increase within a symbol: each has every timestamp of the frame iff the frame
    # has (symbols x timestamps) rows; only a frame that fails is compared symbol by symbol
    if frame.height == frame["symbol"].n_unique() * frame["ts"].n_unique():
        return
    grids = frame.group_by("symbol", maintain_order=True).agg(pl.col("ts").alias("grid"), pl.len())
    reference = grids.row(0, named=True)
    for other in grids.iter_rows(named=True):
        if other["grid"] != reference["grid"]:
            missing_ts = sorted(set(reference["grid"]) ^ set(other["grid"]))[:3]
            raise BarsError(
                f"symbols {reference['symbol']!r} ({reference['len']} bars) and "
                f"{other['symbol']!r} ({other['len']} bars) are on different timestamp grids, "
                f"e.g. at {missing_ts}; align them first or pass allow_gaps=True"
            )


def _is_duplicate(frame: pl.DataFrame, row: dict) -> bool:
    same = frame.filter((pl.col("symbol") == row["symbol"]) & (pl.col("ts") == row["ts"]))
    return same.height > 1


def bar_interval_us(frame: pl.DataFrame) -> int:
    """The bar length in µs: the smallest step between consecutive bars of any symbol.

    The smallest, not the most common, so a frame missing most of its bars still shows its
    grid; 60 s when no symbol has two bars. Expects each symbol's timestamps increasing.
    """
    steps = frame.select(pl.col("ts").dt.epoch("us").diff().over("symbol").alias("step"))["step"]
    steps = steps.filter(steps > 0)
    return int(steps.min()) if steps.len() else 60_000_000


def missing_bars(frame: pl.DataFrame, interval_us: int) -> pl.DataFrame:
    """Every hole in a symbol's history: two consecutive bars further apart than `interval_us`.

    One row per hole, sorted by (first_missing, symbol): symbol, last_bar (open time of the bar
    before the hole), next_bar (of the bar after it), first_missing (last_bar + interval) and
    missing (whole bars that fit in the hole, (next_bar - last_bar) // interval - 1) and on_grid
    (False when next_bar is not a whole number of intervals after last_bar). Expects each
    symbol's timestamps increasing.
    """
    ts = pl.col("ts")
    step = ts.dt.epoch("us") - ts.shift(1).dt.epoch("us")
    return (
        frame.select("symbol", "ts")
        .with_columns(pl.col("symbol").cast(pl.String), step.over("symbol").alias("step"))
        .filter(pl.col("step") > interval_us)
        .select(
            "symbol",
            (ts - pl.duration(microseconds=pl.col("step"))).alias("last_bar"),
            ts.alias("next_bar"),
            (ts - pl.duration(microseconds=pl.col("step") - interval_us)).alias("first_missing"),
            (pl.col("step") // interval_us - 1).alias("missing"),
            (pl.col("step") % interval_us == 0).alias("on_grid"),
        )
        .sort("first_missing", "symbol")
    )


def _missing_bars_error(holes: pl.DataFrame, interval_us: int) -> Exception:
    first = holes.row(0, named=True)
    name = interval_name(interval_us)
    if first["on_grid"]:
        what = (
            f"has no bar from {first['first_missing']}: {first['missing']} missing {name} "
            f"bar(s) before its bar at {first['next_bar']}"
        )
    else:
        what = (
            f"has a bar at {first['next_bar']} that is off the {name} grid of its bar at "
            f"{first['last_bar']}"
        )
    more = (
        f" ({holes.height} holes in all: mmsim.gap_report(bars) lists them)"
        if holes.height > 1
        else ""
    )
    return MissingBarsError(
        f"symbol {first['symbol']!r} {what}{more}. An order cannot rest across missing bars: "
        "pass allow_gaps=True to run across them (an order whose next bar is missing expires, "
        "a market order waits for its symbol's next bar), or fill them first with "
        "mmsim.align_bars(bars, missing='ffill') (flat zero-volume bars at the last close)"
    )


STEP_CHUNK_ROWS = 1 << 11  # rows turned into Python values at a time (bounds the fold's memory)


def iter_steps(
    frame: pl.DataFrame, symbols: Sequence[str], features: Sequence[str]
) -> Iterator[Step]:
    """Yield one Step per distinct timestamp of a validated frame (sorted by ts, symbol).

    Columns are pulled out as Python lists, a chunk of rows at a time, so the fold reads plain
    floats, never numpy scalars, and holds only one chunk of them; a symbol with no row at a
    timestamp gets None.
    """
    index = {s: k for k, s in enumerate(symbols)}
    n = len(symbols)
    features = tuple(features)
    has_funding = "funding_rate" in frame.columns
    t, slots = None, None
    for start in range(0, frame.height, STEP_CHUNK_ROWS):
        part = frame.slice(start, STEP_CHUNK_ROWS)
        ts = part["ts"].dt.epoch("us").to_list()
        syms = part["symbol"].to_list()
        cols = [part[c].to_list() for c in ("open", "high", "low", "close", "volume")]
        funding = (
            part["funding_rate"].fill_null(0.0).to_list() if has_funding else [0.0] * part.height
        )
        # each row's features as one tuple, paired with their names into the bar's FrozenDict
        rows = zip(*(part[f].to_list() for f in features)) if features else repeat(())
        for tr, s, o, h, lo, c, v, f, values in zip(ts, syms, *cols, funding, rows):
            if tr != t:
                if slots is not None:
                    yield _step(t, tuple(slots))
                t, slots = tr, [None] * n
            # the frame is validated: plain floats, a FrozenDict made here (no checks to repeat)
            slots[index[s]] = _bar(
                s, tr, o, h, lo, c, v, f, FrozenDict(zip(features, values)) if values else EMPTY
            )
    if slots is not None:
        yield _step(t, tuple(slots))


_bar = unchecked(Bar)
_step = unchecked(Step)
