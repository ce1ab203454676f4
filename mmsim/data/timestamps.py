"""Timestamps in, µs out: epoch-unit detection, ISO parsing, interval names and date bounds.

All times are UTC. Loaders turn every timestamp into a naive `Datetime("us")` holding UTC.
"""

from __future__ import annotations

import datetime as dt
import re

import polars as pl

from mmsim.core.clock import interval_name, parse_duration_us
from mmsim.data.errors import DataError

# Market times are 1980 .. 2100; a number is read in the one unit that puts it there.
EARLIEST = dt.datetime(1980, 1, 1)
LATEST = dt.datetime(2100, 1, 1)
_SECONDS = (
    (EARLIEST - dt.datetime(1970, 1, 1)).total_seconds(),
    (LATEST - dt.datetime(1970, 1, 1)).total_seconds(),
)
_BANDS = tuple(
    (unit, _SECONDS[0] * scale, _SECONDS[1] * scale, factor)
    for unit, scale, factor in (
        ("s", 1, 1_000_000),
        ("ms", 1e3, 1_000),
        ("us", 1e6, 1),
        ("ns", 1e9, None),  # divide by 1,000
    )
)
UNITS = tuple(b[0] for b in _BANDS)
UNIT_NAMES = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds"}


def epoch_reading(unit: str, detected: bool) -> str:
    """How epoch numbers were read, for messages: 'epoch milliseconds (detected)'."""
    return f"epoch {UNIT_NAMES[unit]}" + (" (detected)" if detected else " (as given)")


def _band(value: float) -> str | None:
    for unit, lo, hi, _ in _BANDS:
        if lo <= value < hi:
            return unit
    return None


def _readings(value: float) -> str:
    """What an out-of-range epoch number would mean in each unit, for the error message."""
    out = []
    for unit, scale in (("s", 1), ("ms", 1e3), ("us", 1e6), ("ns", 1e9)):
        try:
            when = dt.datetime(1970, 1, 1) + dt.timedelta(seconds=value / scale)
            out.append(f"as {unit} {when:%Y-%m-%d}")
        except (OverflowError, ValueError):
            continue
    return "; ".join(out) or "no date in any unit"


def detect_epoch_unit(values: pl.Series, where: str) -> str:
    """The unit (s, ms, us or ns since 1970) of a numeric timestamp column, from its magnitude.

    A market time lies in 1980 .. 2100, and each unit puts a number there in only one way.
    Raises DataError naming `where` and the row when a value fits no unit (negative, or a date
    outside that range in every unit) or when the smallest and largest values look like
    different units (a file mixing ms and µs, say).
    """
    finite = values.drop_nulls()
    if finite.dtype.is_float():
        finite = finite.filter(finite.is_finite())
    if finite.len() == 0:
        raise DataError(f"{where}: no timestamps to read")
    lo, hi = finite.min(), finite.max()
    units = {_band(lo), _band(hi)}
    if None in units:
        bad = lo if _band(lo) is None else hi
        row = int((values == bad).arg_true()[0])
        raise DataError(
            f"{where}: timestamp {bad!r} at row {row} is in an unknown unit: no market time "
            f"({_readings(bad)}; expected seconds, ms, µs or ns since 1970-01-01 UTC giving "
            f"{EARLIEST:%Y} .. {LATEST:%Y})"
        )
    if len(units) > 1:
        lo_row = int((values == lo).arg_true()[0])
        hi_row = int((values == hi).arg_true()[0])
        raise DataError(
            f"{where}: timestamps in mixed units: {lo!r} at row {lo_row} looks like {_band(lo)} "
            f"but {hi!r} at row {hi_row} looks like {_band(hi)}"
        )
    return units.pop()


def epoch_to_us(expr: pl.Expr, unit: str) -> pl.Expr:
    """An epoch number in `unit` -> Int64 µs (fractional seconds kept to the µs)."""
    if unit not in UNITS:
        raise DataError(f"unknown time unit {unit!r}; use one of {UNITS} or 'iso'")
    factor = dict((b[0], b[3]) for b in _BANDS)[unit]
    if factor is None:
        return (expr.cast(pl.Float64) / 1000).round(0).cast(pl.Int64)
    return (expr.cast(pl.Float64) * factor).round(0).cast(pl.Int64)


def us_to_datetime(expr: pl.Expr) -> pl.Expr:
    """Int64 µs since the epoch -> naive Datetime("us") (UTC)."""
    return pl.from_epoch(expr, time_unit="us")


def parse_iso(expr: pl.Expr, time_format: str | None = None) -> pl.Expr:
    """ISO-8601 text -> naive UTC Datetime("us"); values with an offset are converted to UTC.

    Unparseable values become null so the caller can name the first one.
    """
    return (
        expr.str.strip_chars()
        .str.to_datetime(format=time_format, time_unit="us", strict=False, time_zone="UTC")
        .dt.replace_time_zone(None)
    )


def interval_us(text: str | int) -> int:
    """'1m', '4h', '1d', '1w' (Binance names too) or an int of µs -> µs; monthly bars refused."""
    if isinstance(text, int):
        if text <= 0:
            raise DataError(f"interval must be positive, got {text}")
        return text
    if str(text).strip() in ("1M", "1mo"):
        raise DataError("monthly bars (1M/1mo) have no fixed length; use '1w' or shorter")
    try:
        return parse_duration_us(text)
    except ValueError as exc:
        raise DataError(str(exc)) from None


def parse_bound(value: str | dt.date | dt.datetime | None, *, end: bool) -> dt.datetime | None:
    """A start/end bound -> naive UTC datetime. A bare date as `end` means through that whole day.

    Start is inclusive; end is exclusive: `end="2024-03-31"` keeps bars opening before
    2024-04-01 00:00, while `end="2024-03-31 12:00"` keeps bars opening before 12:00.
    """
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
                value = dt.date.fromisoformat(text)
            else:
                value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise DataError(
                f"cannot read date {value!r}: use YYYY-MM-DD or ISO date-time"
            ) from None
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value
    if isinstance(value, dt.date):
        day = dt.datetime(value.year, value.month, value.day)
        return day + dt.timedelta(days=1) if end else day
    raise DataError(f"cannot read date {value!r}: use YYYY-MM-DD, a date or a datetime")


__all__ = [
    "UNITS",
    "UNIT_NAMES",
    "detect_epoch_unit",
    "epoch_reading",
    "epoch_to_us",
    "interval_name",
    "interval_us",
    "parse_bound",
    "parse_iso",
    "us_to_datetime",
]
