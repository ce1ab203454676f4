"""The fixed-spread baseline: bid and ask at close * (1 -/+ h), one level, fixed order value."""

from __future__ import annotations

import attrs

from mmsim.core.orders import NO_QUOTES, Quotes
from mmsim.strategies.base import Strategy, StrategyInput, stateless
from mmsim.strategies.params import below, documented, optional, param, positive, strategy_factory


@documented
@attrs.frozen(slots=True)
class FixedSpreadParams:
    """A symmetric one-level quote around the close (immutable, validated)."""

    half_spread_bps: float = param(
        10.0,
        unit="bps",
        help="distance of each quote from the close",
        checks=(positive, below(10_000.0)),
    )
    order_value: float = param(1_000.0, unit="USDT", help="value of each order", checks=positive)
    max_position_value: float | None = param(
        None,
        unit="USDT",
        help="stop quoting the side that would take |position value| above it",
        checks=optional(positive),
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


@strategy_factory("fixed_spread", FixedSpreadParams)
def fixed_spread(params: FixedSpreadParams) -> Strategy:
    """A symmetric one-level quote around the close: the baseline every strategy must beat."""
    return stateless(
        "fixed_spread", lambda inputs: fixed_spread_quotes(params, inputs), params=params
    )
