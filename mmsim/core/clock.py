"""Durations and horizons in microseconds, the engine's unit of time (UTC epoch µs)."""

from __future__ import annotations

import re

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration_us(text: str | int | float) -> int:
    """'1d', '8h', '15m', '30s' or a number of seconds -> microseconds."""
    if isinstance(text, int | float):
        seconds = float(text)
    else:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", str(text))
        if not match:
            raise ValueError(f"cannot read duration {text!r}: use e.g. '30s', '15m', '8h', '1d'")
        seconds = float(match[1]) * _UNITS[match[2]]
    if seconds <= 0:
        raise ValueError(f"duration must be positive, got {text!r}")
    return int(round(seconds * 1e6))


def time_left_us(close_ts: int, horizon_us: int) -> int:
    """Time from `close_ts` to the end of its horizon window (windows aligned to the epoch, UTC)."""
    return horizon_us - close_ts % horizon_us


_INTERVAL_NAMES = (
    (604_800, "w"),
    (86_400, "d"),
    (3_600, "h"),
    (60, "m"),
    (1, "s"),
)


def interval_name(interval_us: int) -> str:
    """60_000_000 -> '1m', 3_600_000_000 -> '1h'; the largest unit that divides it."""
    seconds, rest = divmod(int(interval_us), 1_000_000)
    if rest or seconds <= 0:
        return f"{interval_us}us"
    for size, name in _INTERVAL_NAMES:
        if seconds % size == 0:
            return f"{seconds // size}{name}"
    return f"{seconds}s"
