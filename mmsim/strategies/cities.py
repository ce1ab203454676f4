"""City-named example strategies: small, readable templates to copy. Each one teaches one idea.

- tokyo:   a symmetric ladder around the close that stops quoting a side at the inventory cap
           (levels, sizes and caps);
- lisbon:  a spread that scales with rolling volatility (reading a feature);
- oslo:    quotes skewed by taker order-flow imbalance (a custom Polars feature from an extra
           column of the bars, taker_buy_volume);
- nairobi: quotes skewed toward a moving average (mean reversion);
- lima:    a spread that widens after each fill and relaxes over a cooldown (a strategy with
           its own state, carried by init/update).

All distances are in bps of the close and all sizes are USDT values per order, so one parameter
set works on BTC at 60,000 and on a coin at 0.5.
"""

from __future__ import annotations

import attrs

from mmsim.core.orders import NO_QUOTES, Quotes
from mmsim.data.features import volatility
from mmsim.strategies.base import Strategy, StrategyInput, stateless
from mmsim.strategies.ladder import ladder, side_room
from mmsim.strategies.params import (
    at_least,
    below,
    documented,
    finite,
    non_negative,
    optional,
    param,
    positive,
    strategy_factory,
)
from mmsim.strategies.signals import flow_imbalance, sma_close

_BELOW_100PCT = (positive, below(10_000.0))


def _one_level(
    reference: float,
    half_spread_bps: float,
    order_value: float,
    inputs: StrategyInput,
    max_position_value: float | None,
) -> Quotes:
    """One bid and one ask `half_spread_bps` around `reference`, each within the side's room."""
    position_value = inputs.position * inputs.bar.close
    bids = ladder(
        reference,
        (half_spread_bps,),
        (order_value,),
        1,
        side_room(position_value, max_position_value, 1),
    )
    asks = ladder(
        reference,
        (half_spread_bps,),
        (order_value,),
        -1,
        side_room(position_value, max_position_value, -1),
    )
    return Quotes(bids=bids, asks=asks, reservation_price=reference if reference > 0 else None)


# --- tokyo -----------------------------------------------------------------------------------


@documented
@attrs.frozen(slots=True)
class TokyoParams:
    """Tokyo: a symmetric ladder around the close (immutable, validated)."""

    levels: int = param(3, unit="levels", help="orders per side", checks=at_least(1))
    spacing_bps: float = param(
        10.0,
        unit="bps",
        help="level i (1..levels) sits i*spacing_bps from the close",
        checks=_BELOW_100PCT,
    )
    order_value: float = param(1_000.0, unit="USDT", help="value of each order", checks=positive)
    max_position_value: float = param(
        10_000.0,
        unit="USDT",
        help="cap on |position value|: a side stops quoting levels that could take it past the cap",
        checks=positive,
    )


def tokyo_quotes(params: TokyoParams, inputs: StrategyInput) -> Quotes:
    """bid_i = close*(1 - i*g/1e4), ask_i = close*(1 + i*g/1e4), i = 1..levels, while in room."""
    close = inputs.bar.close
    position_value = inputs.position * close
    distances = [(i + 1) * params.spacing_bps for i in range(params.levels)]
    values = [params.order_value] * params.levels
    cap = params.max_position_value
    return Quotes(
        bids=ladder(close, distances, values, 1, side_room(position_value, cap, 1)),
        asks=ladder(close, distances, values, -1, side_room(position_value, cap, -1)),
        reservation_price=close,
    )


@strategy_factory("tokyo", TokyoParams)
def tokyo(params: TokyoParams) -> Strategy:
    """Tokyo: a symmetric ladder of equal orders around the close; a side stops quoting the
    levels that would take |position value| past the cap, so inventory stays bounded.
    """
    return stateless("tokyo", lambda inputs: tokyo_quotes(params, inputs), params=params)


# --- lisbon ----------------------------------------------------------------------------------


