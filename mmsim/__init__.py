"""mmsim: backtest market-making strategies on crypto OHLCV bars.

Each bar is a pure `step(state, bars) -> (state, fills)` composed of matching, accounting,
strategy and risk functions over frozen attrs values, folded over a Polars frame.
"""

from mmsim.account import Account, Position, trade
from mmsim.attribution import attribution, attribution_bars, cumulative_attribution
from mmsim.backtest import backtest, run_backtests
from mmsim.bars import Bar, BarsError, Step, validate_bars
from mmsim.engine import EngineState, account_bar, initial_state, make_step
from mmsim.features import Feature, volatility
from mmsim.matching import match_bar
from mmsim.metrics import Metrics, compare, compute_metrics, summarize
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
from mmsim.synthetic import synthetic_bars
from mmsim.venue import SymbolSpec, Venue

__version__ = "0.1.0"

# charts and reports import Altair (about half a second): loaded on first use only
_LAZY = {
    "report_charts": "mmsim.charts",
    "comparison_chart": "mmsim.charts",
    "render_report": "mmsim.report",
    "write_report": "mmsim.report",
    "write_comparison": "mmsim.report",
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
    "Metrics",
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
    "__version__",
    "account_bar",
    "attribution",
    "attribution_bars",
    "avellaneda_stoikov",
    "backtest",
    "basic_risk",
    "chain",
    "compare",
    "comparison_chart",
    "compute_metrics",
    "cumulative_attribution",
    "early_stop",
    "emergency_exit",
    "fixed_spread",
    "initial_state",
    "leverage_caps",
    "load_result",
    "make_step",
    "match_bar",
    "min_order_value",
    "optimal_spread",
    "render_report",
    "report_charts",
    "reservation_price",
    "run_backtests",
    "stateless",
    "summarize",
    "synthetic_bars",
    "trade",
    "validate_bars",
    "volatility",
    "write_comparison",
    "write_report",
]
