"""Which stages of a backtest have a kernel, encoded as numbers the kernels read (no numba here).

`fast_plan(strategies, risk, matching, accounting)` returns a FastPlan when every stage is a
built-in one with a kernel, else None and the first stage that has none. Encodings:
- a strategy: its kind (STRATEGY_KINDS) and a row of float parameters (None -> NaN), plus the
  feature columns it reads (slots in one feature table shared by every symbol);
- risk: one row per rule of the (flattened) chain: its kind (RISK_KINDS) and parameters;
- matching: MATCH_TRADE_THROUGH, or MATCH_INTENSITY with the intensity parameters.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import attrs
import numpy as np

from mmsim.core.risk_params import RISK_PARAMS

STRATEGY_KINDS = ("fixed_spread", "avellaneda_stoikov", "glft", "mexico")
RISK_KINDS = ("early_stop", "emergency_exit", "leverage_caps", "min_order_value")
N_PARAMS = 32  # float parameters per strategy row
N_SLOTS = 8  # feature slots per strategy row
MATCH_TRADE_THROUGH, MATCH_INTENSITY = 0, 1


@attrs.frozen(slots=True, eq=False)
class FastPlan:
    """The numeric description of a backtest's stages that the kernels run (immutable).

    kinds[s], params[s, :], slots[s, :] (feature table columns, -1 unused); skews[s, j]: Mexico's
    weight of feature column skew_slots[j] (names sorted, NaN where the symbol has none);
    features: the frame columns of the feature table;
    risk[r, :] = (kind, p1, p2, p3); matching: the matching kind and its parameters; draws: the
    frame columns of the intensity draws (bid, ask) or ().
    """

    kinds: np.ndarray
    params: np.ndarray
    slots: np.ndarray
    skews: np.ndarray
    skew_slots: np.ndarray
    features: tuple[str, ...]
    risk: np.ndarray
    matching: int
    matching_params: np.ndarray
    draws: tuple[str, ...]
    levels: int


def _none(x) -> float:
    return math.nan if x is None else float(x)


class _Unsupported(Exception):
    pass


def _flatten(rule) -> list:
    if rule.parts or (rule.params is None and rule.name == "none"):
        out = []
        for part in rule.parts:
            out.extend(_flatten(part))
        return out
    return [rule]


def _risk_rows(risk) -> np.ndarray:
    rows = []
    for rule in _flatten(risk):
        if rule.name not in RISK_KINDS or type(rule.params) is not RISK_PARAMS.get(rule.name):
            raise _Unsupported(f"risk rule {rule.name!r} has no kernel (a user's own rule)")
        p = attrs.asdict(rule.params)
        kind = float(RISK_KINDS.index(rule.name))
        if rule.name == "early_stop":
            rows.append((kind, p["min_equity_fraction"], math.nan, math.nan))
        elif rule.name == "emergency_exit":
            rows.append(
                (
                    kind,
                    _none(p["max_leverage"]),
                    _none(p["max_margin_ratio"]),
                    _none(p["max_drawdown"]),
                )
            )
        elif rule.name == "leverage_caps":
            rows.append(
                (
                    kind,
                    _none(p["max_leverage"]),
                    _none(p["max_symbol_leverage"]),
                    float(_symbol_cap_holds()),
                )
            )
        else:
            rows.append((kind, p["value"], math.nan, math.nan))
    return np.array(rows, dtype=np.float64).reshape(len(rows), 4)


def _symbol_cap_holds() -> bool:
    """Whether the reference's leverage_caps holds each symbol to its own cap when the total
    cap scales every symbol's added exposure (the releases that split `side_notionals` out)."""
    from mmsim.core import risk

    return hasattr(risk, "side_notionals")


def _matching(matching) -> tuple[int, np.ndarray, tuple[str, ...]]:
    from mmsim.core.intensity import IntensityFills
    from mmsim.core.matching import PerSymbolMatching, match_bar

    if matching is match_bar:
        return MATCH_TRADE_THROUGH, np.zeros(5), ()
    rule = getattr(matching, "fill_limits", None)
    if type(matching) is PerSymbolMatching and type(rule) is IntensityFills:
        params = rule.params
        values = np.array(
            [
                params.A,
                params.kappa,
                params.dt,
                float(params.probability == "poisson"),
                float(params.units == "bps"),
            ]
        )
        return MATCH_INTENSITY, values, (params.bid_draw, params.ask_draw)
    name = getattr(matching, "name", None) or getattr(matching, "__name__", matching)
    raise _Unsupported(f"matching {name!r} has no kernel")


class _Features:
    def __init__(self):
        self.names: dict[str, int] = {}

    def slot(self, name: str | None) -> int:
        if name is None:
            return -1
        return self.names.setdefault(name, len(self.names))


