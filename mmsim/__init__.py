"""mmsim: backtest market-making strategies on crypto OHLCV bars.

Each bar is a pure `step(state, bars) -> (state, fills)` composed of matching, accounting,
strategy and risk functions over frozen attrs values, folded over a Polars frame.
"""

from mmsim.account import Account, Position, trade
from mmsim.backtest import backtest, run_backtests
from mmsim.bars import Bar, BarsError, Step, validate_bars
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
from mmsim.synthetic import synthetic_bars
from mmsim.venue import SymbolSpec, Venue

__version__ = "0.1.0"

__all__ = [
    "BUY",
    "SELL",
    "Account",
    "Bar",
    "BarsError",
    "DataError",
    "DroppedRowsWarning",
    "EngineState",
    "Feature",
    "FetchError",
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
    "align_bars",
    "avellaneda_stoikov",
    "backtest",
    "basic_risk",
    "chain",
    "describe_bars",
    "early_stop",
    "emergency_exit",
    "fetch_binance",
    "gap_report",
    "fixed_spread",
    "initial_state",
    "leverage_caps",
    "load_bars",
    "load_result",
    "make_step",
    "match_bar",
    "min_order_value",
    "optimal_spread",
    "read_bars",
    "read_binance_klines",
    "resample_bars",
    "reservation_price",
    "run_backtests",
    "stateless",
    "synthetic_bars",
    "trade",
    "validate_bars",
    "volatility",
]
