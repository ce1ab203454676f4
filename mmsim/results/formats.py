"""One number format per kind, in the terminal and the report alike.

money (USDT): thousands separators, 2 decimals; ratios of money (returns, drawdowns, fill
rates, shares of time): percentages with 2 decimals; basis points: 1 decimal; counts: thousands
separators; leverage, Sharpe and other ratios: 2 decimals; anything else (prices, positions,
parameters): 6 significant digits. Fees are shown as they add to PnL (paid < 0), the sign the
attribution tables use.
"""

from __future__ import annotations

import math
from typing import Any

import polars as pl

_PERCENT_NAMES = {
    "return",
    "annual_return",
    "max_drawdown",
    "fill_rate",
    "quoting_both",
    "quoting_one_side",
    "quoting_none",
}
_PERCENT_ENDINGS = (
    "_return",
    "drawdown",
    "_rate",
    "margin_ratio",
    "time_quoting",
    "_share",
)
_MONEY_ENDINGS = (
    "pnl",
    "inventory",  # the attribution's inventory PnL
    "_usdt",
    "fees",
    "funding",
    "volume",
    "notional",
    "equity",
    "wallet",
    "capture",
    "execution",
    "rebates",
    "pnl_per_day",
    "cash",
    "realized",
    "unrealized",
)
_RATIO_NAMES = {"sharpe", "sortino", "calmar", "turnover"}
_RATIO_ENDINGS = ("leverage", "_sharpe", "_sortino", "_calmar")
_STATISTICS = ("_mean", "_median", "_std", "_min", "_max")
FEE_COLUMNS = ("fees",)  # summary-style columns holding fees paid (+ = cost)


def kind_of(column: str) -> str:
    """'percent', 'bps', 'money', 'ratio', 'days' or 'number' for a metric's column name."""
    name = column.lower()
    for statistic in _STATISTICS:  # pnl_mean is money as pnl is
        if name.endswith(statistic) and len(name) > len(statistic):
            return kind_of(name.removesuffix(statistic))
    if name.endswith("_bps") or "bps" in name.split("_"):
        return "bps"
    if name in _PERCENT_NAMES or name.endswith(_PERCENT_ENDINGS):
        return "percent"
    if name.endswith("_days"):
        return "days"
    if name in _RATIO_NAMES or name.endswith(_RATIO_ENDINGS):
        return "ratio"
    if name.endswith(_MONEY_ENDINGS):
        return "money"
    return "number"


def format_value(column: str, value: Any) -> str:
    """A figure as a person reads it, by its column's kind (see the module docstring)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if not isinstance(value, float):
        return str(value)
    if not math.isfinite(value):
        return "inf" if value > 0 else "-inf"
    kind = kind_of(column)
    if kind == "percent":
        return f"{value:.2%}"
    if kind == "bps":
        return f"{value:,.1f}"
    if kind == "money":
        return f"{value:,.2f}"
    if kind in ("ratio", "days"):
        return f"{value:,.2f}"
    return f"{value:.6g}"


def display_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame as tables show it: fees paid as negative figures, as they add to PnL."""
    fees = [c for c in FEE_COLUMNS if c in frame.columns and frame.schema[c].is_numeric()]
    return frame.with_columns(-pl.col(c) for c in fees) if fees else frame


FEE_NOTE = "fees as they add to PnL: paid < 0, rebates > 0 (as in the attribution)"

__all__ = ["FEE_NOTE", "display_frame", "format_value", "kind_of"]
