"""Small pure helpers shared by the strategies: bps offsets, inventory in order sizes, ladders.

Sign convention: side = +1 bid, -1 ask; a distance is in bps of a reference price and positive
away from it (a bid at distance d sits at ref * (1 - d / 1e4), an ask at ref * (1 + d / 1e4)).
"""

from __future__ import annotations

from collections.abc import Sequence

# cumulative notional may exceed the room by this much (USDT) from float error alone
_EPS = 1e-9


def at_bps(reference: float, offset_bps: float) -> float:
    """reference * (1 + offset_bps / 1e4): a price `offset_bps` above (below if < 0) reference."""
    return reference * (1.0 + offset_bps / 1e4)


def level_price(reference: float, distance_bps: float, side: int) -> float:
    """The price of a quote `distance_bps` away from `reference` on `side` (+1 bid, -1 ask)."""
    return reference * (1.0 - side * distance_bps / 1e4)


def side_room(position_value: float, cap: float | None, side: int) -> float:
    """USDT a side may still add before |position value| passes `cap` (inf without a cap).

    position_value: signed USDT (qty * close); a bid adds, an ask subtracts.
    """
    if cap is None:
        return float("inf")
    return max(cap - side * position_value, 0.0)


def ladder(
    reference: float,
    distances_bps: Sequence[float],
    values: Sequence[float],
    side: int,
    room: float = float("inf"),
) -> tuple[tuple[float, float], ...]:
    """(price, qty) levels of one side, innermost first, each worth `values[i]` USDT at its price.

    Levels are kept in order while their cumulative value stays within `room` (USDT); the first
    level that would pass it and every level after are dropped, as is any level with a price
    <= 0 or a value <= 0.
    """
    levels, used = [], 0.0
    for d, value in zip(distances_bps, values, strict=True):
        price = level_price(reference, d, side)
        if price <= 0 or value <= 0:
            continue
        if used + value > room + _EPS:
            break
        used += value
        levels.append((price, value / price))
    return tuple(levels)


__all__ = ["at_bps", "ladder", "level_price", "side_room"]