@documented
@attrs.frozen(slots=True)
class LisbonParams:
    """Lisbon: a volatility-scaled half-spread (immutable, validated)."""

    vol_multiplier: float = param(
        1.5,
        unit="x sigma",
        help="half-spread in multiples of the per-bar volatility (bps)",
        checks=positive,
    )
    min_half_spread_bps: float = param(
        2.0, unit="bps", help="floor of the half-spread", checks=_BELOW_100PCT
    )
    vol_window: int = param(
        60, unit="bars", help="window of the rolling volatility", checks=at_least(2)
    )
    order_value: float = param(1_000.0, unit="USDT", help="value of each order", checks=positive)
    max_position_value: float | None = param(
        None,
        unit="USDT",
        help="stop quoting the side that would take |position value| past it",
        checks=optional(positive),
    )


def lisbon_quotes(params: LisbonParams, inputs: StrategyInput) -> Quotes:
    """h = max(min_half_spread_bps, vol_multiplier * sigma_bps); bid/ask = close*(1 -/+ h/1e4)."""
    sigma = inputs.bar.features.get(f"volatility_{params.vol_window}")
    if sigma is None:
        return NO_QUOTES
    h = min(max(params.min_half_spread_bps, params.vol_multiplier * sigma * 1e4), 9_999.0)
    return _one_level(inputs.bar.close, h, params.order_value, inputs, params.max_position_value)


@strategy_factory("lisbon", LisbonParams)
def lisbon(params: LisbonParams) -> Strategy:
    """Lisbon: one level per side at a half-spread proportional to rolling volatility, so the
    quotes widen when prices move fast (when resting orders are most likely picked off).
    """
    return stateless(
        "lisbon",
        lambda inputs: lisbon_quotes(params, inputs),
        params=params,
        features=(volatility(params.vol_window),),
    )


# --- oslo ------------------------------------------------------------------------------------


@documented
@attrs.frozen(slots=True)
class OsloParams:
    """Oslo: quotes skewed by taker order-flow imbalance (immutable, validated)."""

    half_spread_bps: float = param(
        8.0,
        unit="bps",
        help="distance of each quote from the reservation price",
        checks=_BELOW_100PCT,
    )
    imbalance_skew_bps: float = param(
        5.0,
        unit="bps",
        help="reservation shift at full buy imbalance (+1); > 0 leans with the flow",
        checks=finite,
    )
    flow_window: int = param(30, unit="bars", help="window of the imbalance", checks=at_least(1))
    order_value: float = param(1_000.0, unit="USDT", help="value of each order", checks=positive)
    max_position_value: float | None = param(
        None,
        unit="USDT",
        help="stop quoting the side that would take |position value| past it",
        checks=optional(positive),
    )


def oslo_quotes(params: OsloParams, inputs: StrategyInput) -> Quotes:
    """r = close*(1 + imbalance_skew_bps*I/1e4), I = (buys - sells)/volume over the window."""
    imbalance = inputs.bar.features.get(f"flow_imbalance_{params.flow_window}")
    if imbalance is None:
        return NO_QUOTES
    r = inputs.bar.close * (1 + params.imbalance_skew_bps * imbalance / 1e4)
    return _one_level(
        r, params.half_spread_bps, params.order_value, inputs, params.max_position_value
    )


@strategy_factory("oslo", OsloParams)
def oslo(params: OsloParams) -> Strategy:
    """Oslo: shifts both quotes in the direction of recent taker flow (from the bars'
    taker_buy_volume column), since aggressive buying tends to precede rising prices.
    """
    return stateless(
        "oslo",
        lambda inputs: oslo_quotes(params, inputs),
        params=params,
        features=(flow_imbalance(params.flow_window),),
    )


# --- nairobi ---------------------------------------------------------------------------------


