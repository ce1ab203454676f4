"""Many backtests of the same bars on the kernels: the summary row of each, not its frames.

Points that share the venue, the cash, the feature columns and the kernel's layout (levels,
matching) share one prepared run: the bars validated once, each feature computed once, the
symbol specs inferred once and the kernel's numpy columns built once. Each point then costs one
kernel call (compiled without the GIL, so points run from threads) and its summary computed from
the kernel's tables in compiled passes (`mmsim.fast.summary`: the table
`mmsim.results.metrics.summarize` gives over the run's frames, so a row here is the row of
`backtest(...).summary`); the frames themselves are never built.

A point whose stages have no kernel (engine "auto"), or whose strategy proposes an invalid
quote, is handed back as None: the caller runs it through `mmsim.backtest`, whose reference
engine reports it in its own words.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import attrs
import numpy as np
import polars as pl

from mmsim.core.engine import account_bar
from mmsim.core.matching import match_bar
from mmsim.core.risk import RiskRule
from mmsim.core.setup import RunSetup, prepare_run, resolve_strategies
from mmsim.core.venue import Venue
from mmsim.fast.plan import fast_plan
from mmsim.strategies.base import Strategy

# the plan's per-point arrays, swapped into a group's kernel inputs point by point
_PLAN_ARRAYS = ("kinds", "params", "slots", "skews", "skew_slots", "risk", "matching_params")


@attrs.frozen(slots=True, eq=False)
class BatchPoint:
    """One backtest of a batch (immutable): the arguments of `mmsim.backtest` that vary."""

    strategies: Strategy | Mapping[str, Strategy]
    risk: RiskRule
    venue: Venue
    initial_cash: float
    keep_equity: bool = False


@attrs.frozen(slots=True, eq=False)
class PointResult:
    """One point's outcome (immutable): its summary (as `Result.summary`), the halting event
    (as `Result.halted`), its equity (ts, equity; when asked for) and its own seconds."""

    summary: pl.DataFrame
    halted: str | None
    equity: pl.DataFrame | None
    elapsed_s: float


@attrs.frozen(slots=True, eq=False)
class _Group:
    """A prepared run shared by points alike in everything but the plan's arrays."""

    setup: RunSetup
    plan: Any  # the first point's FastPlan
    inputs: tuple  # its kernel inputs
    # output tables free for the next point (one per thread at most): a point writes into
    # pages an earlier one already faulted in, instead of a fresh year of records each time
    tables: list = attrs.field(factory=list)


Outcome = PointResult | BaseException | None


def run_points(
    bars: pl.DataFrame,
    points: Sequence[BatchPoint],
    *,
    allow_gaps: bool = False,
    engine: str = "auto",
    threads: int = 1,
    prepared: dict | None = None,
) -> list[Outcome]:
    """Each point's PointResult, its exception, or None (run it on `mmsim.backtest`), in order.

    bars: one validated-able bars frame for every point (already cut to their window).
    threads: points run at once (kernels and Polars release the GIL).
    prepared: the prepared runs of earlier calls on these same bars (filled here), so batch
    after batch of one sweep validates the bars and computes the features once.
    """
    outcomes: list[Outcome] = [None] * len(points)
    if engine == "reference" or not points or not _have_numba():
        return outcomes
    symbols = tuple(bars["symbol"].unique().sort().to_list())
    groups: dict[tuple, list[tuple[int, Any]]] = {}
    for i, point in enumerate(points):
        try:
            per_symbol = resolve_strategies(point.strategies, symbols)
            plan, _ = fast_plan(per_symbol, point.risk, match_bar, account_bar, symbols)
        except Exception:  # the reference reports it in its own words
            continue
        if plan is None:
            continue
        groups.setdefault(_group_key(point, per_symbol, plan), []).append((i, plan))
    cache = {} if prepared is None else prepared
    for key, members in groups.items():
        if key not in cache:
            first = points[members[0][0]]
            try:
                cache[key] = _prepare(bars, first, members[0][1], allow_gaps)
            except Exception:
                cache[key] = None  # each point then runs on the reference, which reports it
        group = cache[key]
        if group is None or not _has_columns(group):
            continue  # as `backtest`: the reference reads what the kernels cannot
        jobs = [(i, _runner(group, plan, points[i])) for i, plan in members]
        for i, outcome in _map(jobs, threads):
            outcomes[i] = outcome
    return outcomes


