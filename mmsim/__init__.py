"""mmsim: backtest market-making strategies on crypto OHLCV bars.

Each bar is a pure `step(state, bars) -> (state, fills)` composed of matching, accounting,
strategy and risk functions over frozen attrs values, folded over a Polars frame.
"""

from mmsim._version import __version__
from mmsim.core.account import Account, Position, trade
from mmsim.core.backtest import backtest, run_backtests
from mmsim.core.bars import Bar, BarsError, MissingBarsError, Step, validate_bars
from mmsim.core.engine import (
    Accounting,
    EngineState,
    EngineStep,
    Matching,
    StepOutput,
    StrategyRunError,
    account_bar,
    initial_state,
    make_step,
)
from mmsim.core.intensity import IntensityParams, add_uniform_draws, intensity_matching
from mmsim.core.matching import PerSymbolMatching, match_bar, per_symbol_matching
from mmsim.core.orders import BUY, SELL, Fill, MarketOrder, Order, Quotes, Rejection
from mmsim.core.params import ParamError
from mmsim.core.risk import (
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
from mmsim.core.trade_matching import trade_matching
from mmsim.core.venue import SymbolSpec, Venue
from mmsim.data import (
    DataError,
    DroppedRowsWarning,
    FetchError,
    align_bars,
    describe_bars,
    fetch_binance,
    gap_report,
    load_bars,
    read_bars,
    read_binance_klines,
    resample_bars,
)
from mmsim.data.features import Feature, volatility
from mmsim.data.synthetic import synthetic_bars
from mmsim.data.trades import bars_from_trades, read_trades
from mmsim.research import paper
from mmsim.research.calibration import calibrate, estimate_sigma, fit_intensity, intensity_features
from mmsim.research.compare import Comparison, compare
from mmsim.research.config import ConfigError, load_config, run_config
from mmsim.research.fill_check import FillReport, fill_model_report
from mmsim.research.options import RunOptions
from mmsim.research.sweep import best_run, grid_points, load_sweep, rerun, sweep
from mmsim.research.walkforward import WalkForward, walk_forward
from mmsim.results.attribution import attribution, attribution_bars, cumulative_attribution
from mmsim.results.metrics import Metrics, compute_metrics, summarize
from mmsim.results.metrics import compare as compare_results
from mmsim.results.result import Result, load_result
from mmsim.strategies import (
    Strategy,
    StrategyError,
    StrategyInput,
    StrategySpec,
    avellaneda_stoikov,
    fixed_spread,
    glft,
    lima,
    lisbon,
    list_strategies,
    make_strategy,
    mexico,
    nairobi,
    optimal_spread,
    oslo,
    register_strategy,
    reservation_price,
    stateless,
    tokyo,
)

# charts and reports import Altair (about half a second): loaded on first use only
_LAZY = {
    "report_charts": "mmsim.results.charts",
    "comparison_chart": "mmsim.results.charts",
    "render_report": "mmsim.results.report",
    "write_report": "mmsim.results.report",
    "write_comparison": "mmsim.results.report",
    "save_chart": "mmsim.research.sweep_charts",
    "sweep_heatmap": "mmsim.research.sweep_charts",
    "top_runs": "mmsim.research.sweep_charts",
    "walk_forward_chart": "mmsim.research.sweep_charts",
    "fill_model_chart": "mmsim.research.fill_check",
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
    "Comparison",
    "ConfigError",
    "DataError",
    "MissingBarsError",
    "DroppedRowsWarning",
    "EngineState",
    "EngineStep",
    "Accounting",
    "Matching",
    "StepOutput",
    "PerSymbolMatching",
    "per_symbol_matching",
    "Feature",
    "FillReport",
    "FetchError",
    "Fill",
    "IntensityParams",
    "MarketOrder",
    "Metrics",
    "Order",
    "ParamError",
    "Position",
    "Quotes",
    "Rejection",
    "Result",
    "RiskDecision",
    "RiskInput",
    "RiskRule",
    "RunOptions",
    "Step",
    "Strategy",
    "StrategyError",
    "StrategyInput",
    "StrategyRunError",
    "StrategySpec",
    "SymbolSpec",
    "Venue",
    "WalkForward",
    "__version__",
    "account_bar",
    "add_uniform_draws",
    "align_bars",
    "attribution",
    "attribution_bars",
    "avellaneda_stoikov",
    "bars_from_trades",
    "backtest",
    "basic_risk",
    "best_run",
    "calibrate",
    "chain",
    "compare",
    "compare_results",
    "comparison_chart",
    "compute_metrics",
    "cumulative_attribution",
    "describe_bars",
    "early_stop",
    "emergency_exit",
    "estimate_sigma",
    "fetch_binance",
    "fill_model_chart",
    "fill_model_report",
    "fit_intensity",
    "fixed_spread",
    "gap_report",
    "glft",
    "grid_points",
    "initial_state",
    "intensity_features",
    "intensity_matching",
    "leverage_caps",
    "lima",
    "lisbon",
    "list_strategies",
    "load_bars",
    "load_config",
    "load_result",
    "load_sweep",
    "make_step",
    "make_strategy",
    "match_bar",
    "mexico",
    "min_order_value",
    "nairobi",
    "optimal_spread",
    "oslo",
    "paper",
    "read_bars",
    "read_trades",
    "read_binance_klines",
    "register_strategy",
    "render_report",
    "report_charts",
    "resample_bars",
    "reservation_price",
    "run_backtests",
    "run_config",
    "save_chart",
    "stateless",
    "summarize",
    "rerun",
    "sweep",
    "sweep_heatmap",
    "synthetic_bars",
    "tokyo",
    "top_runs",
    "trade",
    "trade_matching",
    "validate_bars",
    "volatility",
    "walk_forward",
    "walk_forward_chart",
    "write_comparison",
    "write_report",
]
