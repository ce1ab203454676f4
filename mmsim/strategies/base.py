"""The strategy contract: an optax-like pair of pure functions built by a keyword-only factory.

    strategy.init() -> state
    strategy.update(state, StrategyInput) -> (state, Quotes)

`update` runs at each bar's close for one symbol; the quotes it returns rest during the next
bar only. It must not read anything but its input and its own state (no globals, no clocks).
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

import attrs

from mmsim.core.bars import Bar
from mmsim.core.clock import parse_duration_us, time_left_us  # noqa: F401  (re-exported)
from mmsim.core.orders import Quotes
from mmsim.data.features import Feature


@attrs.frozen(slots=True)
class StrategyInput:
    """What a strategy sees at a bar close (immutable).

    bar: this bar (OHLCV and features). position: signed base units. entry_price: USDT (0 flat).
    equity: account equity in USDT. interval_us: bar length in µs (the quote's lifetime).
    tick_size (USDT) / lot_size (base units): the symbol's grid, for a strategy that rounds its
    own prices and sizes (placement rounds bids down, asks up, sizes down); None when unknown.
    """

    bar: Bar
    position: float
    entry_price: float
    equity: float
    interval_us: int
    tick_size: float | None = attrs.field(default=None, kw_only=True)
    lot_size: float | None = attrs.field(default=None, kw_only=True)

    @property
    def close_ts(self) -> int:
        """The time the quotes are decided (µs since the epoch): the bar's close."""
        return self.bar.ts + self.interval_us


@attrs.frozen(slots=True)
class EmptyState:
    """The state of a stateless strategy."""


EMPTY = EmptyState()


@attrs.frozen(slots=True)
class Strategy:
    """A named pair of pure functions with its parameters and the features it reads (immutable).

    origin: the keyword-only factory that built it (set by `strategy_factory`); with it the
    strategy pickles as (factory, params) so it can run in another process.
    """

    name: str
    init: Callable[[], Any] = attrs.field(eq=False)
    update: Callable[[Any, StrategyInput], tuple[Any, Quotes]] = attrs.field(eq=False)
    params: Any = None
    features: tuple[Feature, ...] = ()
    origin: Callable[..., Strategy] | None = attrs.field(default=None, eq=False, repr=False)

    def __reduce__(self):
        # closures do not pickle; a factory (a module-level function) and its params do
        if self.origin is None:
            raise pickle.PicklingError(
                f"strategy {self.name!r} was not built by a strategy factory, so it cannot be "
                "sent to another process; build it with mmsim.make_strategy(name, **params) "
                "or a registered factory, or run in one process"
            )
        return _rebuild, (self.origin, self.params)

    # immutable: a copy is the value itself (and copying must not go through pickling)
    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self


def _rebuild(factory, params) -> Strategy:
    return factory.from_params(params)


def stateless(
    name: str,
    quote: Callable[[StrategyInput], Quotes],
    *,
    params: Any = None,
    features: tuple[Feature, ...] = (),
) -> Strategy:
    """Wrap a plain function `quote(inputs) -> Quotes` as a Strategy with an empty state."""

    def update(state, inputs):
        return state, quote(inputs)

    return Strategy(name, lambda: EMPTY, update, params, tuple(features))
