"""mmsim: backtest market-making strategies on crypto OHLCV bars.

Each bar is a pure `step(state, bars) -> (state, fills)` composed of matching, accounting,
strategy and risk functions over frozen attrs values, folded over a Polars frame.
"""

from mmsim.account import Account, Position, trade
from mmsim.backtest import backtest, run_backtests
from mmsim.bars import Bar, BarsError, Step, validate_bars
from mmsim.engine import EngineState, account_bar, initial_state, make_step
from mmsim.features import Feature, volatility
from mmsim.matching import match_bar
from mmsim.orders import BUY, SELL, Fill, MarketOrder, Order, Quotes, Rejection
from mmsim.result import Result, load_result
from mmsim.risk import (
    RiskDecision,
    RiskInput,
    RiskRule,
    basic_risk,
    chain,
    early_stop,
    emergency_exit,
    leverage_caps,
    min_order_value,
)
from mmsim.strategies import (
    Strategy,
    StrategyInput,
    avellaneda_stoikov,
    fixed_spread,
    optimal_spread,
    reservation_price,
    stateless,
)
from mmsim.sweep import best_run, grid_points, load_sweep, sweep
from mmsim.synthetic import synthetic_bars
from mmsim.venue import SymbolSpec, Venue
from mmsim.walkforward import WalkForward, walk_forward

__version__ = "0.1.0"

# chart helpers load Altair on first use, so `import mmsim` stays light
_LAZY = {
    "save_chart": "mmsim.sweep_charts",
    "sweep_heatmap": "mmsim.sweep_charts",
    "top_runs": "mmsim.sweep_charts",
    "walk_forward_chart": "mmsim.sweep_charts",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mmsim' has no attribute {name!r}")


__all__ = [
    "BUY",
    "SELL",
    "Account",
    "Bar",
    "BarsError",
    "EngineState",
    "Feature",
    "Fill",
    "MarketOrder",
    "Order",
    "Position",
    "Quotes",
    "Rejection",
    "Result",
    "RiskDecision",
    "RiskInput",
    "RiskRule",
    "Step",
    "Strategy",
    "StrategyInput",
    "SymbolSpec",
    "Venue",
    "WalkForward",
    "__version__",
    "account_bar",
    "avellaneda_stoikov",
    "backtest",
    "basic_risk",
    "best_run",
    "chain",
    "early_stop",
    "emergency_exit",
    "fixed_spread",
    "grid_points",
    "initial_state",
    "leverage_caps",
    "load_result",
    "load_sweep",
    "make_step",
    "match_bar",
    "min_order_value",
    "optimal_spread",
    "reservation_price",
    "run_backtests",
    "save_chart",
    "stateless",
    "sweep",
    "sweep_heatmap",
    "synthetic_bars",
    "top_runs",
    "trade",
    "validate_bars",
    "volatility",
    "walk_forward",
    "walk_forward_chart",
]
