"""Mexico: the framework's generic parametric market maker (every weight neutral by default).

At each close, with c the close, σ the rolling std of log returns per bar and a cap C (USDT):

  signals (dimensionless, positive = lean to buy):
    inventory  s_inv = −position_value / C           (in [−1, 1]; reduces inventory)
    pnl        s_pnl = sign(position) · unrealized / C (positive: lean to add to a winner)
    ma         s_ma  = ln(c / SMA_ma_window) / (σ·√ma_window)
    momentum   s_mom = ln(c / c_{t−momentum_window}) / (σ·√momentum_window)
    features   s_f   = the bar's value of feature f (a column of the bars; null counts as 0)
  skew (bps)   k = inventory_skew_bps·s_inv + pnl_skew_bps·s_pnl + ma_skew_bps·s_ma
                   + momentum_skew_bps·s_mom + Σ_f feature_skews[f]·s_f
  reservation  r = c · (1 + k / 1e4)
  spacing(bps) g = max(min_spread_bps / 2,
                       spacing_bps + vol_spacing·σ_bps + momentum_spacing_bps·|s_mom|)
  impact(bps)  m_i = impact_weight · σ_bps · sqrt(V_i / mean(c·volume over volume_window))
  level i = 1..levels:  bid_i = r·(1 − (i·g + m_i)/1e4),  ask_i = r·(1 + (i·g + m_i)/1e4)

V_i is the cumulative value (USDT) of a side's levels 1..i, so outer levels widen by the
expected impact of all the size in front of them (a square-root impact law). Level values
(USDT) are order_value·aggressiveness times 1 ("constant"), size_ratio^(i−1) ("geometric") or
min(1, room / C) ("adaptive", room = what the side may still add before |position value|
reaches C); a side's levels are kept innermost first while their cumulative value fits in its
room, so filling every order of a side never takes |position value| above C.
"""

from __future__ import annotations

import math

import attrs

from mmsim.core.orders import NO_QUOTES, Quotes
from mmsim.data.features import volatility
from mmsim.strategies.base import Strategy, StrategyInput, stateless
from mmsim.strategies.ladder import ladder, side_room
from mmsim.strategies.params import (
    at_least,
    documented,
    finite,
    non_negative,
    one_of,
    param,
    positive,
    strategy_factory,
    weights_check,
    weights_map,
)
from mmsim.strategies.signals import log_return, sma_close, volume_value


@documented
@attrs.frozen(slots=True)
class MexicoParams:
    """The Mexico market maker's parameters (immutable, validated). Skews are in bps of the
    close per unit of a dimensionless signal; every weight defaults to 0 (no effect).
    """

    order_value: float = param(
        1_000.0,
        unit="USDT",
        help="value of the first level (before aggressiveness)",
        checks=positive,
    )
    levels: int = param(1, unit="levels", help="orders per side", checks=at_least(1))
    sizing: str = param(
        "constant",
        unit="-",
        help="level values: 'constant', 'geometric' (x size_ratio per level) or 'adaptive' "
        "(scaled by the side's remaining room)",
        checks=one_of("constant", "geometric", "adaptive"),
    )
    size_ratio: float = param(
        1.0, unit="x", help="geometric sizing: level i is worth size_ratio^(i-1)", checks=positive
    )
    aggressiveness: float = param(1.0, unit="x", help="scales every level's value", checks=positive)
    max_position_value: float = param(
        10_000.0,
        unit="USDT",
        help="inventory cap C: |position value| never passes it through fills "
        "of this strategy's quotes; the inventory scale of the signals",
        checks=positive,
    )
    spacing_bps: float = param(
        10.0, unit="bps", help="constant part of the level spacing", checks=non_negative
    )
    vol_spacing: float = param(
        0.0, unit="x sigma", help="spacing added per bps of per-bar volatility", checks=non_negative
    )
    momentum_spacing_bps: float = param(
        0.0, unit="bps", help="spacing added per unit of |momentum signal|", checks=non_negative
    )
    min_spread_bps: float = param(
        2.0, unit="bps", help="floor on the innermost bid-to-ask spread", checks=positive
    )
    inventory_skew_bps: float = param(
        0.0,
        unit="bps",
        help="skew per unit of inventory signal (>= 0: always reduces inventory)",
        checks=non_negative,
    )
    pnl_skew_bps: float = param(
        0.0,
        unit="bps",
        help="skew per unit of unrealized-PnL signal (< 0 takes profit)",
        checks=finite,
    )
    ma_skew_bps: float = param(
        0.0,
        unit="bps",
        help="skew per unit of MA-deviation signal (< 0 reverts to the mean)",
        checks=finite,
    )
    momentum_skew_bps: float = param(
        0.0,
        unit="bps",
        help="skew per unit of momentum signal (> 0 follows the trend)",
        checks=finite,
    )
    feature_skews: tuple[tuple[str, float], ...] = param(
        (),
        unit="bps",
        help="skew per unit of each named feature column, e.g. {flow = 3.0}",
        checks=weights_check,
        converter=weights_map,
    )
    impact_weight: float = param(
        0.0,
        unit="x",
        help="widen level i by impact_weight*sigma_bps*sqrt(value through i / "
        "mean traded value per bar)",
        checks=non_negative,
    )
    vol_window: int = param(
        60, unit="bars", help="window of the rolling volatility", checks=at_least(2)
    )
    ma_window: int = param(60, unit="bars", help="window of the moving average", checks=at_least(2))
    momentum_window: int = param(
        15, unit="bars", help="lookback of the momentum", checks=at_least(1)
    )
    volume_window: int = param(
        60, unit="bars", help="window of the mean traded value", checks=at_least(1)
    )

    @property
    def needs_volatility(self) -> bool:
        return bool(
            self.vol_spacing
            or self.ma_skew_bps
            or self.momentum_skew_bps
            or self.momentum_spacing_bps
            or self.impact_weight
        )

    @property
    def needs_momentum(self) -> bool:
        return bool(self.momentum_skew_bps or self.momentum_spacing_bps)


