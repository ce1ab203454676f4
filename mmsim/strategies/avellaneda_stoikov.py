"""Avellaneda & Stoikov (2008), "High-frequency trading in a limit order book".

The model's two formulas, unit-agnostic (any consistent price unit x):
    reservation price  r = s - q * gamma * sigma**2 * (T - t)
    optimal spread     delta = gamma * sigma**2 * (T - t) + (2 / gamma) * ln(1 + gamma / kappa)
with s the mid (x), q the inventory (in order sizes), gamma the risk aversion (1/x), sigma the
volatility (x per sqrt(time unit)), T - t the time left (time units), kappa the decay of the fill
intensity with distance (1/x).

The strategy applies them in basis points of the close by default (units="bps"): sigma is the
rolling std of log returns expressed in bps per sqrt(bar), T - t is counted in bars, and gamma
and kappa are per bps; so one parameter set means the same on BTC at 60,000 and on a coin at
0.5. With units="price" they apply in USDT (sigma = close * return std per sqrt(bar)).
The paper's numeric example (s=100, sigma=2, kappa=1.5, gamma=0.1, T-t=1) is
`reservation_price(100, q, 0.1, 2, 1)` and `optimal_spread(0.1, 2, 1, 1.5)`.
"""

from __future__ import annotations

import math

import attrs
from attrs import validators as v

from mmsim.features import volatility
from mmsim.orders import NO_QUOTES, Quotes
from mmsim.strategies.base import (
    Strategy,
    StrategyInput,
    parse_duration_us,
    stateless,
    time_left_us,
)


def reservation_price(mid: float, inventory: float, gamma: float, sigma: float, time_left: float) -> float:
    """r = s - q * gamma * sigma^2 * (T - t), in the unit of `mid`."""
    return mid - inventory * gamma * sigma**2 * time_left


def optimal_spread(gamma: float, sigma: float, time_left: float, kappa: float) -> float:
    """delta = gamma * sigma^2 * (T - t) + (2 / gamma) * ln(1 + gamma / kappa): bid-to-ask distance."""
    return gamma * sigma**2 * time_left + (2.0 / gamma) * math.log1p(gamma / kappa)


@attrs.frozen(slots=True)
class AvellanedaStoikovParams:
    """gamma: risk aversion (1/bps, or 1/USDT with units="price"); kappa: fill-intensity decay
    (same unit); horizon: the session length after which T - t resets (e.g. '1d', aligned to UTC
    midnight); order_value: USDT per order, also the unit of q; vol_window: bars in the rolling
    volatility; max_inventory: stop quoting the side that would take |q| above it (order sizes).
    """

    gamma: float = attrs.field(default=0.0001, validator=v.gt(0.0))
    kappa: float = attrs.field(default=0.5, validator=v.gt(0.0))
    horizon: str = attrs.field(default="1d")
    order_value: float = attrs.field(default=1_000.0, validator=v.gt(0.0))
    vol_window: int = attrs.field(default=60, validator=v.ge(2))
    max_inventory: float | None = attrs.field(default=None, validator=v.optional(v.gt(0.0)))
    units: str = attrs.field(default="bps", validator=v.in_(("bps", "price")))
    horizon_us: int = attrs.field(init=False)

    @horizon_us.default
    def _horizon_us(self):
        return parse_duration_us(self.horizon)


def avellaneda_stoikov_quotes(params: AvellanedaStoikovParams, inputs: StrategyInput) -> Quotes:
    """Quotes at one bar close; no quotes while the volatility feature is still warming up."""
    bar = inputs.bar
    sigma_ret = bar.features.get(f"volatility_{params.vol_window}")
    if sigma_ret is None:
        return NO_QUOTES
    s = bar.close
    q = inputs.position * s / params.order_value
    bars_left = time_left_us(inputs.close_ts, params.horizon_us) / inputs.interval_us
    if params.units == "bps":
        sigma, mid = sigma_ret * 1e4, 0.0  # prices as bps offsets from the close
    else:
        sigma, mid = sigma_ret * s, s
    r = reservation_price(mid, q, params.gamma, sigma, bars_left)
    half = optimal_spread(params.gamma, sigma, bars_left, params.kappa) / 2
    bid, ask = r - half, r + half
    if params.units == "bps":
        r, bid, ask = s * (1 + r / 1e4), s * (1 + bid / 1e4), s * (1 + ask / 1e4)
    qty = params.order_value / s
    cap = params.max_inventory
    bid_ok = bid > 0 and (cap is None or q + 1 <= cap + 1e-9)
    ask_ok = ask > 0 and (cap is None or -q + 1 <= cap + 1e-9)
    return Quotes(
        bids=((bid, qty),) if bid_ok else (),
        asks=((ask, qty),) if ask_ok else (),
        reservation_price=r if r > 0 else None,
    )


def avellaneda_stoikov(
    *,
    gamma: float = 0.0001,
    kappa: float = 0.5,
    horizon: str = "1d",
    order_value: float = 1_000.0,
    vol_window: int = 60,
    max_inventory: float | None = None,
    units: str = "bps",
) -> Strategy:
    """The Avellaneda-Stoikov market maker with a finite horizon that resets every `horizon`."""
    params = AvellanedaStoikovParams(
        gamma, kappa, horizon, order_value, vol_window, max_inventory, units
    )
    return stateless(
        "avellaneda_stoikov",
        lambda inputs: avellaneda_stoikov_quotes(params, inputs),
        params=params,
        features=(volatility(params.vol_window),),
    )
