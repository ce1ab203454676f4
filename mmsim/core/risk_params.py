"""The parameters of the built-in risk rules, one frozen class per rule, validated on
construction (`mmsim.core.params`); each factory in `mmsim.core.risk` builds its rule from one.

Leverage is notional / equity (notional in USDT); fractions are of equity or of initial cash.
"""

from __future__ import annotations

import attrs

from mmsim.core.params import documented, fraction, non_negative, optional, param, positive


@documented
@attrs.frozen(slots=True)
class MinOrderValueParams:
    """`min_order_value`: reject orders worth less than `value`."""

    value: float = param(
        unit="USDT", help="smallest order notional (price x qty) kept", checks=non_negative
    )


@documented
@attrs.frozen(slots=True)
class LeverageCapsParams:
    """`leverage_caps`: cap leverage at placement, as if every order of a side filled."""

    max_leverage: float | None = param(
        None,
        unit="x equity",
        help="cap on the sum of the symbols' worst-case notionals (None: off)",
        checks=optional(positive),
    )
    max_symbol_leverage: float | None = param(
        None,
        unit="x equity",
        help="cap on each symbol's worst-case notional (None: off)",
        checks=optional(positive),
    )


@documented
@attrs.frozen(slots=True)
class EmergencyExitParams:
    """`emergency_exit`: flatten and skip quoting for the bar when a threshold is passed."""

    max_leverage: float | None = param(
        None,
        unit="x equity",
        help="exit when gross notional / equity exceeds it (None: off)",
        checks=optional(positive),
    )
    max_margin_ratio: float | None = param(
        None,
        unit="x equity",
        help="exit when maintenance margin / equity exceeds it (None: off)",
        checks=optional(positive),
    )
    max_drawdown: float | None = param(
        None,
        unit="fraction of peak equity",
        help="exit when 1 - equity / peak equity exceeds it (None: off)",
        checks=optional(fraction),
    )


@documented
@attrs.frozen(slots=True)
class EarlyStopParams:
    """`early_stop`: flatten and halt the run when equity falls below a share of initial cash."""

    min_equity_fraction: float = param(
        unit="fraction of initial cash",
        help="halt when equity falls below it x initial cash",
        checks=fraction,
    )


@documented
@attrs.frozen(slots=True)
class BasicRiskParams:
    """`basic_risk`: early stop, emergency exit, leverage caps and minimum value, in that order."""

    max_leverage: float | None = param(
        3.0,
        unit="x equity",
        help="leverage_caps: cap on the total worst-case notional (None: off)",
        checks=optional(positive),
    )
    max_symbol_leverage: float | None = param(
        None,
        unit="x equity",
        help="leverage_caps: cap on each symbol's worst-case notional (None: off)",
        checks=optional(positive),
    )
    min_order_value: float = param(
        0.0,
        unit="USDT",
        help="min_order_value: smallest order notional kept (0: off)",
        checks=non_negative,
    )
    emergency_leverage: float | None = param(
        None,
        unit="x equity",
        help="emergency_exit: flatten above this gross leverage (None: off)",
        checks=optional(positive),
    )
    emergency_margin_ratio: float | None = param(
        None,
        unit="x equity",
        help="emergency_exit: flatten above this margin / equity (None: off)",
        checks=optional(positive),
    )
    emergency_drawdown: float | None = param(
        None,
        unit="fraction of peak equity",
        help="emergency_exit: flatten past this drawdown (None: off)",
        checks=optional(fraction),
    )
    stop_equity_fraction: float | None = param(
        None,
        unit="fraction of initial cash",
        help="early_stop: halt below this x initial cash (None: off)",
        checks=optional(fraction),
    )


RISK_PARAMS = {
    "basic_risk": BasicRiskParams,
    "leverage_caps": LeverageCapsParams,
    "emergency_exit": EmergencyExitParams,
    "early_stop": EarlyStopParams,
    "min_order_value": MinOrderValueParams,
}
