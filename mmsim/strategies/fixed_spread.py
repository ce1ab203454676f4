"""The fixed-spread baseline: bid and ask at close * (1 -/+ h), one level, fixed order value."""

from __future__ import annotations

import attrs
from attrs import validators as v

from mmsim.orders import NO_QUOTES, Quotes
from mmsim.strategies.base import Strategy, StrategyInput, stateless


@attrs.frozen(slots=True)
class FixedSpreadParams:
    """half_spread_bps: distance of each quote from the close (bps of the close).
    order_value: USDT per order. max_position_value: stop quoting the side that would grow |position|
    beyond this notional (USDT; None = no cap).
    """

    half_spread_bps: float = attrs.field(default=10.0, validator=[v.gt(0.0), v.lt(10_000.0)])
    order_value: float = attrs.field(default=1_000.0, validator=v.gt(0.0))
    max_position_value: float | None = attrs.field(
        default=None, validator=v.optional(v.gt(0.0))
    )


def fixed_spread_quotes(params: FixedSpreadParams, inputs: StrategyInput) -> Quotes:
    """Quotes of the fixed-spread baseline for one bar close."""
    close = inputs.bar.close
    h = params.half_spread_bps / 1e4
    qty = params.order_value / close
    bid_ok = ask_ok = True
    if params.max_position_value is not None:
        exposure = inputs.position * close
        bid_ok = exposure + params.order_value <= params.max_position_value
        ask_ok = -exposure + params.order_value <= params.max_position_value
    if not (bid_ok or ask_ok):
        return NO_QUOTES
    return Quotes(
        bids=((close * (1 - h), qty),) if bid_ok else (),
        asks=((close * (1 + h), qty),) if ask_ok else (),
        reservation_price=close,
    )


def fixed_spread(
    *,
    half_spread_bps: float = 10.0,
    order_value: float = 1_000.0,
    max_position_value: float | None = None,
) -> Strategy:
    """A symmetric one-level market maker around the close: the baseline every strategy must beat."""
    params = FixedSpreadParams(half_spread_bps, order_value, max_position_value)
    return stateless(
        "fixed_spread", lambda inputs: fixed_spread_quotes(params, inputs), params=params
    )
