"""Intensity fills: Poisson market orders hit a quote at a rate that decays with its distance.

A resting quote at distance δ from the bar's reference mid is filled within the bar with the
probability of a Poisson arrival of intensity λ(δ) = A·exp(−κ·δ) (Avellaneda & Stoikov 2008).
Units: δ in price units (units="price", the paper's) or in bps of the reference mid
(units="bps"); κ per unit of δ; A arrivals per time unit; dt the bar length in that time unit.
Probability per bar: λ(δ)·dt (probability="linear", the paper's; a value >= 1 is a sure fill) or
1 − exp(−λ(δ)·dt) (probability="poisson", the exact chance of at least one arrival).

Within-bar assumptions (the bar carries no order of events):
- the reference mid is the bar's open: the price at which the quotes were set (the previous
  close); a bid at p has δ = open − p, an ask δ = p − open, measured on the tick grid (a
  difference within 1e-6 tick of a whole number k of ticks is exactly k·tick: a quote one tick
  from the open has δ = tick, not 0.0099999999997635); a quote on the far side of the mid
  has δ < 0 and fills with a probability above A·dt;
- the decision is u < probability, with u a uniform draw in [0, 1) read from the bar's column
  `bid_draw` (bids) or `ask_draw` (asks): one draw per side and bar, shared by all levels of the
  side, so a market order that reaches depth δ fills every level inside it (fills are nested);
- a filled order fills in full at its limit price with the maker fee; the trade-through settings
  (penetration_ticks, max_participation) do not apply; market orders fill at the open as in
  `match_bar`.
Fills are independent of the bar's price path: no adverse selection, an optimistic model on real
bars, where the trade-through rule (fills only when the price runs through the quote) is the
pessimistic one. The randomness lives in the frame only: the same frame gives the same fills.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import numpy as np
import polars as pl

from mmsim.core.matching import PerSymbolMatching, maker_fill
from mmsim.core.orders import Fill, Order
from mmsim.core.params import Check, documented, one_of, param, positive
from mmsim.core.venue import SymbolSpec, Venue, snap_to_ticks

PROBABILITIES = ("linear", "poisson")
UNITS = ("price", "bps")


column_name = Check(
    lambda x: isinstance(x, str) and x.isidentifier(), "a column name (an identifier)"
)


@documented
@attrs.frozen(slots=True)
class IntensityParams:
    """The fill model λ(δ) = A·exp(−κ·δ) per time unit over bars of length dt (immutable).

    A: arrivals per time unit at δ = 0; kappa: decay per unit of δ; dt: bar length in the time
    unit of A; probability: "linear" (λ·dt) or "poisson" (1 − exp(−λ·dt)); units: δ in "price"
    or "bps" of the reference mid; bid_draw / ask_draw: the columns holding uniform draws.
    """

    A: float = param(unit="per time unit", help="arrivals at δ = 0", checks=positive)
    kappa: float = param(unit="per unit of δ", help="decay of arrivals with δ", checks=positive)
    dt: float = param(1.0, unit="time units", help="bar length in A's time unit", checks=positive)
    probability: str = param(
        "linear",
        unit="",
        help="'linear' (λ·dt) or 'poisson' (1 − exp(−λ·dt))",
        checks=one_of(*PROBABILITIES),
    )
    units: str = param(
        "bps", unit="", help="δ in 'price' or 'bps' of the mid", checks=one_of(*UNITS)
    )
    bid_draw: str = param(
        "u_bid", unit="", help="column of the bids' uniform draws", checks=column_name
    )
    ask_draw: str = param(
        "u_ask", unit="", help="column of the asks' uniform draws", checks=column_name
    )

    def __attrs_post_init__(self):
        if self.bid_draw == self.ask_draw:
            raise ValueError(
                f"bid_draw and ask_draw must be different columns, both are {self.bid_draw!r}: "
                "one draw for both sides would make bid and ask fills dependent"
            )


def quote_distance(mid, price, side: int, units: str, tick_size=None):
    """δ of a quote from `mid`: mid − price for a bid (side +1), price − mid for an ask.

    In price units, or in bps of `mid` with units="bps". With `tick_size`, the price difference
    is first snapped to whole ticks where float noise hides them (`snap_to_ticks`).
    Elementwise on numpy arrays too (tick_size may be an array).
    """
    delta = (mid - price) if side > 0 else (price - mid)
    if tick_size is not None:
        delta = snap_to_ticks(delta, tick_size)
    return delta if units == "price" else delta / mid * 1e4


def fill_probability(params: IntensityParams, delta):
    """The chance that a quote at distance δ fills within one bar (see the module docstring).

    Elementwise on numpy arrays; the "linear" form may exceed 1 (a sure fill). np.exp is used
    for scalars and arrays alike so the engine and a vectorised path get identical floats.
    """
    # the exponent is capped so a quote far through the mid gives a huge finite rate, not inf
    rate_dt = params.A * np.exp(np.minimum(-params.kappa * delta, 700.0)) * params.dt
    if params.probability == "linear":
        return rate_dt
    return -np.expm1(-rate_dt)


def is_filled(params: IntensityParams, delta, draw):
    """The fill decision: draw < fill_probability(δ). Elementwise on numpy arrays."""
    return draw < fill_probability(params, delta)


def _draw(bar, column: str) -> float:
    features = bar.features
    if column not in features:
        raise ValueError(
            f"intensity fills read uniform draws from column {column!r}, which the bars of "
            f"symbol {bar.symbol!r} do not have (features: {sorted(features)}); add them with "
            "mmsim.add_uniform_draws(bars, seed=...)"
        )
    u = features[column]
    if u is None or not (0.0 <= u < 1.0):
        raise ValueError(
            f"column {column!r} must hold uniform draws in [0, 1); got {u!r} for symbol "
            f"{bar.symbol!r} at ts {bar.ts} (µs since the epoch)"
        )
    return u


def intensity_limit_fills(
    orders: tuple[Order, ...],
    bar,
    params: IntensityParams,
    venue: Venue,
    spec: SymbolSpec | None = None,
) -> tuple[Fill, ...]:
    """Fills of one symbol's resting limit orders in its bar under the intensity model.

    spec: the symbol's tick (δ on the tick grid); None measures δ in raw floats.
    """
    mid = bar.open
    tick = None if spec is None else spec.tick_size
    fills = []
    for side, column in ((1, params.bid_draw), (-1, params.ask_draw)):
        mine = sorted((o for o in orders if o.side == side), key=lambda o: o.level)
        if not mine:
            continue
        u = _draw(bar, column)
        for order in mine:
            delta = quote_distance(mid, order.price, side, params.units, tick)
            if not is_filled(params, delta, u):
                continue
            fills.append(maker_fill(order, bar.ts, order.qty, venue))
    return tuple(fills)


def intensity_matching(
    *,
    A: float,
    kappa: float,
    dt: float = 1.0,
    probability: str = "linear",
    units: str = "bps",
    bid_draw: str = "u_bid",
    ask_draw: str = "u_ask",
):
    """A matching stage for `backtest(..., matching=...)` / `make_step` with intensity fills.

    Returns a `PerSymbolMatching` called as `match(resting, market_orders, bars, symbols, specs,
    venue) -> fills`, the signature of `mmsim.core.matching.match_bar`; its parameters are on
    `match.params` (an IntensityParams). Market orders fill at the open first, as in
    `match_bar`; a symbol with no bar fills nothing.
    """
    params = IntensityParams(A, kappa, dt, probability, units, bid_draw, ask_draw)
    return PerSymbolMatching(IntensityFills(params), params, "intensity_matching")


@attrs.frozen(slots=True)
class IntensityFills:
    """The per-symbol limit-fill rule of `intensity_matching` (immutable):
    `fills(orders, bar, spec, venue)` is `intensity_limit_fills` with these params."""

    params: IntensityParams

    def __call__(self, orders, bar, spec: SymbolSpec, venue: Venue) -> tuple[Fill, ...]:
        return intensity_limit_fills(orders, bar, self.params, venue, spec)


def add_uniform_draws(
    bars: pl.DataFrame, *, seed: int, names: Sequence[str] = ("u_bid", "u_ask")
) -> pl.DataFrame:
    """The bars sorted by (ts, symbol) with one column of uniform [0, 1) draws per name.

    Drawn by numpy's default Generator seeded with `seed`, row by row in (ts, symbol) order, so
    the same bars and seed always give the same draws whatever the input row order.
    """
    names = tuple(names)
    for name in names:
        if not (isinstance(name, str) and name.isidentifier()):
            raise ValueError(f"draw column names must be identifiers, got {name!r}")
        if name in bars.columns:
            raise ValueError(f"bars frame already has a column {name!r}; choose other draw names")
    if len(set(names)) != len(names):
        raise ValueError(f"draw column names must be distinct, got {names}")
    frame = bars.sort("ts", "symbol", maintain_order=True)
    draws = np.random.default_rng(seed).random((frame.height, len(names)))
    return frame.with_columns(pl.Series(name, draws[:, k]) for k, name in enumerate(names))


__all__ = [
    "IntensityFills",
    "IntensityParams",
    "add_uniform_draws",
    "fill_probability",
    "intensity_limit_fills",
    "intensity_matching",
    "is_filled",
    "quote_distance",
]
