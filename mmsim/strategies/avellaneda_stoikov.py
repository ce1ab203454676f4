"""Avellaneda & Stoikov (2008), "High-frequency trading in a limit order book", complete.

The model's formulas, unit-agnostic (any consistent price unit x):
    reservation price  r = s - q * gamma * sigma**2 * (T - t)
    optimal spread     delta = gamma * sigma**2 * (T - t) + (2 / gamma) * ln(1 + gamma / kappa)
with s the mid (x), q the inventory (in order sizes), gamma the risk aversion (1/x), sigma the
volatility (x per sqrt(time unit)), T - t the time left (time units), kappa the decay of the fill
intensity with distance (1/x). The paper's numeric example (s=100, sigma=2, kappa=1.5,
gamma=0.1, T-t=1) is `reservation_price(100, q, 0.1, 2, 1)` and `optimal_spread(0.1, 2, 1, 1.5)`.

Infinite horizon (the paper's section 2.3, discount rate omega per time unit): with
g = gamma**2 * sigma**2, the reservation ask and bid prices are
    r_ask = s + (1/gamma) * ln(1 + (1 - 2q) * g / (2*omega - g * q**2))
    r_bid = s + (1/gamma) * ln(1 + (-1 - 2q) * g / (2*omega - g * q**2))
and the quotes are bid = r_bid - d, ask = r_ask + d with d = (1/gamma) ln(1 + gamma/kappa).
The paper's choice omega = gamma**2 * sigma**2 * (q_max + 1)**2 / 2 makes the inventory bound
explicit (sigma then cancels from the offsets); a side whose log argument is <= 0 is not quoted.
At q = 0 these quotes are symmetric only to first order in gamma**2 sigma**2 / (2 omega): the bid
sits -(1/gamma) ln(1 - x**2) further out than the ask, x = gamma**2 sigma**2 / (2 omega).

The strategy applies them in basis points of the close by default (units="bps"): sigma is the
rolling std of log returns expressed in bps per sqrt(bar), time is counted in bars, and gamma
and kappa are per bps; so one parameter set means the same on BTC at 60,000 and on a coin at
0.5. With units="price" they apply in USDT (sigma = close * return std per sqrt(bar)).
"""

from __future__ import annotations

import math

import attrs

from mmsim.core.clock import parse_duration_us, time_left_us
from mmsim.core.frozen import unchecked
from mmsim.core.orders import NO_QUOTES, Quotes
from mmsim.data.features import volatility
from mmsim.research.calibration import intensity_features
from mmsim.strategies.base import (
    Strategy,
    StrategyInput,
    stateless,
)
from mmsim.strategies.params import (
    ParamError,
    at_least,
    documented,
    duration,
    non_negative,
    one_of,
    optional,
    param,
    positive,
    strategy_factory,
)

INFINITE = "inf"


def reservation_price(
    mid: float, inventory: float, gamma: float, sigma: float, time_left: float
) -> float:
    """r = s - q * gamma * sigma^2 * (T - t), in the unit of `mid`."""
    return mid - inventory * gamma * (sigma * sigma) * time_left


def optimal_spread(gamma: float, sigma: float, time_left: float, kappa: float) -> float:
    """Bid-to-ask distance: gamma * sigma^2 * (T - t) + (2 / gamma) * ln(1 + gamma / kappa)."""
    return gamma * (sigma * sigma) * time_left + (2.0 / gamma) * math.log1p(gamma / kappa)


def infinite_horizon_reservation(
    mid: float, inventory: float, gamma: float, sigma: float, omega: float
) -> tuple[float | None, float | None]:
    """(r_bid, r_ask) of the infinite-horizon model, in the unit of `mid`; None where undefined.

    r_side = s + (1/gamma) ln(1 + (-side - 2q) gamma^2 sigma^2 / (2 omega - gamma^2 q^2 sigma^2)),
    side = +1 bid, -1 ask; undefined (the side is not quoted) when the log argument is <= 0.
    Both sides are undefined when omega <= gamma^2 sigma^2 / 2 (the paper's discount for
    q_max = 0): the model then holds no inventory, and below gamma^2 sigma^2 / 8 the raw
    formula would lean the wrong way (an ask that rises as q grows).
    """
    g2s2 = (gamma * gamma) * (sigma * sigma)
    denominator = 2.0 * omega - g2s2 * (inventory * inventory) if omega > 0.5 * g2s2 else 0.0
    out = []
    for side in (1, -1):
        arg = 1.0 + (-side - 2.0 * inventory) * g2s2 / denominator if denominator > 0 else -1.0
        out.append(mid + math.log(arg) / gamma if arg > 0 else None)
    return out[0], out[1]


