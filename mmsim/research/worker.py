"""The worker side of a sweep: the bars held once per worker process, and one run per call."""

from __future__ import annotations

import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import polars as pl

from mmsim.core.backtest import backtest
from mmsim.core.risk import NO_RISK, basic_risk
from mmsim.core.venue import Venue
from mmsim.research.spec import RunSpec, resolve_strategy
from mmsim.results.result import Result


@attrs.frozen(slots=True)
class DataRef:
    """The bars by name on a worker: installed by the pool initializer, or read from `path`."""

    fingerprint: str
    path: str | None = None


_WORKER_DATA: dict[str, pl.DataFrame] = {}
# a worker's prepared runs of the compiled path (`run_points(prepared=...)`) for the bars of
# its latest batch: [bars key, prepared runs by group]; one set of bars at a time, as a
# prepared year of 1m bars holds tens of MB
_PREPARED: list = [None, {}]


def install_data(fingerprint: str, bars: pl.DataFrame) -> None:
    """Process-pool initializer: keep the bars in the worker (shipped once per worker)."""
    _WORKER_DATA[fingerprint] = bars


def worker_bars(data: pl.DataFrame | DataRef) -> pl.DataFrame:
    if isinstance(data, pl.DataFrame):
        return data
    frame = _WORKER_DATA.get(data.fingerprint)
    if frame is None:
        if data.path is None:
            raise RuntimeError(f"bars {data.fingerprint} were not shipped to this worker")
        frame = _WORKER_DATA[data.fingerprint] = pl.read_parquet(data.path)
    return frame


def _spec_bars(bars: pl.DataFrame, spec: RunSpec) -> pl.DataFrame:
    """The bars of the spec's symbols inside its window."""
    if spec.window is None and bars["symbol"].n_unique() == len(spec.symbols):
        return bars
    keep = pl.col("symbol").is_in(list(spec.symbols))
    if spec.window is not None:
        ts = pl.col("ts").dt.epoch("us")
        keep = keep & (ts >= spec.window[0]) & (ts < spec.window[1])
    return bars.filter(keep)


def _arguments(spec: RunSpec) -> dict[str, Any]:
    """The spec's strategies, risk rule, venue and cash, built."""
    factory = resolve_strategy(spec.strategy)
    return {
        "strategies": {s: factory(**spec.params[s]) for s in spec.symbols},
        "risk": NO_RISK if spec.risk is None else basic_risk(**spec.risk),
        "venue": Venue(**spec.venue),
        "initial_cash": spec.initial_cash,
    }


def _error_text(exc: BaseException) -> str:
    origin = exc.__cause__ or exc  # a strategy's own error: point at its line
    tb = traceback.extract_tb(origin.__traceback__)
    where = f" (at {Path(tb[-1].filename).name}:{tb[-1].lineno})" if tb else ""
    return f"{type(exc).__name__}: {exc}{where}"


def backtest_spec(bars: pl.DataFrame, spec: RunSpec) -> Result:
    """The backtest of one spec on the sweep's bars (its symbols and window taken from them)."""
    return backtest(
        _spec_bars(bars, spec), **_arguments(spec), allow_gaps=spec.allow_gaps, engine=spec.engine
    )


def run_spec(data: pl.DataFrame | DataRef, spec: RunSpec) -> dict[str, Any]:
    """Run one backtest (on a worker). Never raises for a failing run: returns its error instead."""
    started = time.perf_counter()
    out: dict[str, Any] = {"run_id": spec.run_id, "status": "failed", "error": spec.error}
    if spec.error is None:
        try:
            result = backtest_spec(worker_bars(data), spec)
            out.update(status="ok", summary=result.summary, halted=result.halted)
            if spec.keep_equity:
                out["equity"] = result.equity.select("ts", "equity")
        except Exception as exc:
            out["error"] = _error_text(exc)
    out["elapsed_s"] = time.perf_counter() - started
    return out


def run_batch(
    data: pl.DataFrame | DataRef, specs: Sequence[RunSpec], threads: int = 1
) -> list[dict[str, Any]]:
    """Run several specs on one worker; one outcome per spec, in order.

    Specs on the compiled path run together, many points per prepared run
    (`mmsim.fast.batch.run_points`); the others, and any point the kernels hand back, run alone.
    """
    outcomes: dict[int, dict[str, Any]] = {}
    groups: dict[tuple, list[int]] = {}
    for i, spec in enumerate(specs):
        if spec.error is None and spec.engine != "reference":
            key = (spec.window, spec.symbols, spec.allow_gaps, spec.engine)
            groups.setdefault(key, []).append(i)
    for members in groups.values():
        outcomes.update(_run_group(data, [specs[i] for i in members], members, threads))
    return [outcomes.get(i) or run_spec(data, spec) for i, spec in enumerate(specs)]


def _run_group(data, specs: list[RunSpec], index: list[int], threads: int) -> dict[int, dict]:
    """Outcomes of specs alike in bars, window and engine, by index (absent: run alone)."""
    try:
        from mmsim.fast.batch import BatchPoint, run_points
    except ImportError:  # no numba: every run goes alone (and picks the reference engine)
        return {}
    started = time.perf_counter()
    points, built = [], []
    for i, spec in zip(index, specs, strict=True):
        try:
            points.append(BatchPoint(**_arguments(spec), keep_equity=spec.keep_equity))
            built.append((i, spec))
        except Exception:
            continue  # run alone: its error is reported as any run's
    bars = _spec_bars(worker_bars(data), specs[0])
    results = run_points(
        bars,
        points,
        allow_gaps=specs[0].allow_gaps,
        engine=specs[0].engine,
        threads=threads,
        prepared=_prepared_runs(data, specs[0]),
    )
    share = (time.perf_counter() - started - sum(_elapsed(r) for r in results)) / max(
        len(results), 1
    )
    outcomes = {}
    for (i, spec), result in zip(built, results, strict=True):
        if result is None:
            continue
        out: dict[str, Any] = {"run_id": spec.run_id, "status": "failed", "error": None}
        if isinstance(result, BaseException):
            out["error"] = _error_text(result)
            out["elapsed_s"] = share
        else:
            out.update(status="ok", summary=result.summary, halted=result.halted)
            out["elapsed_s"] = result.elapsed_s + share
            if result.equity is not None:
                out["equity"] = result.equity
        outcomes[i] = out
    return outcomes


def _prepared_runs(data: pl.DataFrame | DataRef, spec: RunSpec) -> dict:
    """The prepared runs kept for the spec's bars on a worker (emptied when they change); a
    fresh dict for bars passed in (in process: nothing of the caller's is held past the call)."""
    if not isinstance(data, DataRef):
        return {}
    key = (data.fingerprint, spec.window, spec.symbols, spec.allow_gaps)
    if _PREPARED[0] != key:
        _PREPARED[:] = [key, {}]
    return _PREPARED[1]


def _elapsed(result: Any) -> float:
    return getattr(result, "elapsed_s", 0.0) if result is not None else 0.0


__all__ = ["DataRef", "backtest_spec", "install_data", "run_batch", "run_spec", "worker_bars"]