def _strategy_row(strategy, table: _Features) -> tuple[int, list, list, dict, int]:
    """(kind, params, slots, feature skews, levels) of one built-in strategy."""
    from mmsim.strategies import avellaneda_stoikov, fixed_spread, glft, mexico

    p = strategy.params
    origin = strategy.origin
    if origin is fixed_spread:
        row = [p.half_spread_bps, p.order_value, _none(p.max_position_value)]
        return 0, row, [], {}, 1
    if origin is avellaneda_stoikov:
        fitted = None
        if p.calibration_window is not None:
            fitted = next(f.name for f in strategy.features if f.name.startswith("fill_kappa"))
        row = [
            p.gamma,
            p.kappa,
            -1.0 if p.infinite else float(p.horizon_us),
            p.order_value,
            _none(p.max_inventory),
            float(p.units == "bps"),
            p.eta,
            p.min_spread_bps,
            _none(p.discount),
        ]
        slots = [table.slot(f"volatility_{p.vol_window}"), table.slot(fitted)]
        return 1, row, slots, {}, 1
    if origin is glft:
        fit_a = fit_k = None
        if p.calibration_window is not None:
            fit_a = next(f.name for f in strategy.features if f.name.startswith("fill_A"))
            fit_k = next(f.name for f in strategy.features if f.name.startswith("fill_kappa"))
        row = [p.gamma, p.kappa, p.A, p.order_value, _none(p.max_inventory), p.min_spread_bps]
        slots = [table.slot(f"volatility_{p.vol_window}"), table.slot(fit_a), table.slot(fit_k)]
        return 2, row, slots, {}, 1
    if origin is mexico:
        from mmsim.strategies.mexico import _features

        _, names = _features(p)
        row = [
            p.order_value,
            float(p.levels),
            float(("constant", "geometric", "adaptive").index(p.sizing)),
            p.size_ratio,
            p.aggressiveness,
            p.max_position_value,
            p.spacing_bps,
            p.vol_spacing,
            p.momentum_spacing_bps,
            p.min_spread_bps,
            p.inventory_skew_bps,
            p.pnl_skew_bps,
            p.ma_skew_bps,
            p.momentum_skew_bps,
            p.impact_weight,
            float(p.ma_window),
            float(p.momentum_window),
        ]
        slots = [table.slot(n) for n in (names.vol, names.sma, names.mom, names.volume)]
        skews = {name: w for name, w in p.feature_skews}
        return 3, row, slots, skews, p.levels
    raise _Unsupported(f"strategy {strategy.name!r} has no kernel (a user's own strategy)")


def fast_plan(
    strategies: Sequence, risk, matching, accounting, symbols: Sequence[str]
) -> tuple[FastPlan | None, str]:
    """The kernels' plan for these stages, or (None, why not). `strategies`: one per symbol."""
    from mmsim.core.engine import account_bar
    from mmsim.strategies.base import Strategy

    try:
        if accounting is not account_bar:
            raise _Unsupported("accounting is not the built-in account_bar")
        kind, matching_params, draws = _matching(matching)
        risk_rows = _risk_rows(risk)
        table = _Features()
        rows = []
        for symbol, strategy in zip(symbols, strategies, strict=True):
            if not isinstance(strategy, Strategy):
                raise _Unsupported(f"strategy for {symbol} is not a Strategy")
            try:
                rows.append(_strategy_row(strategy, table))
            except _Unsupported as exc:
                raise _Unsupported(f"{exc} for {symbol}") from None
        skew_names = sorted({n for row in rows for n in row[3]})
        skew_slots = [table.slot(n) for n in skew_names]
    except _Unsupported as exc:
        return None, str(exc)
    n = len(rows)
    params = np.full((n, N_PARAMS), np.nan)
    slots = np.full((n, N_SLOTS), -1, dtype=np.int64)
    skews = np.full((n, len(skew_names)), np.nan)
    kinds = np.zeros(n, dtype=np.int64)
    for s, (k, row, sl, sk, _) in enumerate(rows):
        kinds[s] = k
        params[s, : len(row)] = row
        slots[s, : len(sl)] = sl
        for j, name in enumerate(skew_names):
            if name in sk:
                skews[s, j] = sk[name]
    names = ", ".join(sorted({STRATEGY_KINDS[k] for k in kinds}))
    plan = FastPlan(
        kinds=kinds,
        params=params,
        slots=slots,
        skews=skews,
        skew_slots=np.array(skew_slots, dtype=np.int64),
        features=tuple(table.names),
        risk=risk_rows,
        matching=kind,
        matching_params=matching_params,
        draws=draws,
        levels=max([r[4] for r in rows] + [1]),
    )
    return plan, f"every stage has a kernel ({names}; {risk.name}; {_match_name(kind)})"


def _match_name(kind: int) -> str:
    return "trade-through matching" if kind == MATCH_TRADE_THROUGH else "intensity matching"


__all__ = ["RISK_KINDS", "STRATEGY_KINDS", "FastPlan", "fast_plan"]
