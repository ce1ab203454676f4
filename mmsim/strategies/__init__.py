"""Strategies: each a factory returning a `Strategy` (an init/update pair of pure functions).

Build any of them by name with `make_strategy(name, **params)`; `list_strategies()` lists them.
"""

from mmsim.strategies.avellaneda_stoikov import (
    AvellanedaStoikovParams,
    avellaneda_stoikov,
    infinite_horizon_reservation,
    optimal_spread,
    reservation_price,
)
from mmsim.strategies.base import EMPTY, EmptyState, Strategy, StrategyInput, stateless
from mmsim.strategies.cities import (
    LimaParams,
    LisbonParams,
    NairobiParams,
    OsloParams,
    TokyoParams,
    lima,
    lisbon,
    nairobi,
    oslo,
    tokyo,
)
from mmsim.strategies.fixed_spread import FixedSpreadParams, fixed_spread
from mmsim.strategies.glft import GLFTParams, glft, glft_coefficients, glft_distances
from mmsim.strategies.mexico import MexicoParams, mexico
from mmsim.strategies.params import ParamError, ParamInfo, StrategyError, strategy_factory
from mmsim.strategies.registry import (
    StrategySpec,
    get_strategy,
    list_strategies,
    make_strategy,
    register_strategy,
)

__all__ = [
    "EMPTY",
    "AvellanedaStoikovParams",
    "EmptyState",
    "FixedSpreadParams",
    "GLFTParams",
    "LimaParams",
    "LisbonParams",
    "MexicoParams",
    "NairobiParams",
    "OsloParams",
    "ParamError",
    "ParamInfo",
    "Strategy",
    "StrategyError",
    "StrategyInput",
    "StrategySpec",
    "TokyoParams",
    "avellaneda_stoikov",
    "fixed_spread",
    "get_strategy",
    "glft",
    "glft_coefficients",
    "glft_distances",
    "infinite_horizon_reservation",
    "lima",
    "lisbon",
    "list_strategies",
    "mexico",
    "nairobi",
    "oslo",
    "make_strategy",
    "optimal_spread",
    "register_strategy",
    "reservation_price",
    "stateless",
    "strategy_factory",
    "tokyo",
]
