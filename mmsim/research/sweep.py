"""Parameter sweeps: many backtests of one strategy over a grid, on local cores or a Dask cluster.

A sweep resolves each grid point into a full run configuration, names it by a stable hash of
that configuration and of the bars' fingerprint (`run_id`), runs it through an executor and
returns one Polars row per run: `run_id`, `status` ("ok" / "failed"), `error`, the grid
parameters, the TOTAL row of `Result.summary` as bare columns (`pnl`, `sharpe`, ...) and, when
a run has several symbols, each symbol's row as `SYMBOL.metric` columns, then `halted`,
`elapsed_s` and `config` (JSON).

Grid keys (the same scheme in Python and in TOML):
    gamma               a strategy parameter, for every symbol
    BTCUSDT.gamma       a strategy parameter for one symbol only (prefix = a symbol of the bars)
    risk.max_leverage   a keyword of `mmsim.basic_risk`
    venue.maker_fee     a field of `mmsim.Venue`
    initial_cash        the starting wallet (USDT)

How runs execute (executor, scheduler, workers, out, progress, engine) is one `RunOptions`
value (mmsim/research/options.py), given as `options=` or built from the same keywords.
Executors: "inprocess" (debugging), "processes" (a local process pool on all cores, the
default) or "dask" (a `dask.distributed` cluster given by `scheduler="tcp://host:port"` or a
`Client`); see mmsim/research/executors.py. Grids: grid.py; run ids: spec.py; the worker
side: worker.py; rows and their folder: store.py.

With `out=DIR` each finished run is written as its own Parquet file `DIR/run-<run_id>.parquet`
(to a temporary name, then renamed), by the driver, as results arrive: a killed worker or an
interrupted sweep never leaves a partial row, and a re-run skips every run id already stored.
A run that raises is stored with status "failed" and its error; it does not stop the sweep.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

import polars as pl

from mmsim.core.bars import validate_bars
from mmsim.core.venue import Venue
from mmsim.research.executors import InlineExecutor, execute
from mmsim.research.grid import Grid, grid_points, symbol_grids
from mmsim.research.options import EXECUTORS, RunOptions, run_options
from mmsim.research.spec import (
    RunSpec,
    StrategyRef,
    config_hash,
    data_fingerprint,
    make_spec,
    resolve_strategy,
    spec_of_row,
    strategy_label,
)
from mmsim.research.store import (
    claim_sweep_folder,
    load_sweep,
    make_row,
    order_columns,
    stored_run_ids,
    write_row,
)
from mmsim.research.worker import DataRef, backtest_spec, run_spec
from mmsim.results.result import Result


def open_bars(bars: pl.DataFrame | str | os.PathLike) -> tuple[pl.DataFrame, str | None]:
    """The bars frame and, when given as a Parquet file, its absolute path (shipped as a path)."""
    if isinstance(bars, pl.DataFrame):
        return bars, None
    path = Path(bars)
    if not path.is_file():
        raise FileNotFoundError(f"bars file {path} does not exist")
    try:
        frame = pl.read_parquet(path)
    except Exception as exc:
        raise ValueError(f"{path}: not a readable Parquet file ({exc})") from exc
    return frame, str(path.resolve())


def sweep(
    bars: pl.DataFrame | str | os.PathLike,
    *,
    strategy: StrategyRef,
    grid: Grid | Mapping[str, Grid],
    params: Mapping[str, Any] | None = None,
    samples: int | None = None,
    seed: int = 0,
    per_symbol: bool = False,
    risk: Mapping[str, Any] | None = None,
    venue: Mapping[str, Any] | Venue | None = None,
    initial_cash: float = 100_000.0,
    allow_gaps: bool = False,
    executor: str | Executor = "processes",
    scheduler: Any = None,
    workers: int | None = None,
    out: str | os.PathLike | None = None,
    retry_failed: bool = False,
    progress: bool = False,
    max_runs: int | None = None,
    on_result: Callable[[pl.DataFrame], None] | None = None,
    engine: str = "auto",
    options: RunOptions | None = None,
) -> pl.DataFrame:
    """Backtest `strategy` at every point of `grid`; one row per run (see the module docstring).

    bars: a bars frame, or a Parquet file every worker reads itself.
    strategy: a factory `f(**params) -> Strategy` (e.g. `mmsim.avellaneda_stoikov`), a registry
        name ("avellaneda_stoikov", via `mmsim.strategies.make_strategy`) or "module:function".
    grid: {key: [values]} for the cartesian product, or a list of points {key: value}; keys as
        in the module docstring. params: fixed strategy keywords shared by every point.
    samples, seed: draw that many random points of the product instead of all of them.
    per_symbol: run each symbol alone on its own bars (adds a `symbol` column); `grid` may then
        map symbol -> grid.
    risk: fixed `basic_risk` keywords (None and no `risk.` keys: no risk rules); venue: fixed
        `Venue` fields or a Venue; initial_cash: USDT.
    options: how the runs execute (a `RunOptions`); or its keywords:
    executor: "processes" (default, `workers` processes, all cores), "inprocess", "dask" (with
        `scheduler` = "tcp://host:port" or a `distributed.Client`), or any
        `concurrent.futures.Executor`.
    out: a folder for the Parquet dataset (one file per run); runs stored there are skipped
        (failed ones too, unless `retry_failed`).
    engine: each run's backtest engine, "auto" (the compiled fast path when every stage has a
        kernel), "fast" or "reference"; the rows are the same.
    max_runs: stop after computing that many runs (the rest stays for a later call).
    on_result: called in the driver with each new run's row as it is stored.
    """
    opts = run_options(
        options,
        executor=executor,
        scheduler=scheduler,
        workers=workers,
        out=out,
        progress=progress,
        engine=engine,
    )
    resolve_strategy(strategy)  # a bad reference fails the sweep, not each run
    frame, path = open_bars(bars)
    frame = validate_bars(frame, allow_gaps=allow_gaps)
    fingerprint = data_fingerprint(frame)
    symbols = tuple(frame["symbol"].unique().sort().to_list())
    common = {
        "strategy": strategy,
        "fingerprint": fingerprint,
        "params": params,
        "risk": risk,
        "venue": venue,
        "initial_cash": initial_cash,
        "allow_gaps": allow_gaps,
        "engine": opts.engine,
    }
    jobs: list[tuple[RunSpec, dict[str, Any]]] = []
    if per_symbol:
        for symbol, g in symbol_grids(grid, symbols).items():
            for point in grid_points(g, samples=samples, seed=seed):
                jobs.append((make_spec(point, symbols=(symbol,), **common), {"symbol": symbol}))
    else:
        for point in grid_points(grid, samples=samples, seed=seed):
            jobs.append((make_spec(point, symbols=symbols, **common), {}))
    return run_jobs(
        jobs,
        frame,
        fingerprint=fingerprint,
        path=path,
        options=opts,
        retry_failed=retry_failed,
        max_runs=max_runs,
        on_result=on_result,
    )


def _stored(folder: Path | None, unique: Mapping[str, Any], retry_failed: bool) -> set[str]:
    """The run ids of `unique` already stored in `folder` (less the failed ones to retry)."""
    if folder is None:
        return set()
    claim_sweep_folder(folder)
    for stale in folder.glob(".run-*.part"):  # left by a driver killed mid-write
        stale.unlink(missing_ok=True)
    stored = stored_run_ids(folder) & set(unique)
    if retry_failed and stored:
        old = load_sweep(folder, sorted(stored))
        stored -= set(old.filter(pl.col("status") != "ok")["run_id"].to_list())
    return stored


def run_jobs(
    jobs: Sequence[tuple[RunSpec, Mapping[str, Any]]],
    frame: pl.DataFrame,
    *,
    fingerprint: str,
    path: str | None = None,
    options: RunOptions | None = None,
    retry_failed: bool = False,
    max_runs: int | None = None,
    on_result: Callable[[pl.DataFrame], None] | None = None,
    on_outcome: Callable[[RunSpec, dict[str, Any]], None] | None = None,
) -> pl.DataFrame:
    """Run (spec, extra columns) jobs, skipping those stored in `options.out`; rows in job order."""
    options = options or RunOptions()
    unique: dict[str, tuple[RunSpec, Mapping[str, Any]]] = {}
    for spec, extra in jobs:
        unique.setdefault(spec.run_id, (spec, extra))  # two points resolving alike run once
    folder = options.out
    stored = _stored(folder, unique, retry_failed)
    rows: dict[str, pl.DataFrame] = {}

    def store(spec: RunSpec, outcome: dict[str, Any]) -> None:
        row = make_row(spec, outcome, unique[spec.run_id][1])
        if folder is not None:
            write_row(folder, row)
        rows[spec.run_id] = row
        if on_outcome is not None:
            on_outcome(spec, outcome)
        if on_result is not None:
            on_result(row)

    todo = [spec for rid, (spec, _) in unique.items() if rid not in stored]
    execute(
        todo,
        frame,
        fingerprint=fingerprint,
        path=path,
        options=options,
        max_runs=max_runs,
        on_result=store,
        stored=len(stored),
    )
    done = [rid for rid in unique if rid in rows or rid in stored]
    frames = [rows[rid] for rid in done if rid in rows]
    if stored and folder is not None:
        frames.append(load_sweep(folder, sorted(stored)))
    if not frames:
        return pl.DataFrame(schema={"run_id": pl.String, "status": pl.String, "error": pl.String})
    result = pl.concat(frames, how="diagonal_relaxed")
    order = pl.DataFrame({"run_id": done, "_order": range(len(done))})
    return order_columns(result.join(order, on="run_id").sort("_order").drop("_order"))


def best_run(
    rows: pl.DataFrame, metric: str, *, maximize: bool | None = None
) -> dict[str, Any] | None:
    """The row with the best finite `metric` among successful runs (None if there is none).
    maximize defaults to True, except for metrics named like drawdowns."""
    if metric not in rows.columns:
        raise ValueError(f"metric {metric!r} is not a sweep column; columns: {rows.columns}")
    if maximize is None:
        maximize = "drawdown" not in metric
    ok = rows.filter((pl.col("status") == "ok") & pl.col(metric).is_not_null())
    if rows.schema[metric].is_float():
        ok = ok.filter(pl.col(metric).is_finite())
    if ok.height == 0:
        return None
    return ok.sort(metric, descending=maximize, maintain_order=True).row(0, named=True)


def rerun(
    bars: pl.DataFrame | str | os.PathLike,
    row: Mapping[str, Any] | pl.DataFrame | str,
    rows: pl.DataFrame | None = None,
    *,
    strategy: StrategyRef | None = None,
    engine: str = "auto",
) -> Result:
    """The full `Result` (fills, equity, symbols, ... frames) of one sweep run, rebuilt from its
    row: its strategy, risk rules, venue, cash, symbols and window as stored in `config`.

    row: a row as a dict (e.g. from `best_run`), a one-row frame, or a run id looked up in
    `rows`. bars: the bars the sweep ran on (a frame or a Parquet file); other bars are refused,
    since the row's run id names its data. strategy: the factory, when the one the config names
    cannot be imported here (defined in a script or a notebook). engine: as for `backtest`;
    every engine gives the row's figures.
    """
    if isinstance(row, str):
        if rows is None or "run_id" not in rows.columns:
            raise ValueError(f"run id {row!r} given without the sweep's rows to find it in")
        found = rows.filter(pl.col("run_id") == row)
        if found.height == 0:
            raise ValueError(f"run id {row!r} is not among the {rows.height} rows given")
        row = found
    if isinstance(row, pl.DataFrame):
        if row.height != 1:
            raise ValueError(f"rerun takes one sweep row, got a frame of {row.height} rows")
        row = row.row(0, named=True)
    frame, _ = open_bars(bars)
    config = row.get("config")
    allow_gaps = bool(json.loads(config).get("allow_gaps")) if isinstance(config, str) else False
    frame = validate_bars(frame, allow_gaps=allow_gaps)
    spec = spec_of_row(row, data_fingerprint(frame), strategy=strategy, engine=engine)
    return backtest_spec(frame, spec)


__all__ = [
    "EXECUTORS",
    "DataRef",
    "Grid",
    "InlineExecutor",
    "RunOptions",
    "RunSpec",
    "StrategyRef",
    "best_run",
    "config_hash",
    "data_fingerprint",
    "execute",
    "grid_points",
    "load_sweep",
    "make_row",
    "make_spec",
    "open_bars",
    "rerun",
    "resolve_strategy",
    "run_jobs",
    "run_spec",
    "stored_run_ids",
    "strategy_label",
    "sweep",
    "write_row",
]
