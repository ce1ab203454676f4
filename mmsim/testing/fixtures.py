"""Small strategies and risk rules made for tests (plain values, no Hypothesis needed)."""

from __future__ import annotations

import attrs
from attrs import validators as v

from mmsim.core.orders import Quotes
from mmsim.core.risk import RiskDecision, RiskInput, RiskRule, chain
from mmsim.strategies.base import Strategy, StrategyInput, stateless


@attrs.frozen(slots=True)
class LadderParams:
    """levels: quotes per side; spacing_bps: distance between levels and from the centre (bps);
    order_value: USDT per order, also the unit of inventory q; skew_bps: the centre moves
    -skew_bps * q bps from the close (leans against inventory when > 0)."""

    levels: int = attrs.field(default=3, validator=[v.instance_of(int), v.ge(1), v.le(10)])
    spacing_bps: float = attrs.field(default=10.0, validator=[v.ge(0.01), v.lt(2_000.0)])
    order_value: float = attrs.field(default=1_000.0, validator=v.gt(0.0))
    skew_bps: float = attrs.field(default=5.0, validator=[v.ge(-100.0), v.le(100.0)])


def ladder_quotes(params: LadderParams, inputs: StrategyInput) -> Quotes:
    close = inputs.bar.close
    q = inputs.position * close / params.order_value
    center = close * max(1 - params.skew_bps * q / 1e4, 1e-6)
    qty = params.order_value / close
    step = params.spacing_bps / 1e4
    bids = tuple((center * (1 - (k + 1) * step), qty) for k in range(params.levels))
    asks = tuple((center * (1 + (k + 1) * step), qty) for k in range(params.levels))
    return Quotes(tuple(b for b in bids if b[0] > 0), asks, center)


def ladder(
    *,
    levels: int = 3,
    spacing_bps: float = 10.0,
    order_value: float = 1_000.0,
    skew_bps: float = 5.0,
) -> Strategy:
    """A multi-level test market maker: `levels` quotes per side every `spacing_bps` around a
    centre skewed against inventory (a negative skew_bps leans the wrong way, on purpose)."""
    params = LadderParams(levels, spacing_bps, order_value, skew_bps)
    return stateless("ladder", lambda inputs: ladder_quotes(params, inputs), params=params)


def halt_after(bars: int) -> RiskRule:
    """A rule that passes every order for `bars` bar closes, then halts the run (no exit orders)."""
    if not (isinstance(bars, int) and bars >= 0):
        raise ValueError(f"halt_after needs a number of bars >= 0, got {bars!r}")

    def update(seen: int, inputs: RiskInput):
        if seen < bars:
            return seen + 1, RiskDecision(inputs.orders)
        return seen + 1, RiskDecision(
            (), halt=f"halt_after: {bars} bars", events=(f"halt_after: {bars} bars",)
        )

    return RiskRule("halt_after", lambda: 0, update)


def then_halt(risk: RiskRule, bars: int) -> RiskRule:
    """`risk` followed by `halt_after(bars)`."""
    return chain(risk, halt_after(bars))