def paper_discount(gamma: float, sigma: float, max_inventory: float) -> float:
    """omega = gamma^2 sigma^2 (q_max + 1)^2 / 2: the paper's discount for an inventory bound."""
    cap = max_inventory + 1.0
    return 0.5 * (gamma * gamma) * (sigma * sigma) * (cap * cap)


@documented
@attrs.frozen(slots=True)
class AvellanedaStoikovParams:
    """The complete Avellaneda–Stoikov market maker: finite or infinite horizon, inventory
    limit, size shaping exp(-eta*q) and a minimum spread (immutable, validated).

    q, the inventory, is the position's value at the close divided by order_value (so q = 1 is
    one order's worth). With units="price", gamma and kappa are per USDT instead of per bps.
    """

    gamma: float = param(0.0001, unit="1/bps", help="risk aversion", checks=positive)
    kappa: float = param(
        0.5, unit="1/bps", help="decay of the fill intensity with distance", checks=positive
    )
    horizon: str = param(
        "1d",
        unit="duration",
        help="session after which T-t resets (windows aligned to UTC midnight); "
        "'inf' = infinite horizon",
        checks=(lambda x: x == INFINITE or duration[0](x), "a duration such as '1d', or 'inf'"),
    )
    order_value: float = param(
        1_000.0, unit="USDT", help="value of one order; the unit of q", checks=positive
    )
    vol_window: int = param(
        60, unit="bars", help="window of the rolling volatility", checks=at_least(2)
    )
    max_inventory: float | None = param(
        None,
        unit="orders",
        help="q_max: stop quoting the side that would take |q| above it",
        checks=optional(positive),
    )
    units: str = param(
        "bps", unit="-", help="'bps' of the close or 'price' (USDT)", checks=one_of("bps", "price")
    )
    eta: float = param(
        0.0,
        unit="1/order",
        help="size shaping: the side that grows |q| quotes order_value*exp(-eta*|q|)",
        checks=non_negative,
    )
    min_spread_bps: float = param(
        0.0, unit="bps", help="floor on the bid-to-ask spread (0 = none)", checks=non_negative
    )
    discount: float | None = param(
        None,
        unit="1/bar",
        help="omega of the infinite horizon (None: the paper's choice from max_inventory; "
        "no quotes while omega <= gamma^2 sigma^2 / 2)",
        checks=optional(positive),
    )
    calibration_window: int | None = param(
        None,
        unit="bars",
        help="read kappa from the rolling fill-intensity fit over this window "
        "(the fixed kappa until the fit is ready)",
        checks=optional(at_least(10)),
    )
    horizon_us: int | None = attrs.field(init=False)

    @horizon_us.default
    def _horizon_us(self):
        # defaults run before validators: leave a bad horizon to its validator's message
        return None if not duration[0](self.horizon) else parse_duration_us(self.horizon)

    def __attrs_post_init__(self):
        if self.horizon == INFINITE and self.discount is None and self.max_inventory is None:
            raise ParamError(
                "max_inventory",
                None,
                "set (or discount given) with horizon='inf': the infinite horizon needs a bound",
            )

    @property
    def infinite(self) -> bool:
        return self.horizon == INFINITE


def _sizes(params: AvellanedaStoikovParams, q: float) -> tuple[float, float]:
    """(bid, ask) order values in USDT: exp(-eta*|q|) shrinks the side that grows |q|."""
    v = params.order_value
    if params.eta == 0.0:
        return v, v
    return v * math.exp(-params.eta * max(q, 0.0)), v * math.exp(-params.eta * max(-q, 0.0))


