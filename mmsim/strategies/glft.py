"""Guéant–Lehalle–Fernandez-Tapia (2013): closed-form approximation of the optimal quotes.

With fill intensity λ(δ) = A·exp(−κδ), risk aversion γ, ξ = γ and order size Δ = 1 order
(Guéant, "Optimal market making", 2017, eqs. for the approximations with ξ = γ):

    c1 = (1/γ) · ln(1 + γ/κ)
    c2 = sqrt( γ / (2·A·κ) · (1 + γ/κ)^(κ/γ + 1) )
    bid distance  δ_b(q) = c1 + σ·c2·(1/2 + q)
    ask distance  δ_a(q) = c1 + σ·c2·(1/2 − q)

so the half-spread is c1 + σ·c2/2 and the skew σ·c2 per order of inventory q (q > 0 lowers both
quotes, which makes selling likelier). Units: δ, c1 and σ·c2 in bps of the close; γ and κ per
bps; A fills per bar at zero distance; σ in bps per √bar (rolling std of log returns × 1e4);
q = position value / order_value. The approximation assumes a bounded inventory: set
max_inventory (q_max) so the side that would pass it is not quoted. A distance that the skew
makes negative puts that quote through the close: placement moves it one tick behind the close
(Venue post_only="clamp", the default) or refuses it ("reject").
"""

from __future__ import annotations

import math

import attrs

from mmsim.core.orders import NO_QUOTES, Quotes
from mmsim.data.features import volatility
from mmsim.research.calibration import intensity_features
from mmsim.strategies.base import Strategy, StrategyInput, stateless
from mmsim.strategies.ladder import level_price
from mmsim.strategies.params import (
    at_least,
    documented,
    non_negative,
    optional,
    param,
    positive,
    strategy_factory,
)


def glft_coefficients(gamma: float, kappa: float, A: float) -> tuple[float, float]:
    """(c1, c2) of the GLFT approximation with ξ = γ and Δ = 1 (c1 in the unit of 1/κ)."""
    x = gamma / kappa
    c1 = math.log1p(x) / gamma
    c2 = math.sqrt(gamma / (2.0 * A * kappa) * math.exp((1.0 / x + 1.0) * math.log1p(x)))
    return c1, c2


def glft_distances(
    gamma: float, kappa: float, A: float, sigma: float, inventory: float
) -> tuple[float, float]:
    """(bid distance, ask distance) from the mid: c1 + σ·c2·(1/2 ± q), in the unit of σ."""
    c1, c2 = glft_coefficients(gamma, kappa, A)
    return c1 + sigma * c2 * (0.5 + inventory), c1 + sigma * c2 * (0.5 - inventory)


@documented
@attrs.frozen(slots=True)
class GLFTParams:
    """The GLFT market maker's parameters (immutable, validated); q is in orders of order_value."""

    gamma: float = param(0.01, unit="1/bps", help="risk aversion (xi = gamma)", checks=positive)
    kappa: float = param(
        0.3, unit="1/bps", help="decay of the fill intensity with distance", checks=positive
    )
    A: float = param(1.0, unit="1/bar", help="fill intensity at zero distance", checks=positive)
    order_value: float = param(
        1_000.0, unit="USDT", help="value of one order (Delta); the unit of q", checks=positive
    )
    vol_window: int = param(
        60, unit="bars", help="window of the rolling volatility", checks=at_least(2)
    )
    max_inventory: float | None = param(
        10.0,
        unit="orders",
        help="q_max: stop quoting the side that would take |q| above it",
        checks=optional(positive),
    )
    min_spread_bps: float = param(
        0.0, unit="bps", help="floor on the bid-to-ask spread (0 = none)", checks=non_negative
    )
    calibration_window: int | None = param(
        None,
        unit="bars",
        help="read A and kappa from the rolling fill-intensity fit over this window "
        "(the fixed values until the fit is ready)",
        checks=optional(at_least(10)),
    )


def glft_quotes(
    params: GLFTParams, inputs: StrategyInput, fitted: tuple[str, str] | None = None
) -> Quotes:
    """Quotes at one bar close; none while the volatility feature warms up.

    fitted: names of the (A, kappa) features to read instead of the fixed values when present.
    """
    bar = inputs.bar
    sigma_ret = bar.features.get(f"volatility_{params.vol_window}")
    if sigma_ret is None:
        return NO_QUOTES
    s = bar.close
    q = inputs.position * s / params.order_value
    A, kappa = params.A, params.kappa
    if fitted is not None:
        fit_a, fit_k = bar.features.get(fitted[0]), bar.features.get(fitted[1])
        if fit_a is not None and fit_k is not None and fit_a > 0 and fit_k > 0:
            A, kappa = fit_a, fit_k
    d_bid, d_ask = glft_distances(params.gamma, kappa, A, sigma_ret * 1e4, q)
    short = params.min_spread_bps - (d_bid + d_ask)
    if short > 0:  # widen both sides equally up to the floor
        d_bid, d_ask = d_bid + short / 2, d_ask + short / 2
    bid, ask = level_price(s, d_bid, 1), level_price(s, d_ask, -1)
    qty = params.order_value / s
    cap = params.max_inventory
    bid_ok = bid > 0 and (cap is None or q + 1 <= cap + 1e-9)
    ask_ok = ask > 0 and (cap is None or -q + 1 <= cap + 1e-9)
    return Quotes(
        bids=((bid, qty),) if bid_ok else (),
        asks=((ask, qty),) if ask_ok else (),
        reservation_price=max(s * (1 + (d_ask - d_bid) / 2e4), 0.0) or None,
    )


@strategy_factory("glft", GLFTParams)
def glft(params: GLFTParams) -> Strategy:
    """GLFT: the closed-form optimal half-spread c1 + sigma*c2/2 and inventory skew sigma*c2*q
    from gamma, sigma, A and kappa (fixed or calibrated on a rolling window).
    """
    features, fitted = (volatility(params.vol_window),), None
    if params.calibration_window is not None:
        calibrated = intensity_features(params.calibration_window)
        features += calibrated
        fitted = (calibrated[0].name, calibrated[1].name)
    return stateless(
        "glft", lambda inputs: glft_quotes(params, inputs, fitted), params=params, features=features
    )
