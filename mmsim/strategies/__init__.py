"""Strategies: each a factory returning a `Strategy` (an init/update pair of pure functions)."""

from mmsim.strategies.avellaneda_stoikov import (
    AvellanedaStoikovParams,
    avellaneda_stoikov,
    optimal_spread,
    reservation_price,
)
from mmsim.strategies.base import EMPTY, EmptyState, Strategy, StrategyInput, stateless
from mmsim.strategies.fixed_spread import FixedSpreadParams, fixed_spread

__all__ = [
    "EMPTY",
    "AvellanedaStoikovParams",
    "EmptyState",
    "FixedSpreadParams",
    "Strategy",
    "StrategyInput",
    "avellaneda_stoikov",
    "fixed_spread",
    "optimal_spread",
    "reservation_price",
    "stateless",
]