@attrs.frozen(slots=True)
class _Names:
    """The feature columns a Mexico instance reads (None when its weights do not need them)."""

    vol: str | None
    sma: str | None
    mom: str | None
    volume: str | None


def _features(params: MexicoParams):
    vol = volatility(params.vol_window) if params.needs_volatility else None
    sma = sma_close(params.ma_window) if params.ma_skew_bps else None
    mom = log_return(params.momentum_window) if params.needs_momentum else None
    volume = volume_value(params.volume_window) if params.impact_weight else None
    used = tuple(f for f in (vol, sma, mom, volume) if f is not None)
    return used, _Names(*(None if f is None else f.name for f in (vol, sma, mom, volume)))


def _level_values(params: MexicoParams, room: float) -> list[float]:
    base = params.order_value * params.aggressiveness
    if params.sizing == "geometric":
        return [base * params.size_ratio**i for i in range(params.levels)]
    if params.sizing == "adaptive":
        scale = min(1.0, room / params.max_position_value)
        return [base * scale] * params.levels
    return [base] * params.levels


def mexico_quotes(params: MexicoParams, names: _Names, inputs: StrategyInput) -> Quotes:
    """Quotes at one bar close (see the module docstring); none while a feature warms up."""
    bar = inputs.bar
    feats = bar.features
    values = {}
    for key in ("vol", "sma", "mom", "volume"):
        name = getattr(names, key)
        if name is not None:
            if feats.get(name) is None:
                return NO_QUOTES
            values[key] = feats[name]
    c = bar.close
    cap = params.max_position_value
    position_value = inputs.position * c
    sigma = values.get("vol", 0.0)
    sigma_bps = sigma * 1e4

    def z(log_move: float, window: int) -> float:
        return log_move / (sigma * math.sqrt(window)) if sigma > 0 else 0.0

    s_mom = z(values["mom"], params.momentum_window) if "mom" in values else 0.0
    skew = params.inventory_skew_bps * (-position_value / cap)
    if params.pnl_skew_bps and inputs.position:
        unrealized = inputs.position * (c - inputs.entry_price)
        skew += params.pnl_skew_bps * math.copysign(1.0, inputs.position) * unrealized / cap
    if "sma" in values:
        skew += params.ma_skew_bps * z(math.log(c / values["sma"]), params.ma_window)
    skew += params.momentum_skew_bps * s_mom
    for name, weight in params.feature_skews:
        if name not in feats:
            raise ValueError(
                f"mexico: feature_skews names {name!r}, which is not a numeric column of the "
                f"bars for {bar.symbol}; its columns usable as features are {sorted(feats)}"
            )
        skew += weight * (feats[name] or 0.0)
    r = c * (1.0 + skew / 1e4)
    spacing = max(
        params.min_spread_bps / 2,
        params.spacing_bps
        + params.vol_spacing * sigma_bps
        + params.momentum_spacing_bps * abs(s_mom),
    )
    sides = []
    for side in (1, -1):
        room = side_room(position_value, cap, side)
        level_values = _level_values(params, room)
        distances = [(i + 1) * spacing for i in range(params.levels)]
        if params.impact_weight and values["volume"] > 0:
            through = 0.0
            for i, v in enumerate(level_values):
                through += v
                distances[i] += (
                    params.impact_weight * sigma_bps * math.sqrt(through / values["volume"])
                )
        sides.append(ladder(r, distances, level_values, side, room))
    return Quotes(bids=sides[0], asks=sides[1], reservation_price=r if r > 0 else None)


@strategy_factory("mexico", MexicoParams)
def mexico(params: MexicoParams) -> Strategy:
    """Mexico: a reservation price skewed by weighted, normalised signals (inventory, PnL, MA
    deviation, momentum, any feature), a ladder of levels spaced by a constant plus volatility
    and |momentum| terms with a minimum spread, sizes constant, geometric or adaptive to the
    remaining room, and an optional square-root market-impact widening.
    """
    features, names = _features(params)
    return stateless(
        "mexico",
        lambda inputs: mexico_quotes(params, names, inputs),
        params=params,
        features=features,
    )
