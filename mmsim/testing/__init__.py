"""mmsim.testing: property-based regression testing for strategies, risk rules and the engine.

Without Hypothesis (plain functions, usable in any test or script):
    check_invariants / assert_invariants (result, bars)   every promise a run's frames show
    check_leverage_caps(bars, strategy, ...)               the caps at placement, step by step
    check_every_order_fills(bars, strategy, ...)           every level reached fills, step by step
    assert_bid_below_ask, assert_quotes_never_cross, assert_skew_reduces_inventory,
    assert_no_quotes_without_bar, assert_deterministic, assert_no_look_ahead,
    assert_strategy_invariants (strategy, bars)            strategy properties (check_* twins)
    MarketSpec / SymbolPath / REGIMES                      seeded regime-driven markets
    param_domains(ParamsClass)                             parameter domains from validators
    save_case / load_case / replay / keep_failures         the regression workflow
    ladder, halt_after, engine_run, quote_trace            test fixtures and step-by-step runs

With Hypothesis (`pip install 'mmsim[testing]'`), imported on first use:
    bars_frames, market_specs, venues, positions, accounts, risk_inputs, risk_specs,
    risk_rules, market_makers, cash, strategy_inputs, feature_values, runs,
    param_space, strategy_space, strategy_properties,
    backtest_settings, load_profile (Hypothesis settings fit for backtests)
"""

from __future__ import annotations

import importlib

from mmsim.testing._extra import hypothesis_module
from mmsim.testing.fixtures import LadderParams, halt_after, ladder, then_halt
from mmsim.testing.invariants import (
    Violation,
    assert_invariants,
    check_every_order_fills,
    check_invariants,
    check_leverage_caps,
    format_violations,
)
from mmsim.testing.params import Domain, param_domains
from mmsim.testing.properties import (
    PROPERTIES,
    assert_bid_below_ask,
    assert_deterministic,
    assert_no_look_ahead,
    assert_no_quotes_without_bar,
    assert_property,
    assert_quotes_never_cross,
    assert_skew_reduces_inventory,
    assert_strategy_invariants,
    assert_strategy_leverage_caps,
    check_bid_below_ask,
    check_deterministic,
    check_no_look_ahead,
    check_no_quotes_without_bar,
    check_property,
    check_quotes_never_cross,
    check_skew_reduces_inventory,
    check_strategy_invariants,
    check_strategy_leverage_caps,
)
from mmsim.testing.regimes import GAPLESS, REGIMES, MarketSpec, SymbolPath, generate_bars, spec_of
from mmsim.testing.regression import (
    Case,
    CaseError,
    keep_failures,
    load_case,
    recorded,
    regression_cases,
    replay,
    save_case,
    save_property_case,
)
from mmsim.testing.trace import (
    EngineRun,
    QuoteCall,
    engine_run,
    engine_setup,
    has_gaps,
    quote_trace,
)

# names that need Hypothesis: imported when first asked for, so `import mmsim.testing` works
# without it and the ImportError names the extra only when one of these is used
_NEEDS_HYPOTHESIS = {
    "accounts": "mmsim.testing.markets",
    "bars_frames": "mmsim.testing.markets",
    "cash": "mmsim.testing.markets",
    "market_makers": "mmsim.testing.markets",
    "market_specs": "mmsim.testing.markets",
    "positions": "mmsim.testing.markets",
    "risk_inputs": "mmsim.testing.markets",
    "risk_rules": "mmsim.testing.markets",
    "risk_specs": "mmsim.testing.markets",
    "symbol_paths": "mmsim.testing.markets",
    "venues": "mmsim.testing.markets",
    "feature_values": "mmsim.testing.markets",
    "runs": "mmsim.testing.markets",
    "strategy_inputs": "mmsim.testing.markets",
    "param_space": "mmsim.testing.params",
    "strategy_space": "mmsim.testing.params",
    "strategy_properties": "mmsim.testing.suite",
    "backtest_settings": "mmsim.testing.suite",
    "load_profile": "mmsim.testing.suite",
}


def __getattr__(name: str):
    module = _NEEDS_HYPOTHESIS.get(name)
    if module is None:
        raise AttributeError(f"module 'mmsim.testing' has no attribute {name!r}")
    hypothesis_module(needed_by=name)  # the ImportError names the extra and this helper
    return getattr(importlib.import_module(module), name)


def __dir__():
    return sorted(set(globals()) | set(_NEEDS_HYPOTHESIS))


__all__ = [
    "GAPLESS",
    "PROPERTIES",
    "REGIMES",
    "Case",
    "CaseError",
    "Domain",
    "EngineRun",
    "LadderParams",
    "MarketSpec",
    "QuoteCall",
    "SymbolPath",
    "Violation",
    "assert_bid_below_ask",
    "assert_deterministic",
    "assert_invariants",
    "assert_no_look_ahead",
    "assert_no_quotes_without_bar",
    "assert_property",
    "assert_quotes_never_cross",
    "assert_skew_reduces_inventory",
    "assert_strategy_invariants",
    "assert_strategy_leverage_caps",
    "check_bid_below_ask",
    "check_deterministic",
    "check_invariants",
    "check_every_order_fills",
    "check_leverage_caps",
    "check_no_look_ahead",
    "check_no_quotes_without_bar",
    "check_property",
    "check_quotes_never_cross",
    "check_skew_reduces_inventory",
    "check_strategy_invariants",
    "check_strategy_leverage_caps",
    "engine_run",
    "engine_setup",
    "format_violations",
    "generate_bars",
    "halt_after",
    "has_gaps",
    "keep_failures",
    "ladder",
    "load_case",
    "param_domains",
    "quote_trace",
    "recorded",
    "regression_cases",
    "replay",
    "save_case",
    "save_property_case",
    "spec_of",
    "then_halt",
    *sorted(_NEEDS_HYPOTHESIS),
]
