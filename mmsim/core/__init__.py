"""The pure core: bars, orders, venue, matching, accounting, placement, risk and the step that
folds them.

Each bar is `step(state, bars) -> (state, fills)`: 1. matching, 2. accounting, 3. strategy,
4. risk (`mmsim.core.engine`); `mmsim.core.backtest` folds it over a Polars frame.
"""
