"""How runs execute: one frozen options value shared by `sweep`, `walk_forward` and `compare`.

    opts = RunOptions(executor="processes", workers=2, engine="fast", progress=True)
    mmsim.sweep(bars, strategy=..., grid=..., options=opts)

Each of those functions also takes the same settings as keywords (they build a RunOptions);
pass one or the other, not both.
"""

from __future__ import annotations

import os
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

import attrs

from mmsim.core.backtest import ENGINES

EXECUTORS = ("inprocess", "processes", "dask")


def _check_executor(_, attribute, value) -> None:
    if not (isinstance(value, Executor) or value in EXECUTORS):
        raise ValueError(
            f"executor must be one of {EXECUTORS} or a concurrent.futures.Executor, got {value!r}"
        )


def _check_workers(_, attribute, value) -> None:
    if value is not None and not (
        isinstance(value, int) and not isinstance(value, bool) and value >= 1
    ):
        raise ValueError(f"workers must be an integer >= 1 or None, got {value!r}")


def _check_engine(_, attribute, value) -> None:
    if value not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {value!r}")


def _check_scheduler(options: RunOptions, attribute, value) -> None:
    if value is None:
        if options.executor == "dask":
            raise ValueError(
                "executor 'dask' needs scheduler='tcp://host:port' or a distributed.Client, "
                "got None"
            )
        return
    if isinstance(value, str):
        if not value:
            raise ValueError("scheduler must be 'tcp://host:port' or a distributed.Client, got ''")
        return
    if type(value).__name__ != "Client":  # distributed.Client, without importing distributed
        raise ValueError(
            f"scheduler must be 'tcp://host:port' or a distributed.Client, got {value!r}"
        )


def _path_or_none(value: Any) -> Path | None:
    if value is None:
        return None
    if not isinstance(value, str | os.PathLike):
        raise ValueError(f"out must be a folder path or None, got {value!r}")
    return Path(value)


@attrs.frozen(slots=True)
class RunOptions:
    """Where and how a batch of backtests runs (immutable; validated on construction).

    executor: "processes" (a local pool of `workers` processes, all cores by default),
        "inprocess" (debugging), "dask" (a cluster given by `scheduler`) or any
        `concurrent.futures.Executor`; a `scheduler` with "processes" selects "dask".
    scheduler: "tcp://host:port" or a `distributed.Client` (for "dask").
    workers: local worker processes (None: one per core).
    out: a results folder (a sweep's rows, one Parquet file per run; None: kept in memory).
    progress: show a progress bar with done, failed and ETA (on stderr).
    progress_label: what the bar says it runs ("sweep", "walk-forward train: 6 windows", ...).
    engine: each backtest's engine, "auto" (compiled kernels when every stage has one, a sweep
        then runs many points per kernel call), "fast" or "reference"; the rows are the same.
    """

    executor: str | Executor = attrs.field(default="processes", validator=_check_executor)
    scheduler: Any = attrs.field(default=None, validator=_check_scheduler, eq=False)
    workers: int | None = attrs.field(default=None, validator=_check_workers)
    out: Path | None = attrs.field(default=None, converter=_path_or_none)
    progress: bool = attrs.field(default=False, validator=attrs.validators.instance_of(bool))
    progress_label: str = attrs.field(
        default="sweep", validator=attrs.validators.instance_of(str), eq=False
    )
    engine: str = attrs.field(default="auto", validator=_check_engine)

    @property
    def kind(self) -> str:
        """The executor's kind: "inprocess", "processes", "dask" or "foreign" (an Executor)."""
        if isinstance(self.executor, Executor):
            return "foreign"
        if self.scheduler is not None and self.executor == "processes":
            return "dask"
        return self.executor


_DEFAULTS = {a.name: a.default for a in attrs.fields(RunOptions)}


def run_options(options: RunOptions | None, **keywords: Any) -> RunOptions:
    """`options`, or a RunOptions built from the keywords; both at once is an error when a
    keyword differs from its default (it would be silently ignored)."""
    if options is None:
        return RunOptions(**keywords)
    if not isinstance(options, RunOptions):
        raise ValueError(f"options must be a mmsim.RunOptions, got {options!r}")
    given = sorted(k for k, v in keywords.items() if v is not _DEFAULTS[k] and v != _DEFAULTS[k])
    if given:
        raise ValueError(f"pass either options=RunOptions(...) or the keywords {given}, not both")
    return options


__all__ = ["EXECUTORS", "RunOptions", "run_options"]
