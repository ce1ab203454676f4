"""The worker side of a sweep: the bars held once per worker process, and one run per call."""

from __future__ import annotations

import time
import traceback
from pathlib import Path
from typing import Any

import attrs
import polars as pl

from mmsim.core.backtest import backtest
from mmsim.core.risk import NO_RISK, basic_risk
from mmsim.core.venue import Venue
from mmsim.research.spec import RunSpec, resolve_strategy


@attrs.frozen(slots=True)
class DataRef:
    """The bars by name on a worker: installed by the pool initializer, or read from `path`."""

    fingerprint: str
    path: str | None = None


_WORKER_DATA: dict[str, pl.DataFrame] = {}


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


def run_spec(data: pl.DataFrame | DataRef, spec: RunSpec) -> dict[str, Any]:
    """Run one backtest (on a worker). Never raises for a failing run: returns its error instead."""
    started = time.perf_counter()
    out: dict[str, Any] = {"run_id": spec.run_id, "status": "failed", "error": spec.error}
    if spec.error is None:
        try:
            bars = worker_bars(data)
            if spec.window is not None or bars["symbol"].n_unique() != len(spec.symbols):
                keep = pl.col("symbol").is_in(list(spec.symbols))
                if spec.window is not None:
                    ts = pl.col("ts").dt.epoch("us")
                    keep = keep & (ts >= spec.window[0]) & (ts < spec.window[1])
                bars = bars.filter(keep)
            factory = resolve_strategy(spec.strategy)
            result = backtest(
                bars,
                {s: factory(**spec.params[s]) for s in spec.symbols},
                risk=NO_RISK if spec.risk is None else basic_risk(**spec.risk),
                venue=Venue(**spec.venue),
                initial_cash=spec.initial_cash,
                allow_gaps=spec.allow_gaps,
                engine=spec.engine,
            )
            out.update(status="ok", summary=result.summary, halted=result.halted)
            if spec.keep_equity:
                out["equity"] = result.equity.select("ts", "equity")
        except Exception as exc:
            origin = exc.__cause__ or exc  # a strategy's own error: point at its line
            tb = traceback.extract_tb(origin.__traceback__)
            where = f" (at {Path(tb[-1].filename).name}:{tb[-1].lineno})" if tb else ""
            out["error"] = f"{type(exc).__name__}: {exc}{where}"
    out["elapsed_s"] = time.perf_counter() - started
    return out


def run_batch(data: pl.DataFrame | DataRef, specs) -> list[dict[str, Any]]:
    """Run several specs on one worker; one outcome per spec, in order."""
    return [run_spec(data, spec) for spec in specs]


__all__ = ["DataRef", "install_data", "run_batch", "run_spec", "worker_bars"]
