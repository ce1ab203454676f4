"""Several named strategy sets on the same bars in one call: one Result per set and a table.

    comparison = compare(bars, {"as": mmsim.avellaneda_stoikov(), "glft": {"BTCUSDT": ..., ...}},
                         risk={"max_leverage": 3.0}, venue=mmsim.Venue(), jobs=2)
    comparison.results["as"]   # a Result
    comparison.table           # one row per set: pnl, return, fees, fills, drawdown, sharpe, ...

Runs are independent, so with jobs > 1 they execute in separate processes (a
`concurrent.futures.ProcessPoolExecutor` with the "spawn" start method, which is safe with
Polars' thread pool). Each run is the same pure fold as in one process, so the results are
identical to a serial run. What a worker receives must pickle: strategies built by a strategy
factory do (they travel as factory + params); a risk rule built from closures does not, so pass
`risk` as a dict of `mmsim.basic_risk` keywords to run in parallel. As with any "spawn" pool,
a script that calls compare(jobs > 1) must do so under `if __name__ == "__main__":`.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import re
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import attrs
import polars as pl

from mmsim.atomic import MARKER, atomic_dir
from mmsim.core.backtest import backtest
from mmsim.core.bars import SYMBOL_PATTERN
from mmsim.core.risk import RiskRule, basic_risk
from mmsim.research.options import RunOptions
from mmsim.research.progress import progress_bar
from mmsim.results.report import write_comparison
from mmsim.results.result import REPLACES, Result
from mmsim.strategies.base import Strategy

StrategySet = Strategy | Mapping[str, Strategy]

TABLE_COLUMNS = (
    "set",
    "strategies",
    "pnl",
    "return",
    "fees",
    "funding",
    "fills",
    "volume",
    "max_drawdown",
    "sharpe",
    "final_equity",
    "halted",
)


@attrs.frozen(slots=True, eq=False)
class Comparison:
    """The results of several strategy sets on the same bars, and their comparison table."""

    results: dict[str, Result]
    table: pl.DataFrame

    def save(
        self,
        path: str | os.PathLike,
        *,
        overwrite: bool = False,
        report: bool = True,
        on_set: Callable[[str, int, int], None] | None = None,
    ) -> Path:
        """Write each set's Result into `path/<set>/`, the table as comparison.csv/.parquet and
        the sets side by side as comparison.html.

        report=False skips the HTML pages and PNG charts (the slow part of a save).
        on_set(name, k, n) is called as set k of n starts being written.
        Written beside the destination under a temporary name and renamed into place when
        complete, so an interrupted save never leaves a folder that looks whole.
        """
        for name in self.results:  # each names a folder: no path, no markup
            if re.fullmatch(SYMBOL_PATTERN, name) is None or name == MARKER:
                raise ValueError(
                    f"set name {name!r} cannot name a folder: use letters, digits, '.', '_', '-'"
                )
        with atomic_dir(path, overwrite=overwrite, kind="comparison", replaces=REPLACES) as tmp:
            for k, (name, result) in enumerate(self.results.items()):
                if on_set is not None:
                    on_set(name, k, len(self.results))
                result.save(tmp / name, report=report)
            self.table.write_csv(tmp / "comparison.csv")
            self.table.write_parquet(tmp / "comparison.parquet")
            if report:
                write_comparison(self.results, tmp / "comparison.html")
        return Path(path)


def _describe(strategies: StrategySet) -> str:
    if isinstance(strategies, Strategy):
        return strategies.name
    return ", ".join(f"{symbol}: {s.name}" for symbol, s in strategies.items())


def comparison_table(
    results: Mapping[str, Result], sets: Mapping[str, StrategySet]
) -> pl.DataFrame:
    """One row per set from the TOTAL row of each summary (USDT; return = pnl / initial cash)."""
    rows = []
    for name, result in results.items():
        total = result.summary.filter(pl.col("symbol") == "TOTAL").row(0, named=True)
        rows.append(
            {
                "set": name,
                "strategies": _describe(sets[name]),
                "pnl": total["pnl"],
                "return": total["pnl"] / result.config["initial_cash"],
                "fees": total["fees"],
                "funding": total["funding"],
                "fills": total["fills"],
                "volume": total["volume"],
                "max_drawdown": total["max_drawdown"],
                "sharpe": total["sharpe"],
                "final_equity": result.final_equity,
                "halted": result.halted,
            }
        )
    schema = {
        "set": pl.String,
        "strategies": pl.String,
        "pnl": pl.Float64,
        "return": pl.Float64,
        "fees": pl.Float64,
        "funding": pl.Float64,
        "fills": pl.Int64,
        "volume": pl.Float64,
        "max_drawdown": pl.Float64,
        "sharpe": pl.Float64,
        "final_equity": pl.Float64,
        "halted": pl.String,
    }
    return pl.DataFrame(rows, schema=schema, orient="row")


def _run(bars: pl.DataFrame, strategies: StrategySet, common: dict[str, Any]) -> Result:
    risk = common.get("risk")
    if isinstance(risk, Mapping):
        common = {**common, "risk": basic_risk(**risk)}
    return backtest(bars, strategies, **common)


def _check_picklable(name: str, what: str, value: Any) -> None:
    try:
        pickle.dumps(value)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        hint = (
            "pass risk as a dict of mmsim.basic_risk keywords"
            if what == "risk"
            else "build strategies with mmsim.make_strategy or a strategy factory"
        )
        raise ValueError(
            f"compare(jobs > 1): the {what} of {name!r} cannot be sent to a worker process "
            f"({exc}); {hint}, or use jobs=1"
        ) from None


def _options(jobs: Any, options: RunOptions | None, n_sets: int, common: dict) -> RunOptions:
    """The RunOptions of a compare call: `options`, or built from `jobs` and `engine`."""
    if options is not None:
        if jobs != 1 or "engine" in common:
            raise ValueError("pass either options=RunOptions(...) or jobs / engine, not both")
        return options
    engine = common.pop("engine", "auto")
    if jobs is None:
        jobs = min(n_sets, os.cpu_count() or 1)
    if not (isinstance(jobs, int) and not isinstance(jobs, bool) and jobs >= 1):
        raise ValueError(f"jobs must be an integer >= 1 or None, got {jobs!r}")
    if jobs == 1:
        return RunOptions(executor="inprocess", engine=engine)
    return RunOptions(executor="processes", workers=jobs, engine=engine)


@contextlib.contextmanager
def _pool(options: RunOptions, n_sets: int):
    """The executor the sets run on (a spawned process pool, a Dask client's, or the caller's)."""
    if options.kind == "foreign":
        yield options.executor
    elif options.kind == "dask":
        from distributed import Client

        own = not isinstance(options.scheduler, Client)
        client = Client(options.scheduler) if own else options.scheduler
        try:
            yield client.get_executor(pure=False)
        finally:
            if own:
                client.close()
    else:
        workers = options.workers or min(n_sets, os.cpu_count() or 1)
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            yield pool


def _check_sendable(sets: Mapping[str, StrategySet], common: dict) -> None:
    if "progress" in common:
        raise ValueError("compare(jobs > 1) cannot report progress from worker processes")
    for name, strategies in sets.items():
        _check_picklable(name, "strategies", strategies)
    for key, value in common.items():
        _check_picklable("every set", key, value)


def _run_all(bars, sets, common, options: RunOptions) -> dict[str, Result]:
    """Each set's Result, in the sets' order, on the executor `options` names."""
    results: dict[str, Result] = {}
    with progress_bar(options.progress, 0, label="compare") as bar:
        task = bar.add_task("compare", total=len(sets), failed=0) if bar is not None else None
        if options.kind == "inprocess":
            for name, s in sets.items():
                results[name] = _run(bars, s, common)
                if bar is not None:
                    bar.update(task, advance=1)
            return results
        _check_sendable(sets, common)
        with _pool(options, len(sets)) as pool:
            futures = {name: pool.submit(_run, bars, s, common) for name, s in sets.items()}
            for name, future in futures.items():
                results[name] = future.result()
                if bar is not None:
                    bar.update(task, advance=1)
    return results


def compare(
    bars: pl.DataFrame,
    sets: Mapping[str, StrategySet],
    *,
    jobs: int | None = 1,
    risk: RiskRule | Mapping[str, Any] | None = None,
    options: RunOptions | None = None,
    **common,
) -> Comparison:
    """Backtest each named strategy set on the same bars; return their Results and a table.

    sets: name -> one Strategy for every symbol, or a mapping symbol -> Strategy.
    jobs: worker processes (1 = in this process; None = one per CPU, at most one per set).
    options: how the sets run, a `RunOptions` instead of `jobs` / `engine` (executor, workers,
        engine, progress; `out` saves the comparison there, replacing an earlier comparison).
    risk: a RiskRule, or a dict of `basic_risk` keywords (needed for jobs > 1).
    common: the other keywords of `mmsim.backtest` (venue, initial_cash, allow_gaps, ...).
    """
    if not sets:
        raise ValueError("compare needs at least one strategy set")
    for name in sets:
        if not (isinstance(name, str) and name and "/" not in name and not name.startswith(".")):
            raise ValueError(
                f"strategy set names must be non-empty folder-safe strings, got {name!r}"
            )
    if risk is not None:
        common["risk"] = risk
    opts = _options(jobs, options, len(sets), common)
    common["engine"] = opts.engine
    results = _run_all(bars, sets, common, opts)
    comparison = Comparison(results, comparison_table(results, sets))
    if opts.out is not None:
        comparison.save(opts.out, overwrite=True)
    return comparison


__all__ = ["Comparison", "compare", "comparison_table"]
