"""Walk-forward validation: choose parameters on a train window, judge them on the next one.

The history is cut into consecutive windows: train [t, t + train), test [t + train,
t + train + test), then t advances by `step` (default: the test length), so the test windows
tile the history without overlap. On each train window the whole grid is swept and the best
point by `metric` is kept; that point alone is then run on the following test window, which it
has never seen. Each test run starts flat with `initial_cash`; the out-of-sample equity is those
test curves chained by compounding (each window's growth factor applied to the previous
window's final equity). Indicators warm up again at the start of every window (no quotes
until a strategy's features are defined), in-sample and out-of-sample alike.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

import attrs
import polars as pl

from mmsim.atomic import atomic_dir
from mmsim.core.bars import bar_interval_us, validate_bars
from mmsim.core.clock import parse_duration_us
from mmsim.core.venue import Venue
from mmsim.research.options import RunOptions, run_options
from mmsim.research.sweep import (
    Grid,
    RunSpec,
    StrategyRef,
    best_run,
    data_fingerprint,
    grid_points,
    make_spec,
    open_bars,
    resolve_strategy,
    run_jobs,
    strategy_label,
)
from mmsim.results.metrics import max_drawdown, sharpe_ratio

_DAY_US = 86_400 * 1_000_000


def walk_windows(
    start_us: int, end_us: int, *, train_us: int, test_us: int, step_us: int, anchored: bool = False
) -> list[tuple[int, int, int]]:
    """(train_start, train_end = test_start, test_end) in µs for every full window in [start, end).

    anchored: every train window starts at `start_us` (an expanding window).

    >>> walk_windows(0, 10, train_us=4, test_us=2, step_us=2)
    [(0, 4, 6), (2, 6, 8), (4, 8, 10)]
    """
    for name, value in (("train", train_us), ("test", test_us), ("step", step_us)):
        if value <= 0:
            raise ValueError(f"walk-forward {name} length must be positive, got {value} µs")
    windows = []
    k = 0
    while True:
        offset = start_us + k * step_us
        train_end = offset + train_us
        test_end = train_end + test_us
        if test_end > end_us:
            break
        windows.append((start_us if anchored else offset, train_end, test_end))
        k += 1
    return windows


@attrs.frozen(slots=True, eq=False)
class WalkForward:
    """A walk-forward's frames (immutable).

    windows: one row per window: window, train_start, train_end, test_start, test_end
             (Datetime), status, the chosen parameters, train_run_id, test_run_id, and
             is_<metric> / oos_<metric>, is_pnl / oos_pnl (USDT), is_pnl_per_day / oos_pnl_per_day.
    equity:  ts, window, equity: the stitched out-of-sample equity (USDT, compounded).
    summary: one row per scope ("in_sample", "out_of_sample"): windows, mean per-window metric,
             mean PnL per day, and for out_of_sample the stitched return, sharpe, max_drawdown.
    train:   every train-window sweep row, with its `window` column.
    """

    windows: pl.DataFrame
    equity: pl.DataFrame
    summary: pl.DataFrame
    train: pl.DataFrame
    metric: str
    config: dict[str, Any]

    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write the frames as Parquet and config.json into folder `path`, atomically."""
        with atomic_dir(path, overwrite=overwrite, kind="walk-forward") as folder:
            for name in ("windows", "equity", "summary", "train"):
                getattr(self, name).write_parquet(folder / f"{name}.parquet")
            config = {**self.config, "metric": self.metric}
            (folder / "config.json").write_text(json.dumps(config, indent=2, default=str))
        return Path(path)


def _stitch(curves: list[tuple[int, pl.DataFrame]], initial_cash: float) -> pl.DataFrame:
    """Chain per-window equity curves by compounding their growth from `initial_cash` each."""
    level = initial_cash
    parts = []
    for window, curve in curves:
        part = curve.select(
            "ts",
            pl.lit(window, pl.Int32).alias("window"),
            (pl.col("equity") / initial_cash * level),
        )
        if part.height:
            level = float(part["equity"][-1])
        parts.append(part)
    if not parts:
        return pl.DataFrame(
            schema={"ts": pl.Datetime("us"), "window": pl.Int32, "equity": pl.Float64}
        )
    return pl.concat(parts)