def _have_numba() -> bool:
    try:
        import numba  # noqa: F401
    except ImportError:  # `backtest` then picks the reference engine, or says why it cannot
        return False
    return True


def _has_columns(group: _Group) -> bool:
    columns = set(group.setup.frame.columns)
    return all(c in columns for c in (*group.plan.features, *group.plan.draws))


def _group_key(point: BatchPoint, per_symbol: tuple[Strategy, ...], plan) -> tuple:
    features = tuple(dict.fromkeys(f.name for s in per_symbol for f in s.features))
    return (
        repr(point.venue),
        float(point.initial_cash),
        features,
        plan.features,
        plan.draws,
        int(plan.levels),
        int(plan.matching),
    )


def _prepare(bars: pl.DataFrame, point: BatchPoint, plan, allow_gaps: bool) -> _Group:
    from mmsim.fast.run import kernel_inputs

    setup = prepare_run(
        bars,
        point.strategies,
        risk=point.risk,
        venue=point.venue,
        initial_cash=point.initial_cash,
        allow_gaps=allow_gaps,
    )
    first_close = dict(zip(setup.symbols, setup.state0.account.marks, strict=True))
    inputs = kernel_inputs(
        setup.frame,
        setup.symbols,
        plan,
        setup.venue,
        setup.specs,
        setup.initial_cash,
        setup.interval_us,
        first_close,
    )
    return _Group(setup, plan, inputs)


def _inputs_for(group: _Group, plan) -> tuple:
    """The group's kernel inputs with this point's plan arrays in place of the first point's."""
    if plan is group.plan:
        return group.inputs
    swap = {id(getattr(group.plan, name)): getattr(plan, name) for name in _PLAN_ARRAYS}
    inputs = tuple(swap.get(id(x), x) if isinstance(x, np.ndarray) else x for x in group.inputs)
    swapped = sum(isinstance(x, np.ndarray) and id(x) in swap for x in group.inputs)
    if swapped != len(_PLAN_ARRAYS):  # a layout this module does not know: build them afresh
        from mmsim.fast.run import kernel_inputs

        s = group.setup
        first_close = dict(zip(s.symbols, s.state0.account.marks, strict=True))
        return kernel_inputs(
            s.frame, s.symbols, plan, s.venue, s.specs, s.initial_cash, s.interval_us, first_close
        )
    return inputs


def _runner(group: _Group, plan, point: BatchPoint) -> Callable[[], Outcome]:
    def run_one() -> Outcome:
        try:
            return _run_point(group, plan, point)
        except Exception as exc:
            return exc

    return run_one


def _run_point(group: _Group, plan, point: BatchPoint) -> PointResult | None:
    from mmsim.fast.engine import new_tables, run_into
    from mmsim.fast.run import InvalidQuote, _times
    from mmsim.fast.summary import fast_summary

    started = time.perf_counter()
    s = group.setup
    inputs = _inputs_for(group, plan)
    try:  # list.pop and append are atomic: threads share the free tables safely
        tables = group.tables.pop()
    except IndexError:
        T, S = inputs[1].shape
        tables = new_tables(T, S, plan.levels, plan.risk.shape[0])
    try:
        out, tables = run_into(tables, *inputs)
        summary, halted, equity = fast_summary(
            out,
            inputs,
            s.symbols,
            plan,
            s.initial_cash,
            s.interval_us,
            keep_equity=point.keep_equity,
        )
    except InvalidQuote:
        return None  # the reference run raises the same failure in its own words
    finally:
        group.tables.append(tables)
    return PointResult(
        summary=summary,
        halted=halted,
        equity=pl.DataFrame([_times("ts", inputs[0]), pl.Series("equity", equity)])
        if point.keep_equity
        else None,
        elapsed_s=time.perf_counter() - started,
    )


def _map(jobs: list[tuple[int, Callable[[], Outcome]]], threads: int):
    if threads <= 1 or len(jobs) <= 1:
        return [(i, job()) for i, job in jobs]
    with ThreadPoolExecutor(min(threads, len(jobs))) as pool:
        futures = [(i, pool.submit(job)) for i, job in jobs]
        return [(i, future.result()) for i, future in futures]


__all__ = ["BatchPoint", "PointResult", "run_points"]
