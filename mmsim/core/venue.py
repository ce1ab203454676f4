"""The venue: fees, tick and lot sizes, fill rule and margin parameters of a linear USDT perpetual.

Fees are fractions of fill notional (0.0002 = 2 bps); a negative maker fee is a rebate.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import attrs
import numpy as np

from mmsim.core.params import (
    ParamError,
    at_least,
    between,
    documented,
    each_value,
    is_number,
    one_of,
    optional,
    param,
    positive,
)


def _frozen_map(value) -> tuple[tuple[str, Any], ...]:
    # a sorted tuple of pairs keeps the Venue hashable and its repr stable; a size that is no
    # number is kept as given, for the validator to name it
    return tuple(
        sorted((str(k), float(x) if is_number(x) else x) for k, x in dict(value or {}).items())
    )


POST_ONLY_MODES = ("clamp", "reject", False)
_POST_ONLY_EXPECTED = (
    "'clamp' (move a crossing quote behind the close), 'reject' (refuse it; True means the "
    "same) or False (let it rest)"
)


def _post_only_mode(value):
    # True is an exchange's plain post-only flag: it refuses a crossing order
    if value is True:
        return "reject"
    if value is False or (isinstance(value, str) and value in POST_ONLY_MODES):
        return value
    raise ParamError("post_only", value, _POST_ONLY_EXPECTED)


def infer_tick_size(price: float) -> float:
    """A tick of 0.1 to 1 bps of `price` (BTC at 60,000 -> 0.1, ETH at 3,000 -> 0.01)."""
    return 10.0 ** (math.floor(math.log10(price)) - 5)


def infer_lot_size(price: float) -> float:
    """A lot worth 1 to 10 USDT at `price` (BTC at 60,000 -> 0.0001, a coin at 0.5 -> 10)."""
    return 10.0 ** (-math.floor(math.log10(price)))


@functools.lru_cache(maxsize=1024)
def _decimals(step: float) -> int | None:
    """The decimals of `step` as written (0.01 -> 2, 2^-14 -> 14); None when it has over 17."""
    # every whole multiple of the step has at most as many: rounding to them removes only
    # float noise (7 x 0.1 = 0.7000000000000001 -> 0.7) and never a digit of the grid
    return next((d for d in range(18) if round(step, d) == step), None)


@functools.lru_cache(maxsize=1024)
def _decimal_step(step: float) -> tuple[int, float, int] | None:
    """(m, 10.0**d, d) with step = m / 10**d (0.5 -> (5, 10.0, 1)); None past 17 decimals."""
    d = _decimals(step)
    return None if d is None else (round(step * 10**d), 10.0**d, d)


_EXACT = 2**53  # integers below this are exact floats


def on_grid(n: int, step: float) -> float:
    """n steps (a whole number of ticks or lots) as the float nearest to their decimal value."""
    return on_decimal_grid(n, step, _decimal_step(step))


def on_decimal_grid(n: int, step: float, grid) -> float:
    """`on_grid(n, step)` with `grid = _decimal_step(step)` already read (per symbol, once)."""
    if grid is None:
        return n * step
    m, scale, d = grid
    units = n * m
    # the float nearest to units / 10**d is the IEEE quotient of two exact floats: the value
    # round(n * step, d) gives, without its decimal conversion
    if type(units) is int and -_EXACT < units < _EXACT:
        return units / scale
    return round(n * step, d)


# Prices on the tick grid are compared in ticks, up to this fraction of a tick: the float noise
# of a difference of two grid prices is about 1e-9 tick (for prices below ~1e8 ticks), a real
# difference is at least one tick.
TICK_TOLERANCE = 1e-6


def ticks_through(side, price, low, high, tick_size):
    """How far, in ticks, a bar traded through a resting order at `price`: (price - low) / tick
    for a buy (side +1), (high - price) / tick for a sell (-1); negative when it did not reach it.

    Elementwise on numpy arrays and Polars expressions of prices too (side is a plain int).
    """
    return (price - low) / tick_size if side > 0 else (high - price) / tick_size


def at_or_through(side, price, low, high, penetration_ticks, tick_size):
    """The trade-through rule on the tick grid: a buy at p fills when low <= p - n*tick, a sell
    when high >= p + n*tick (n = penetration_ticks; n = 0: on touch), compared in ticks as
    `ticks_through(...) >= n - TICK_TOLERANCE`, so a low exactly n ticks below a bid fills
    whatever the floats of p - n*tick (2146.45 - 0.01 is 2146.4399999999996).

    Elementwise on numpy arrays and Polars expressions of prices too (side is a plain int).
    """
    return ticks_through(side, price, low, high, tick_size) >= penetration_ticks - TICK_TOLERANCE


def snap_to_ticks(distance, tick_size):
    """A price distance made a whole number of ticks when it is within TICK_TOLERANCE of one
    (the float noise of a difference of grid prices); left as it is otherwise (elementwise)."""
    ticks = np.asarray(distance, dtype=float) / tick_size
    whole = np.round(ticks)
    snapped = np.where(np.abs(ticks - whole) <= TICK_TOLERANCE, whole * tick_size, distance)
    return snapped if snapped.ndim else float(snapped)


def whole_lots(qty: float, lot_size: float) -> int:
    """The whole number of lots in `qty`, rounded down, float noise forgiven (1e-9 lot plus a
    relative 1e-12, since the noise grows with the count): 0.3 / 0.1 = 2.9999999999999996 is 3."""
    lots = qty / lot_size
    return math.floor(lots + 1e-9 + 1e-12 * abs(lots))


def round_price(price: float, tick_size: float, side: int) -> float:
    """Round a limit price to the tick grid: bids (side=+1) down, asks (side=-1) up."""
    ticks = price / tick_size
    # float noise forgiven as in whole_lots (it grows with the count): 100.0/0.1 = 999.9999999
    # is 1000 ticks, and 4249660.6/0.1 = 42496605.99999999 is 42496606
    noise = 1e-9 + 1e-12 * abs(ticks)
    n = math.floor(ticks + noise) if side > 0 else math.ceil(ticks - noise)
    return on_grid(n, tick_size)


def round_qty(qty: float, lot_size: float) -> float:
    """Round a quantity down to a whole number of lots (never up: never more than asked)."""
    return on_grid(whole_lots(qty, lot_size), lot_size)


SPEC_SOURCES = ("given", "venue", "prices", "volumes", "rule")


@attrs.frozen(slots=True)
class SymbolSpec:
    """A symbol's trading grid: tick size (USDT) and lot size (base units) (immutable).

    tick_source / lot_source: where each size came from: "venue" (Venue.tick_sizes or
    lot_sizes), "prices" (the finest decimal grid of the symbol's OHLC prices), "volumes" (that
    of its volumes), "rule" (`infer_tick_size` / `infer_lot_size` of its first close) or
    "given" (built by hand).
    """

    tick_size: float = param(
        unit="USDT", help="price step of the symbol's order book", checks=optional(positive)
    )
    lot_size: float = param(
        unit="base units", help="quantity step of the symbol's orders", checks=optional(positive)
    )
    tick_source: str = param(
        "given", unit="", help="where tick_size came from", checks=one_of(*SPEC_SOURCES)
    )
    lot_source: str = param(
        "given", unit="", help="where lot_size came from", checks=one_of(*SPEC_SOURCES)
    )


@documented
@attrs.frozen(slots=True)
class Venue:
    """Fees, fill rule and margin rules of a linear USDT-margined perpetual venue (immutable).

    penetration_ticks: a resting buy at p fills when low <= p - n*tick (sell: high >= p + n*tick),
        compared on the tick grid (`at_or_through`).
    market_slippage_bps: market orders fill at open*(1 + side*slippage/1e4) (against the trader);
        below 1,000 bps.
    maintenance_margin_rate: margin ratio = sum(notional*rate)/equity; liquidation at ratio >= 1.
    tick_sizes / lot_sizes: per-symbol sizes; a symbol not listed gets the finest decimal grid
    its prices (volumes) sit on, or, when the data shows none, a size from its first close
    (see `mmsim.core.specs`, `infer_tick_size`, `infer_lot_size`).
    post_only: what placement does with a bid at or above the close or an ask at or below it
    (compared on the tick grid): "clamp" (the default) moves it to the best price behind the
    close, one tick away (bid close - tick, ask close + tick), as a bot joins the best price
    on its side; "reject" refuses it, as an exchange's post-only flag does (True means
    "reject"); False lets it rest and the matching stage decide its fill (a model's setting,
    e.g. Avellaneda-Stoikov 2008, whose quotes around the reservation price may cross the mid).
    """

    maker_fee: float = param(
        0.0002,
        unit="fraction of notional",
        help="paid on maker fills; negative = rebate",
        checks=between(-0.01, 0.01),
    )
    taker_fee: float = param(
        0.0005,
        unit="fraction of notional",
        help="paid on market orders and liquidations",
        checks=between(0.0, 0.01, closed="left"),
    )
    penetration_ticks: int = param(
        1, unit="ticks", help="how far a bar trades through a quote to fill it", checks=at_least(0)
    )
    max_participation: float | None = param(
        None,
        unit="fraction of bar volume",
        help="cap on the quantity filled per side and bar (None: no cap)",
        checks=optional(between(0.0, 1.0, closed="right")),
    )
    market_slippage_bps: float = param(
        0.0,
        unit="bps",
        help="market orders fill this far beyond the open, against the trader",
        checks=between(0.0, 1000.0, closed="left"),  # 10%: a price stays > 0
    )
    maintenance_margin_rate: float = param(
        0.005,
        unit="fraction of notional",
        help="maintenance margin; liquidation when the margin reaches equity",
        checks=between(0.0, 1.0),
    )
    tick_sizes: tuple[tuple[str, float], ...] = param(
        factory=tuple,
        unit="USDT",
        help="per-symbol price steps (others read from the data)",
        converter=_frozen_map,
        checks=each_value(positive),
    )
    lot_sizes: tuple[tuple[str, float], ...] = param(
        factory=tuple,
        unit="base units",
        help="per-symbol quantity steps (others read from the data)",
        converter=_frozen_map,
        checks=each_value(positive),
    )
    post_only: str | bool = param(
        "clamp",
        unit="",
        help="a quote at or through the close: 'clamp', 'reject' or False (let it rest)",
        converter=_post_only_mode,
        checks=one_of(*POST_ONLY_MODES),
    )

    def spec(
        self,
        symbol: str,
        reference_price: float,
        *,
        tick_size: float | None = None,
        lot_size: float | None = None,
    ) -> SymbolSpec:
        """The tick and lot size of `symbol`: the venue's when it lists them, else tick_size /
        lot_size read from the data (`mmsim.core.specs`), else the rule of thumb at
        `reference_price`."""
        tick, tick_source = _pick(
            dict(self.tick_sizes).get(symbol), tick_size, "prices", infer_tick_size, reference_price
        )
        lot, lot_source = _pick(
            dict(self.lot_sizes).get(symbol), lot_size, "volumes", infer_lot_size, reference_price
        )
        return SymbolSpec(tick, lot, tick_source, lot_source)


def _pick(listed, from_data, data_source, rule, reference_price):
    if listed:
        return listed, "venue"
    if from_data:
        return from_data, data_source
    return rule(reference_price), "rule"