def walk_forward(
    bars: pl.DataFrame | str | os.PathLike,
    *,
    strategy: StrategyRef,
    grid: Grid,
    train: str | int = "14d",
    test: str | int = "7d",
    step: str | int | None = None,
    anchored: bool = False,
    metric: str = "sharpe",
    maximize: bool | None = None,
    params: Mapping[str, Any] | None = None,
    samples: int | None = None,
    seed: int = 0,
    risk: Mapping[str, Any] | None = None,
    venue: Mapping[str, Any] | Venue | None = None,
    initial_cash: float = 100_000.0,
    allow_gaps: bool = False,
    executor: str | Executor = "processes",
    scheduler: Any = None,
    workers: int | None = None,
    out: str | os.PathLike | None = None,
    progress: bool = False,
    on_result: Callable[[pl.DataFrame], None] | None = None,
    engine: str = "auto",
    options: RunOptions | None = None,
) -> WalkForward:
    """Walk-forward validation of `strategy` over `grid` (see the module docstring).

    train / test / step: window lengths ("14d", "12h", or µs); metric: a sweep column
    ("sharpe", "pnl", "BTCUSDT.pnl", ...), maximised unless `maximize=False` (a metric named
    like a drawdown is minimised by default). The other arguments are those of `mmsim.sweep`;
    with `out`, the train sweeps are stored under out/train and resume like any sweep.
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
    resolve_strategy(strategy)  # a bad reference fails at once
    frame, path = open_bars(bars)
    frame = validate_bars(frame, allow_gaps=allow_gaps)
    fingerprint = data_fingerprint(frame)
    interval_us = bar_interval_us(frame)
    windows = _cut_windows(frame, interval_us, train, test, step, anchored)
    common = {
        "strategy": strategy,
        "symbols": tuple(frame["symbol"].unique().sort().to_list()),
        "fingerprint": fingerprint,
        "params": params,
        "risk": risk,
        "venue": venue,
        "initial_cash": initial_cash,
        "allow_gaps": allow_gaps,
        "engine": opts.engine,
    }
    points = grid_points(grid, samples=samples, seed=seed)
    run = {"fingerprint": fingerprint, "path": path}
    if maximize is None:
        maximize = "drawdown" not in metric
    train_opts = attrs.evolve(
        opts,
        out=None if opts.out is None else opts.out / "train",
        progress_label=f"walk-forward train: {len(windows)} windows x {len(points)} points",
    )
    train_jobs = _train_jobs(points, windows, common)
    train_rows = run_jobs(train_jobs, frame, options=train_opts, on_result=on_result, **run)
    chosen = _choose(train_rows, len(windows), metric, maximize)
    point_of = {spec.run_id: spec.point for spec, _ in train_jobs}
    test_opts = attrs.evolve(
        opts, out=None, progress_label=f"walk-forward test: {len(windows)} windows"
    )
    test_rows, curves = _test_chosen(chosen, point_of, windows, common, frame, test_opts, run)
    windows_frame = _windows_frame(windows, chosen, test_rows, points, metric)
    equity = _stitch(_kept_curves(windows_frame, curves), initial_cash)
    summary = _summary(windows_frame, equity, metric, initial_cash, interval_us)
    config = {
        "strategy": strategy_label(strategy),
        "grid": grid if isinstance(grid, Mapping) else list(grid),
        "train": train,
        "test": test,
        "step": step,
        "anchored": anchored,
        "maximize": maximize,
        "initial_cash": initial_cash,
        "data_fingerprint": fingerprint,
    }
    return WalkForward(windows_frame, equity, summary, train_rows, metric, config)


def _train_jobs(points, windows, common) -> list[tuple[RunSpec, dict[str, Any]]]:
    """Every grid point on every train window, tagged with its window."""
    return [
        (make_spec(p, window=(a, b), **common), {"window": k})
        for k, (a, b, _) in enumerate(windows)
        for p in points
    ]


def _windows_frame(windows, chosen, test_rows, points, metric) -> pl.DataFrame:
    """`WalkForward.windows`: one record per window, its dates as Datetime."""
    keys = list(dict.fromkeys(key for p in points for key in p))
    tested_in = {row["window"]: row for row in test_rows.iter_rows(named=True)}
    records = [
        _window_record(k, window, chosen.get(k), tested_in.get(k), keys, metric)
        for k, window in enumerate(windows)
    ]
    return pl.DataFrame(records, infer_schema_length=None).with_columns(
        pl.from_epoch(pl.col(c), time_unit="us")
        for c in ("train_start", "train_end", "test_start", "test_end")
    )


def _kept_curves(windows: pl.DataFrame, curves: dict[str, pl.DataFrame]):
    """(window, test equity curve) of each window whose test run succeeded, in window order."""
    return [
        (r["window"], curves[r["test_run_id"]])
        for r in windows.iter_rows(named=True)
        if r["status"] == "ok" and r["test_run_id"] in curves
    ]


def _cut_windows(frame, interval_us, train, test, step, anchored) -> list[tuple[int, int, int]]:
    """(train start, train end = test start, test end) in µs, over the span of the bars."""
    train_us, test_us = parse_duration_us(train), parse_duration_us(test)
    step_us = parse_duration_us(step) if step is not None else test_us
    ts = frame["ts"].dt.epoch("us")
    start_us, end_us = int(ts.min()), int(ts.max()) + interval_us
    windows = walk_windows(
        start_us, end_us, train_us=train_us, test_us=test_us, step_us=step_us, anchored=anchored
    )
    if not windows:
        raise ValueError(
            f"walk-forward needs at least train + test = {(train_us + test_us) / _DAY_US:g} days "
            f"of bars; these bars span {(end_us - start_us) / _DAY_US:g} days"
        )
    return windows


def _choose(
    train_rows: pl.DataFrame, n_windows: int, metric: str, maximize: bool
) -> dict[int, dict[str, Any]]:
    """The best train run of each window by `metric` (a window whose runs all failed has none)."""
    if not (train_rows["status"] == "ok").any():  # no metric column when every run failed
        return {}
    chosen = {}
    for k in range(n_windows):
        best = best_run(train_rows.filter(pl.col("window") == k), metric, maximize=maximize)
        if best is not None:
            chosen[k] = best
    return chosen


def _test_chosen(chosen, point_of, windows, common, frame, options, run):
    """Run each window's chosen point on its test window: the rows and the equity curves."""
    test_jobs = []
    for k, best in chosen.items():
        point = point_of[best["run_id"]]  # the grid's own values, not the row's cast ones
        spec = make_spec(point, window=(windows[k][1], windows[k][2]), keep_equity=True, **common)
        test_jobs.append((spec, {"window": k}))
    curves: dict[str, pl.DataFrame] = {}

    def keep_curve(spec: RunSpec, outcome: dict[str, Any]) -> None:
        if outcome.get("equity") is not None:
            curves[spec.run_id] = outcome["equity"]

    return run_jobs(test_jobs, frame, options=options, on_outcome=keep_curve, **run), curves


