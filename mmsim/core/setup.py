"""One place prepares a run: bars validated, strategies resolved per symbol, features added,
tick and lot sizes inferred, the step composed and the initial state built. `mmsim.backtest`
folds what `prepare_run` returns; `mmsim.testing` replays the same preparation step by step."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

import attrs
import polars as pl

from mmsim.core.account import Account
from mmsim.core.bars import Step, checked_bars, iter_steps
from mmsim.core.engine import EngineState, account_bar, initial_state, make_step
from mmsim.core.matching import match_bar
from mmsim.core.risk import NO_RISK, RiskRule
from mmsim.core.specs import first_closes, specs_at
from mmsim.core.venue import SymbolSpec, Venue
from mmsim.data.features import add_features
from mmsim.strategies.base import Strategy

# the columns every bar has; any other numeric column is a feature strategies read by name
BASE_COLUMNS = ("ts", "symbol", "open", "high", "low", "close", "volume", "funding_rate")


@attrs.frozen(slots=True)
class RunSetup:
    """What a backtest folds: `step` from `state0` over `steps()` (immutable)."""

    symbols: tuple[str, ...]
    strategies: tuple[Strategy, ...]
    specs: Mapping[str, SymbolSpec] = attrs.field(eq=False)
    interval_us: int
    initial_cash: float
    venue: Venue
    risk: RiskRule
    frame: pl.DataFrame = attrs.field(eq=False, repr=False)
    columns: tuple[str, ...]  # features and extra numeric columns the strategies may read
    step: Any = attrs.field(eq=False, repr=False)
    state0: EngineState = attrs.field(eq=False, repr=False)

    def steps(self) -> Iterator[Step]:
        """The bars of each timestamp in order, as the step takes them."""
        return iter_steps(self.frame, self.symbols, self.columns)


def resolve_strategies(
    strategies: Strategy | Mapping[str, Strategy], symbols: tuple[str, ...]
) -> tuple[Strategy, ...]:
    """One strategy per symbol, in `symbols` order; a mismatch names the symbols at fault."""
    if isinstance(strategies, Strategy):
        return (strategies,) * len(symbols)
    unknown = sorted(set(strategies) - set(symbols))
    if unknown:
        raise ValueError(
            f"strategies given for symbols not in the bars: {unknown}; bars have {list(symbols)}"
        )
    missing = [s for s in symbols if s not in strategies]
    if missing:
        raise ValueError(f"no strategy for symbol(s) {missing}: give one per symbol or one for all")
    return tuple(strategies[s] for s in symbols)


def _check_arguments(venue: Any, risk: Any, initial_cash: Any) -> None:
    """Wrongly typed run arguments fail here, by name, not as an AttributeError mid-run."""
    if not isinstance(venue, Venue):
        raise TypeError(
            f"venue must be a mmsim.Venue (e.g. Venue(maker_fee=0.0002)), got {venue!r:.80}"
        )
    if not isinstance(risk, RiskRule):
        raise TypeError(
            "risk must be a RiskRule such as mmsim.basic_risk(...) (omit it for no rule), "
            f"got {risk!r:.80}"
        )
    if isinstance(initial_cash, bool) or not (
        isinstance(initial_cash, int | float) and math.isfinite(initial_cash) and initial_cash > 0
    ):
        raise ValueError(
            f"initial_cash must be a finite positive number of USDT, got {initial_cash!r}"
        )


def prepare_run(
    bars: pl.DataFrame,
    strategies: Strategy | Mapping[str, Strategy],
    *,
    risk: RiskRule = NO_RISK,
    venue: Venue | None = None,
    initial_cash: float = 100_000.0,
    allow_gaps: bool = False,
    matching=match_bar,
    accounting=account_bar,
    interval_us: int | None = None,
) -> RunSetup:
    """Validate, resolve, add features, infer specs and compose the step (see the module doc).

    interval_us overrides the bar length inferred from the frame (a truncated market keeps the
    length of the whole one).
    """
    venue = Venue() if venue is None else venue
    _check_arguments(venue, risk, initial_cash)
    frame, inferred_us = checked_bars(bars, allow_gaps=allow_gaps)
    first_close = first_closes(frame)
    symbols = tuple(sorted(first_close))
    per_symbol = resolve_strategies(strategies, symbols)
    features = tuple({f.name: f for s in per_symbol for f in s.features}.values())
    frame = add_features(frame, features)
    names = tuple(dict.fromkeys(f.name for f in features))
    extra = tuple(
        c
        for c in frame.columns
        if c not in (*names, *BASE_COLUMNS) and frame.schema[c].is_numeric()
    )
    specs = specs_at(frame, venue, first_close)
    interval_us = interval_us or inferred_us
    account = Account.open(symbols, initial_cash, tuple(first_close[s] for s in symbols))
    step = make_step(
        symbols=symbols,
        strategies=per_symbol,
        risk=risk,
        venue=venue,
        specs=specs,
        initial_cash=initial_cash,
        interval_us=interval_us,
        matching=matching,
        accounting=accounting,
    )
    return RunSetup(
        symbols,
        per_symbol,
        specs,
        interval_us,
        initial_cash,
        venue,
        risk,
        frame,
        names + extra,
        step,
        initial_state(account, per_symbol, risk),
    )