@documented
@attrs.frozen(slots=True)
class NairobiParams:
    """Nairobi: quotes skewed toward a moving average (immutable, validated)."""

    ma_window: int = param(
        60, unit="bars", help="window of the moving average of the close", checks=at_least(2)
    )
    reversion: float = param(
        0.5,
        unit="fraction",
        help="share of the close's deviation from the average the reservation price moves back",
        checks=non_negative,
    )
    max_skew_bps: float = param(
        20.0, unit="bps", help="cap on |reservation - close|", checks=non_negative
    )
    half_spread_bps: float = param(
        8.0,
        unit="bps",
        help="distance of each quote from the reservation price",
        checks=_BELOW_100PCT,
    )
    order_value: float = param(1_000.0, unit="USDT", help="value of each order", checks=positive)
    max_position_value: float | None = param(
        None,
        unit="USDT",
        help="stop quoting the side that would take |position value| past it",
        checks=optional(positive),
    )


def nairobi_quotes(params: NairobiParams, inputs: StrategyInput) -> Quotes:
    """d = (close/SMA - 1)*1e4 bps; r = close*(1 - clip(reversion*d, ±max_skew_bps)/1e4)."""
    sma = inputs.bar.features.get(f"sma_close_{params.ma_window}")
    if sma is None:
        return NO_QUOTES
    close = inputs.bar.close
    deviation_bps = (close / sma - 1.0) * 1e4
    skew = max(-params.max_skew_bps, min(params.max_skew_bps, params.reversion * deviation_bps))
    r = close * (1 - skew / 1e4)
    return _one_level(
        r, params.half_spread_bps, params.order_value, inputs, params.max_position_value
    )


@strategy_factory("nairobi", NairobiParams)
def nairobi(params: NairobiParams) -> Strategy:
    """Nairobi: leans quotes back toward the moving average (buys cheaper after a drop, sells
    dearer after a rise), betting that short deviations revert.
    """
    return stateless(
        "nairobi",
        lambda inputs: nairobi_quotes(params, inputs),
        params=params,
        features=(sma_close(params.ma_window),),
    )


# --- lima ------------------------------------------------------------------------------------


@documented
@attrs.frozen(slots=True)
class LimaParams:
    """Lima: a spread that widens after fills (immutable, validated)."""

    half_spread_bps: float = param(
        6.0, unit="bps", help="resting half-spread", checks=_BELOW_100PCT
    )
    fill_widen_bps: float = param(
        10.0, unit="bps", help="extra half-spread right after a fill", checks=non_negative
    )
    cooldown_bars: int = param(
        10,
        unit="bars",
        help="bars over which the extra half-spread decays linearly to 0",
        checks=at_least(1),
    )
    order_value: float = param(1_000.0, unit="USDT", help="value of each order", checks=positive)
    max_position_value: float | None = param(
        None,
        unit="USDT",
        help="stop quoting the side that would take |position value| past it",
        checks=optional(positive),
    )


@attrs.frozen(slots=True)
class LimaState:
    """What Lima remembers between closes: the last position (base units) and bars since a fill."""

    position: float = 0.0
    bars_since_fill: int | None = None


def lima_update(
    params: LimaParams, state: LimaState, inputs: StrategyInput
) -> tuple[LimaState, Quotes]:
    """A position change since the last close means a fill: restart the cooldown.

    h = half_spread_bps + fill_widen_bps * max(0, 1 - k / cooldown_bars), k = bars since the fill.
    """
    if inputs.position != state.position:
        since = 0
    elif state.bars_since_fill is None:
        since = None
    else:
        since = state.bars_since_fill + 1
    extra = (
        0.0 if since is None else params.fill_widen_bps * max(0.0, 1 - since / params.cooldown_bars)
    )
    h = min(params.half_spread_bps + extra, 9_999.0)
    quotes = _one_level(inputs.bar.close, h, params.order_value, inputs, params.max_position_value)
    return LimaState(inputs.position, since), quotes


@strategy_factory("lima", LimaParams)
def lima(params: LimaParams) -> Strategy:
    """Lima: widens its spread after each fill and relaxes over a cooldown, a guard against
    adverse selection (a fill is often followed by a move against it); keeps state in init/update.
    """
    return Strategy(
        "lima", LimaState, lambda state, inputs: lima_update(params, state, inputs), params
    )