def avellaneda_stoikov_quotes(
    params: AvellanedaStoikovParams, inputs: StrategyInput, fitted_kappa: str | None = None
) -> Quotes:
    """Quotes at one bar close; no quotes while the volatility feature is still warming up.

    fitted_kappa: the name of a kappa feature (per bps) to use instead of params.kappa when set.
    """
    return quoter(params, fitted_kappa)(inputs)


_quotes = unchecked(Quotes)


def quoter(params: AvellanedaStoikovParams, fitted_kappa: str | None = None):
    """`inputs -> Quotes` for these parameters (`avellaneda_stoikov_quotes`), with what does
    not change from bar to bar (feature names, the units, the horizon) read once."""
    vol_key = f"volatility_{params.vol_window}"
    gamma, order_value, cap = params.gamma, params.order_value, params.max_inventory
    bps = params.units == "bps"
    infinite = params.infinite
    horizon_us = params.horizon_us

    def quote(inputs: StrategyInput) -> Quotes:
        bar = inputs.bar
        sigma_ret = bar.features.get(vol_key)
        if sigma_ret is None:
            return NO_QUOTES
        s = bar.close
        q = inputs.position * s / order_value
        kappa = params.kappa
        if fitted_kappa is not None:
            fitted = bar.features.get(fitted_kappa)
            if fitted is not None and fitted > 0:
                kappa = fitted if bps else fitted * 1e4 / s
        if bps:
            sigma, mid = sigma_ret * 1e4, 0.0  # prices as bps offsets from the close
            floor = params.min_spread_bps
        else:
            sigma, mid = sigma_ret * s, s
            floor = params.min_spread_bps * s / 1e4
        if infinite:
            q_model = q if cap is None else max(-cap, min(cap, q))
            omega = (
                params.discount
                if params.discount is not None
                else paper_discount(gamma, sigma, cap)
            )
            r_bid, r_ask = infinite_horizon_reservation(mid, q_model, gamma, sigma, omega)
            depth = math.log1p(gamma / kappa) / gamma
            bid = None if r_bid is None else r_bid - depth
            ask = None if r_ask is None else r_ask + depth
            r = (r_bid + r_ask) / 2 if r_bid is not None and r_ask is not None else None
        else:
            bars_left = time_left_us(inputs.close_ts, horizon_us) / inputs.interval_us
            r = reservation_price(mid, q, gamma, sigma, bars_left)
            half = optimal_spread(gamma, sigma, bars_left, kappa) / 2
            bid, ask = r - half, r + half
        if bid is not None and ask is not None and ask - bid < floor:
            centre, half = (bid + ask) / 2, floor / 2
            bid, ask = centre - half, centre + half
        if bps:  # offsets back to prices
            r = None if r is None else s * (1 + r / 1e4)
            bid = None if bid is None else s * (1 + bid / 1e4)
            ask = None if ask is None else s * (1 + ask / 1e4)
        bid_value, ask_value = _sizes(params, q)
        bid_ok = (
            bid is not None
            and bid > 0
            and (cap is None or q + bid_value / order_value <= cap + 1e-9)
        )
        ask_ok = (
            ask is not None
            and ask > 0
            and (cap is None or -q + ask_value / order_value <= cap + 1e-9)
        )
        return _quotes(  # Quotes(bids, asks, reservation_price): it has nothing to validate
            ((bid, bid_value / s),) if bid_ok else (),
            ((ask, ask_value / s),) if ask_ok else (),
            r if r is not None and r > 0 else None,
        )

    return quote


@strategy_factory("avellaneda_stoikov", AvellanedaStoikovParams)
def avellaneda_stoikov(params: AvellanedaStoikovParams) -> Strategy:
    """Avellaneda–Stoikov: quotes around the inventory-skewed reservation price with the optimal
    spread; finite horizon resetting every `horizon` (T-t decays within each window), or the
    infinite-horizon variant (horizon='inf'); kappa fixed or calibrated on a rolling window.
    """
    features, fitted = (volatility(params.vol_window),), None
    if params.calibration_window is not None:
        kappa_feature = intensity_features(params.calibration_window)[1]
        features += (kappa_feature,)
        fitted = kappa_feature.name
    return stateless(
        "avellaneda_stoikov",
        quoter(params, fitted),
        params=params,
        features=features,
    )