def _window_record(
    k: int,
    window: tuple[int, int, int],
    best: dict[str, Any] | None,
    tested: dict[str, Any] | None,
    keys: list[str],
    metric: str,
) -> dict[str, Any]:
    """One row of `WalkForward.windows`: dates, chosen point, in- and out-of-sample figures."""
    a, b, c = window
    status = "ok"
    if best is None:
        status = "no successful train run"
    elif tested is None or tested["status"] != "ok":
        status = f"test run failed: {tested['error'] if tested else 'not run'}"
    record: dict[str, Any] = {
        "window": k,
        "train_start": a,
        "train_end": b,
        "test_start": b,
        "test_end": c,
        "status": status,
    }
    for key in keys:
        record[key] = best.get(key) if best else None
    record["train_run_id"] = best["run_id"] if best else None
    record["test_run_id"] = tested["run_id"] if tested else None
    ok = status == "ok"
    for prefix, row, days in (("is", best, (b - a) / _DAY_US), ("oos", tested, (c - b) / _DAY_US)):
        record[f"{prefix}_{metric}"] = row.get(metric) if row and ok else None
        pnl = row.get("pnl") if row and ok else None
        record[f"{prefix}_pnl"] = pnl
        record[f"{prefix}_pnl_per_day"] = pnl / days if pnl is not None else None
    return record


def _summary(
    windows: pl.DataFrame, equity: pl.DataFrame, metric: str, initial_cash: float, interval_us: int
) -> pl.DataFrame:
    ok = windows.filter(pl.col("status") == "ok")
    curve = equity["equity"]
    stitched = {"stitched_return": None, "stitched_sharpe": None, "stitched_max_drawdown": None}
    rows = []
    for scope, prefix in (("in_sample", "is"), ("out_of_sample", "oos")):
        row = {
            "scope": scope,
            "windows": ok.height,
            f"{metric}_mean": ok[f"{prefix}_{metric}"].cast(pl.Float64).mean(),
            "pnl_per_day_mean": ok[f"{prefix}_pnl_per_day"].mean(),
            **stitched,
        }
        if scope == "out_of_sample" and curve.len():
            row["stitched_return"] = float(curve[-1]) / initial_cash - 1
            row["stitched_sharpe"] = sharpe_ratio(curve, interval_us)
            row["stitched_max_drawdown"] = max_drawdown(curve)
        rows.append(row)
    floats = (f"{metric}_mean", "pnl_per_day_mean", *stitched)
    return pl.DataFrame(rows, schema_overrides={c: pl.Float64 for c in floats})


__all__ = ["WalkForward", "walk_forward", "walk_windows"]
