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

Executors: "inprocess" (debugging), "processes" (a local process pool on all cores, the
default) or "dask" (a `dask.distributed` cluster given by `scheduler="tcp://host:port"` or a
`Client`). The bars travel to each worker once: in the pool's initializer, by `Client.scatter`
(broadcast), or as a Parquet path every worker reads itself.

With `out=DIR` each finished run is written as its own Parquet file `DIR/run-<run_id>.parquet`
(to a temporary name, then renamed), by the driver, as results arrive: a killed worker or an
interrupted sweep never leaves a partial row, and a re-run skips every run id already stored.
A run that raises is stored with status "failed" and its error; it does not stop the sweep.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import math
import os
import pickle
import random
import tempfile
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import attrs
import polars as pl

from mmsim.atomic import MARKER, NotResultsFolderError, atomic_write, read_marker, write_marker
from mmsim.core.backtest import backtest
from mmsim.core.bars import validate_bars
from mmsim.core.risk import NO_RISK, basic_risk
from mmsim.core.venue import Venue
from mmsim.strategies.base import Strategy

EXECUTORS = ("inprocess", "processes", "dask")
StrategyRef = str | Callable[..., Strategy]
Grid = Mapping[str, Sequence[Any]] | Sequence[Mapping[str, Any]]

_META = ("run_id", "status", "error")
_TAIL = ("halted", "elapsed_s", "config")
# retries of a run whose worker process died (a pool crash fails every run in flight at once)
_MAX_ATTEMPTS = 3


# ----------------------------------------------------------------------------- grid points


def grid_points(grid: Grid, *, samples: int | None = None, seed: int = 0) -> list[dict[str, Any]]:
    """The points of a grid: the cartesian product of a mapping key -> values (first key varies
    slowest), or a list of point mappings as given; `samples` draws that many distinct points of
    the product at random (seeded) without building it.

    >>> grid_points({"gamma": [1, 2], "kappa": [0.5]})
    [{'gamma': 1, 'kappa': 0.5}, {'gamma': 2, 'kappa': 0.5}]
    """
    if isinstance(grid, Mapping):
        keys = list(grid)
        values = []
        for k in keys:
            v = grid[k]
            if isinstance(v, str | bytes) or not isinstance(v, Iterable):
                raise ValueError(f"grid[{k!r}] must be a list of values, got {v!r}")
            v = list(v)
            if not v:
                raise ValueError(f"grid[{k!r}] is empty")
            values.append(v)
        sizes = [len(v) for v in values]
        total = math.prod(sizes)
        if samples is None:
            return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*values)]
        if samples < 1:
            raise ValueError(f"samples must be >= 1, got {samples}")
        picks = random.Random(seed).sample(range(total), min(samples, total))
        points = []
        for index in sorted(picks):
            combo = []
            for size, vals in zip(reversed(sizes), reversed(values), strict=True):
                index, r = divmod(index, size)
                combo.append(vals[r])
            points.append(dict(zip(keys, reversed(combo), strict=True)))
        return points
    points = [dict(p) for p in grid]
    for i, p in enumerate(points):
        if not all(isinstance(k, str) for k in p):
            raise ValueError(f"grid point {i} has a non-string key: {p!r}")
    if samples is not None:
        rng = random.Random(seed)
        keep = sorted(rng.sample(range(len(points)), min(samples, len(points))))
        points = [points[i] for i in keep]
    return points


# ----------------------------------------------------------------------------- run specs


@attrs.frozen(slots=True)
class RunSpec:
    """Everything a worker needs for one backtest (immutable, picklable).

    strategy: a registry name, "module:function", or a factory callable; params: per symbol,
    the factory's keyword arguments; risk: `basic_risk` keywords or None (no risk rules);
    window: [start, end) in µs since epoch, or None for all bars. engine: the backtest engine
    ("auto", "fast" or "reference"; every engine gives the same row, so it is not in the run id).
    """

    run_id: str
    point: dict[str, Any] = attrs.field(eq=False)
    strategy: Any = attrs.field(eq=False)
    params: dict[str, dict[str, Any]] = attrs.field(eq=False)
    risk: dict[str, Any] | None = attrs.field(eq=False)
    venue: dict[str, Any] = attrs.field(eq=False)
    initial_cash: float
    allow_gaps: bool
    symbols: tuple[str, ...]
    window: tuple[int, int] | None = None
    config: str = attrs.field(default="", eq=False)
    error: str | None = attrs.field(default=None, eq=False)
    keep_equity: bool = attrs.field(default=False, eq=False)
    engine: str = attrs.field(default="auto", eq=False)


def _strategy_factory(factory: Any, ref: str) -> Callable[..., Strategy]:
    """`factory` if it is a Python function annotated `-> Strategy`; checked before any call.

    A name from a config file runs as code, so it must name a strategy factory, never an
    arbitrary callable such as "os:system".
    """
    import inspect
    import typing

    if not inspect.isfunction(factory):
        raise ValueError(
            f"strategy {ref!r} is not a Python function; name a strategy factory "
            "(def make(**params) -> mmsim.Strategy)"
        )
    try:
        returns = typing.get_type_hints(factory).get("return")
    except Exception:  # unresolvable annotations: treated as none
        returns = None
    if not (isinstance(returns, type) and issubclass(returns, Strategy)):
        raise ValueError(
            f"strategy {ref!r} is not annotated to return a Strategy; a 'module:function' "
            "must name a strategy factory (def make(**params) -> mmsim.Strategy)"
        )
    return factory


def resolve_strategy(ref: StrategyRef) -> Callable[..., Strategy]:
    """A factory `f(**params) -> Strategy` from a callable, "module:function" or a registry name."""
    if callable(ref):
        return ref
    if not isinstance(ref, str) or not ref:
        raise ValueError(f"strategy must be a factory callable or a name, got {ref!r}")
    if ":" in ref:
        import importlib

        module, _, name = ref.partition(":")
        try:
            factory = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError) as exc:
            raise ValueError(
                f"strategy {ref!r}: cannot import {name!r} from {module!r} ({exc})"
            ) from exc
        return _strategy_factory(factory, ref)
    try:
        from mmsim.strategies import make_strategy
    except ImportError as exc:
        raise ValueError(
            f"strategy {ref!r} by name needs the registry mmsim.strategies.make_strategy, which "
            "this mmsim lacks; pass a factory (e.g. mmsim.avellaneda_stoikov) or 'module:function'"
        ) from exc
    return lambda **params: make_strategy(ref, **params)


def strategy_label(ref: StrategyRef) -> str:
    """A stable text naming the strategy factory (for the run config and its hash)."""
    if isinstance(ref, str):
        return ref
    module = getattr(ref, "__module__", None) or "?"
    return f"{module}:{getattr(ref, '__qualname__', repr(ref))}"


def _plain(value: Any) -> Any:
    """A JSON-ready, hash-stable form: attrs -> dict, tuples -> lists, ints -> floats."""
    if attrs.has(type(value)):
        return {a.name: _plain(getattr(value, a.name)) for a in attrs.fields(type(value)) if a.init}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return float(value)
    return repr(value)


def _params(params: Any) -> dict[str, Any]:
    plain = _plain(params)
    return plain if isinstance(plain, dict) else {"repr": plain}


def config_hash(config: Mapping[str, Any], fingerprint: str) -> str:
    """The run id: 16 hex digits of a BLAKE2b hash of the resolved config and data fingerprint."""
    text = json.dumps({"config": _plain(config), "data": fingerprint}, sort_keys=True)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def data_fingerprint(bars: pl.DataFrame) -> str:
    """A hash of the bars' columns, dtypes and values (independent of how they were loaded)."""
    h = hashlib.blake2b(digest_size=16)
    for name in sorted(bars.columns):
        col = bars[name]
        h.update(f"{name}:{col.dtype}:{col.len()}:{col.null_count()};".encode())
        if col.dtype.is_temporal():
            col = col.to_physical()
        if col.dtype.is_numeric() or col.dtype == pl.Boolean:
            h.update(col.fill_null(0).to_numpy().tobytes())
            if col.null_count():
                h.update(col.is_null().to_numpy().tobytes())
        else:
            h.update("\x00".join("\x01" if x is None else str(x) for x in col.to_list()).encode())
    return h.hexdigest()


def _split_point(
    point: Mapping[str, Any], symbols: tuple[str, ...]
) -> tuple[dict, dict[str, dict], dict, dict, dict]:
    """Route each grid key to strategy (all / one symbol), risk, venue or top-level settings."""
    common: dict[str, Any] = {}
    by_symbol: dict[str, dict[str, Any]] = {}
    risk: dict[str, Any] = {}
    venue: dict[str, Any] = {}
    top: dict[str, Any] = {}
    for key, value in point.items():
        head, dot, name = key.partition(".")
        if key == "initial_cash":
            top[key] = value
        elif not dot:
            common[key] = value
        elif not name:
            raise ValueError(f"grid key {key!r} has nothing after the dot")
        elif head == "risk":
            risk[name] = value
        elif head == "venue":
            venue[name] = value
        elif head in symbols:
            by_symbol.setdefault(head, {})[name] = value
        else:
            raise ValueError(
                f"grid key {key!r}: prefix {head!r} is not 'risk', 'venue' or a symbol "
                f"of the bars {list(symbols)}"
            )
    return common, by_symbol, risk, venue, top


def make_spec(
    point: Mapping[str, Any],
    *,
    strategy: StrategyRef,
    symbols: tuple[str, ...],
    fingerprint: str,
    params: Mapping[str, Any] | None = None,
    risk: Mapping[str, Any] | None = None,
    venue: Mapping[str, Any] | Venue | None = None,
    initial_cash: float = 100_000.0,
    allow_gaps: bool = False,
    window: tuple[int, int] | None = None,
    keep_equity: bool = False,
    engine: str = "auto",
) -> RunSpec:
    """Resolve one grid point into a RunSpec; the factory, Venue and risk are built here once to
    validate the point and resolve their defaults. An invalid point gives a spec with `error` set
    (stored as a failed run) rather than an exception."""
    fixed_venue = _plain(venue) if isinstance(venue, Venue) else dict(venue or {})
    common, by_symbol, risk_grid, venue_grid, top = _split_point(point, symbols)
    per_symbol = {s: {**(params or {}), **common, **by_symbol.get(s, {})} for s in symbols}
    risk_kwargs = None if risk is None and not risk_grid else {**(risk or {}), **risk_grid}
    venue_kwargs = {**fixed_venue, **venue_grid}
    cash = float(top.get("initial_cash", initial_cash))
    label = strategy_label(strategy)
    config: dict[str, Any] = {
        "strategy": label,
        "symbols": list(symbols),
        "risk": risk_kwargs,
        "venue": venue_kwargs,
        "initial_cash": cash,
        "allow_gaps": allow_gaps,
        "window": list(window) if window else None,
    }
    error = None
    try:
        factory = resolve_strategy(strategy)
        built = {s: factory(**kw) for s, kw in per_symbol.items()}
        # resolved params (defaults filled in) plus any keyword the params do not keep
        config["strategies"] = {
            s: {"name": st.name, "params": {**_params(st.params), **_plain(per_symbol[s])}}
            for s, st in built.items()
        }
        config["venue"] = _plain(Venue(**venue_kwargs))
        if risk_kwargs is not None:
            basic_risk(**risk_kwargs)
    except Exception as exc:  # an invalid point is a failed run, not a failed sweep
        config["strategies"] = {s: {"params": _plain(kw)} for s, kw in per_symbol.items()}
        error = f"{type(exc).__name__}: {exc}"
    return RunSpec(
        run_id=config_hash(config, fingerprint),
        point=dict(point),
        strategy=strategy,
        params=per_symbol,
        risk=risk_kwargs,
        venue=venue_kwargs,
        initial_cash=cash,
        allow_gaps=allow_gaps,
        symbols=symbols,
        window=window,
        config=json.dumps(_plain(config), sort_keys=True),
        error=error,
        keep_equity=keep_equity,
        engine=engine,
    )


# ----------------------------------------------------------------------------- the worker side


@attrs.frozen(slots=True)
class DataRef:
    """The bars by name on a worker: installed by the pool initializer, or read from `path`."""

    fingerprint: str
    path: str | None = None


_WORKER_DATA: dict[str, pl.DataFrame] = {}


def _install_data(fingerprint: str, bars: pl.DataFrame) -> None:
    """Process-pool initializer: keep the bars in the worker (shipped once per worker)."""
    _WORKER_DATA[fingerprint] = bars


def _worker_bars(data: pl.DataFrame | DataRef) -> pl.DataFrame:
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
            bars = _worker_bars(data)
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


# ----------------------------------------------------------------------------- rows and storage


def _scalar(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return json.dumps(_plain(value))


def make_row(
    spec: RunSpec, outcome: Mapping[str, Any], extra: Mapping[str, Any] | None = None
) -> pl.DataFrame:
    """One run's row: meta, extra columns, grid parameters, metrics, halted, elapsed, config."""
    parts = [
        pl.DataFrame(
            {
                "run_id": [spec.run_id],
                "status": [outcome["status"]],
                "error": [outcome.get("error")],
            },
            schema={"run_id": pl.String, "status": pl.String, "error": pl.String},
        )
    ]
    front = {**(extra or {}), **{k: _scalar(v) for k, v in spec.point.items()}}
    if front:
        parts.append(pl.DataFrame({k: [v] for k, v in front.items()}, strict=False))
    summary = outcome.get("summary")
    if summary is not None:
        total = summary.filter(pl.col("symbol") == "TOTAL").drop("symbol")
        parts.append(total)
        symbols = [s for s in summary["symbol"].to_list() if s != "TOTAL"]
        for i, symbol in enumerate(summary["symbol"].to_list()):
            if symbol != "TOTAL" and len(symbols) > 1:  # one symbol: its row repeats TOTAL
                parts.append(
                    summary.slice(i, 1).drop("symbol").select(pl.all().name.prefix(f"{symbol}."))
                )
    parts.append(
        pl.DataFrame(
            {
                "halted": [outcome.get("halted")],
                "elapsed_s": [float(outcome.get("elapsed_s", 0.0))],
                "config": [spec.config],
            },
            schema={"halted": pl.String, "elapsed_s": pl.Float64, "config": pl.String},
        )
    )
    names = [c for p in parts for c in p.columns]
    clash = sorted({c for c in names if names.count(c) > 1})
    if clash:
        raise ValueError(f"grid keys collide with result columns {clash}; rename the parameters")
    return pl.concat(parts, how="horizontal")


def _run_file(out: Path, run_id: str) -> Path:
    return out / f"run-{run_id}.parquet"


def write_row(out: Path, row: pl.DataFrame) -> Path:
    """Write one run's row atomically: a hidden temporary file, then a rename onto its run id."""
    target = _run_file(out, row["run_id"][0])
    with atomic_write(target) as handle:
        row.write_parquet(handle)
    return target


def claim_sweep_folder(folder: Path) -> None:
    """Create (or reuse) a sweep folder; refuse a folder holding anything but mmsim's files."""
    if folder.exists() and not folder.is_dir():
        raise NotResultsFolderError(f"{folder} is not a folder; choose another sweep folder")
    marker = read_marker(folder) if folder.is_dir() else None
    if marker is not None and marker.get("kind") != "sweep":
        raise NotResultsFolderError(
            f"{folder} holds mmsim's {marker.get('kind')} results, not a sweep; "
            "choose another sweep folder"
        )
    if marker is None and folder.is_dir():
        foreign = [
            p.name
            for p in folder.iterdir()
            if not (p.name.startswith((".run-", "run-")) and p.name.endswith((".parquet", ".part")))
        ]
        if foreign:
            raise NotResultsFolderError(
                f"refusing to write sweep rows into {folder.resolve()}: it holds files mmsim did "
                f"not write ({', '.join(sorted(foreign)[:3])}) and no {MARKER}; choose another "
                "sweep folder"
            )
    folder.mkdir(parents=True, exist_ok=True)
    if marker is None:
        write_marker(folder, "sweep")


def stored_run_ids(out: str | os.PathLike) -> set[str]:
    """Run ids already stored in a sweep folder (from the file names; nothing is read)."""
    folder = Path(out)
    if not folder.is_dir():
        return set()
    return {p.name[len("run-") : -len(".parquet")] for p in folder.glob("run-*.parquet")}


def load_sweep(out: str | os.PathLike, run_ids: Iterable[str] | None = None) -> pl.DataFrame:
    """Read a sweep folder's rows (all, or those of `run_ids`) into one frame."""
    folder = Path(out)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a sweep results folder")
    ids = sorted(stored_run_ids(folder)) if run_ids is None else list(run_ids)
    frames = []
    for rid in ids:
        path = _run_file(folder, rid)
        try:
            frames.append(pl.read_parquet(path))
        except Exception as exc:
            raise ValueError(f"{path}: unreadable sweep row ({exc})") from exc
    if not frames:
        return pl.DataFrame(schema={"run_id": pl.String, "status": pl.String, "error": pl.String})
    return _order_columns(pl.concat(frames, how="diagonal_relaxed"))


def _order_columns(frame: pl.DataFrame) -> pl.DataFrame:
    tail = [c for c in _TAIL if c in frame.columns]
    rest = [c for c in frame.columns if c not in tail]
    return frame.select(*rest, *tail)


# ----------------------------------------------------------------------------- executors


class InlineExecutor(Executor):
    """Runs each task in the calling process when submitted (for debugging and tiny sweeps)."""

    def submit(self, fn, /, *args, **kwargs):
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


class _Backend:
    """A concurrent.futures executor plus the bars shipped to it once, and crash recovery."""

    def __init__(
        self,
        kind: str,
        bars: pl.DataFrame,
        fingerprint: str,
        path: str | None,
        workers: int | None,
        scheduler: Any,
    ):
        self.kind = kind
        self.bars, self.fingerprint, self.path, self.workers = bars, fingerprint, path, workers
        self.client = None
        self.own_client = False
        self.generation = 0
        if kind == "inprocess":
            self.executor: Executor = InlineExecutor()
            self.data: Any = bars
            self.slots = 1
        elif kind == "processes":
            self._start_pool()
        elif kind == "dask":
            self._start_dask(scheduler)
        else:
            raise ValueError(
                f"executor must be one of {EXECUTORS} or a concurrent.futures.Executor, "
                f"got {kind!r}"
            )

    def _start_pool(self) -> None:
        import multiprocessing

        n = self.workers or os.cpu_count() or 1
        # spawn, not fork: forking a process that runs Polars' thread pool can deadlock
        ctx = multiprocessing.get_context("spawn")
        if self.path is not None:
            self.executor = ProcessPoolExecutor(n, mp_context=ctx)
        else:
            self.executor = ProcessPoolExecutor(
                n, mp_context=ctx, initializer=_install_data, initargs=(self.fingerprint, self.bars)
            )
        self.data = DataRef(self.fingerprint, self.path)
        self.slots = 2 * n

    def _start_dask(self, scheduler: Any) -> None:
        from distributed import Client

        if isinstance(scheduler, Client):
            self.client = scheduler
        elif isinstance(scheduler, str) and scheduler:
            self.client, self.own_client = Client(scheduler), True
        else:
            raise ValueError(
                "executor 'dask' needs scheduler='tcp://host:port' or a distributed.Client, "
                f"got {scheduler!r}"
            )
        threads = sum(self.client.nthreads().values()) or 1
        if self.path is not None:
            self.data = DataRef(self.fingerprint, self.path)
        else:
            self.data = self.client.scatter(self.bars, broadcast=True, hash=False)
        self.executor = self.client.get_executor(pure=False)
        self.slots = 2 * threads + 2

    def submit(self, spec: RunSpec) -> tuple[Future, int]:
        return self.executor.submit(run_spec, self.data, spec), self.generation

    def recover(self, generation: int) -> None:
        """After a pool's worker died: start a fresh pool once per broken generation."""
        if self.kind == "processes" and generation == self.generation:
            # CPython < 3.12 leaves the surviving workers of a broken pool blocked on its queue
            # for ever (and the interpreter waiting for them at exit): end them here
            survivors = list((getattr(self.executor, "_processes", None) or {}).values())
            self.executor.shutdown(wait=False, cancel_futures=True)
            for process in survivors:
                if process.is_alive():
                    process.terminate()
            self.generation += 1
            self._start_pool()

    def close(self, cancel: bool) -> None:
        if self.kind == "dask":
            if cancel:
                with contextlib.suppress(Exception):
                    self.executor.shutdown(wait=False)
            if not isinstance(self.data, DataRef):
                with contextlib.suppress(Exception):
                    self.data.release()  # the scattered bars
            if self.own_client:
                self.client.close()
        else:
            self.executor.shutdown(wait=not cancel, cancel_futures=cancel)


def _is_worker_death(exc: BaseException) -> bool:
    return isinstance(exc, BrokenProcessPool)


class _ForeignBackend(_Backend):
    """A caller's own Executor: the bars go as a Parquet path, read once per process."""

    def __init__(self, executor: Executor, bars: pl.DataFrame, fingerprint: str, path: str | None):
        self.kind, self.client, self.own_client, self.generation = "foreign", None, False, 0
        self.scratch = None
        if path is None:
            self.scratch = tempfile.TemporaryDirectory(prefix="mmsim-sweep-")
            path = str(Path(self.scratch.name) / f"bars-{fingerprint}.parquet")
            bars.write_parquet(path)
        self.executor, self.data = executor, DataRef(fingerprint, path)
        self.slots = 2 * (getattr(executor, "_max_workers", None) or os.cpu_count() or 1)

    def close(self, cancel: bool) -> None:  # the caller owns the executor
        if self.scratch is not None:
            self.scratch.cleanup()


def _progress(enabled: bool, stored: int):
    if not enabled:
        return contextlib.nullcontext(None)
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[bold]sweep[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("failed [red]{task.fields[failed]}[/]"),
        TextColumn(f"({stored} stored before)"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )


def execute(
    specs: Sequence[RunSpec],
    bars: pl.DataFrame,
    *,
    fingerprint: str,
    path: str | None = None,
    executor: str | Executor = "processes",
    scheduler: Any = None,
    workers: int | None = None,
    out: Path | None = None,
    progress: bool = False,
    max_runs: int | None = None,
    on_result: Callable[[RunSpec, dict[str, Any]], None] | None = None,
    stored: int = 0,
) -> dict[str, dict[str, Any]]:
    """Run specs through an executor, calling `on_result(spec, outcome)` as each completes.

    Returns {run_id: outcome}. Stops after `max_runs` completed runs, cancelling the rest.
    """
    outcomes: dict[str, dict[str, Any]] = {}
    queue = deque(s for s in specs if s.error is None)
    attempts: dict[str, int] = {}

    def finish(spec: RunSpec, outcome: dict[str, Any]) -> None:
        outcomes[spec.run_id] = outcome
        if on_result is not None:
            on_result(spec, outcome)

    def limit_reached() -> bool:
        return max_runs is not None and len(outcomes) >= max_runs

    # points that failed to resolve are recorded without a worker
    for spec in specs:
        if spec.error is not None and not limit_reached():
            finish(spec, run_spec(None, spec))
    if not queue or limit_reached():
        return outcomes
    if isinstance(executor, Executor):
        backend: _Backend = _ForeignBackend(executor, bars, fingerprint, path)
    else:
        if scheduler is not None and executor == "processes":
            executor = "dask"
        if executor == "processes" and not _picklable(queue[0].strategy):
            raise ValueError(
                f"strategy {strategy_label(queue[0].strategy)} cannot be sent to worker processes "
                "(define the factory at module level, or use executor='inprocess')"
            )
        backend = _Backend(executor, bars, fingerprint, path, workers, scheduler)
    inflight: dict[Future, tuple[RunSpec, int]] = {}
    cancelled = True
    try:
        with _progress(progress, stored) as bar:
            task = bar.add_task("sweep", total=len(queue), failed=0) if bar is not None else None
            failed = breaks = 0
            while (queue or inflight) and not limit_reached():
                while queue and len(inflight) < backend.slots:
                    spec = queue.popleft()
                    try:
                        future, generation = backend.submit(spec)
                    except BrokenProcessPool:
                        backend.recover(backend.generation)
                        future, generation = backend.submit(spec)
                    inflight[future] = (spec, generation)
                done, _ = wait(list(inflight), return_when=FIRST_COMPLETED)
                for future in done:
                    spec, generation = inflight.pop(future)
                    try:
                        outcome = future.result()
                    except BaseException as exc:
                        if _is_worker_death(exc):
                            attempts[spec.run_id] = attempts.get(spec.run_id, 0) + 1
                            if generation == backend.generation:
                                breaks += 1
                                if breaks > 2 * _MAX_ATTEMPTS:
                                    raise RuntimeError(
                                        f"worker processes died {breaks} times in a row without "
                                        "finishing a run (a script that starts a process pool "
                                        "needs `if __name__ == '__main__':`)"
                                    ) from exc
                            backend.recover(generation)
                            if attempts[spec.run_id] < _MAX_ATTEMPTS:
                                queue.appendleft(spec)
                                continue
                        if isinstance(exc, KeyboardInterrupt):
                            raise
                        outcome = {
                            "run_id": spec.run_id,
                            "status": "failed",
                            "elapsed_s": 0.0,
                            "error": f"{type(exc).__name__}: {exc} (worker lost)",
                        }
                    if limit_reached():
                        break
                    finish(spec, outcome)
                    breaks = 0
                    failed += outcome["status"] != "ok"
                    if bar is not None:
                        bar.update(task, advance=1, failed=failed)
            cancelled = bool(queue or inflight)
    finally:
        backend.close(cancel=cancelled)
    return outcomes


def _picklable(obj: Any) -> bool:
    try:
        pickle.dumps(obj)
    except Exception:
        return False
    return True


# ----------------------------------------------------------------------------- the public sweep


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


def _symbol_grids(grid: Grid | Mapping[str, Grid], symbols: tuple[str, ...]) -> dict[str, Grid]:
    """Per-symbol mode: one grid for every symbol, or a mapping symbol -> grid."""
    if isinstance(grid, Mapping) and grid and all(k in symbols for k in grid):
        return {s: grid[s] for s in symbols if s in grid}
    return {s: grid for s in symbols}


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
    executor: "processes" (default, `workers` processes, all cores), "inprocess", "dask" (with
        `scheduler` = "tcp://host:port" or a `distributed.Client`), or any
        `concurrent.futures.Executor`.
    out: a folder for the Parquet dataset (one file per run); runs stored there are skipped
        (failed ones too, unless `retry_failed`).
    max_runs: stop after computing that many runs (the rest stays for a later call).
    on_result: called in the driver with each new run's row as it is stored.
    engine: each run's backtest engine, "auto" (the compiled fast path when every stage has a
        kernel), "fast" or "reference"; the rows are the same.
    """
    resolve_strategy(strategy)  # a bad reference fails the sweep, not each run
    from mmsim.core.backtest import ENGINES

    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
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
        "engine": engine,
    }
    jobs: list[tuple[RunSpec, dict[str, Any]]] = []
    if per_symbol:
        for symbol, g in _symbol_grids(grid, symbols).items():
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
        out=out,
        retry_failed=retry_failed,
        executor=executor,
        scheduler=scheduler,
        workers=workers,
        progress=progress,
        max_runs=max_runs,
        on_result=on_result,
    )


def run_jobs(
    jobs: Sequence[tuple[RunSpec, Mapping[str, Any]]],
    frame: pl.DataFrame,
    *,
    fingerprint: str,
    path: str | None = None,
    out: str | os.PathLike | None = None,
    retry_failed: bool = False,
    on_result: Callable[[pl.DataFrame], None] | None = None,
    on_outcome: Callable[[RunSpec, dict[str, Any]], None] | None = None,
    **run_options: Any,
) -> pl.DataFrame:
    """Run (spec, extra columns) jobs, skipping those stored in `out`; rows in job order."""
    unique: dict[str, tuple[RunSpec, Mapping[str, Any]]] = {}
    for spec, extra in jobs:
        unique.setdefault(spec.run_id, (spec, extra))  # two points resolving alike run once
    folder = Path(out) if out is not None else None
    stored: set[str] = set()
    if folder is not None:
        claim_sweep_folder(folder)
        for stale in folder.glob(".run-*.part"):  # left by a driver killed mid-write
            stale.unlink(missing_ok=True)
        stored = stored_run_ids(folder) & set(unique)
        if retry_failed and stored:
            old = load_sweep(folder, sorted(stored))
            stored -= set(old.filter(pl.col("status") != "ok")["run_id"].to_list())
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
        out=folder,
        on_result=store,
        stored=len(stored),
        **run_options,
    )
    done = [rid for rid in unique if rid in rows or rid in stored]
    frames = [rows[rid] for rid in done if rid in rows]
    if stored and folder is not None:
        frames.append(load_sweep(folder, sorted(stored)))
    if not frames:
        return pl.DataFrame(schema={"run_id": pl.String, "status": pl.String, "error": pl.String})
    result = pl.concat(frames, how="diagonal_relaxed")
    order = pl.DataFrame({"run_id": done, "_order": range(len(done))})
    return _order_columns(result.join(order, on="run_id").sort("_order").drop("_order"))


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


__all__ = [
    "EXECUTORS",
    "DataRef",
    "InlineExecutor",
    "RunSpec",
    "best_run",
    "config_hash",
    "data_fingerprint",
    "execute",
    "grid_points",
    "load_sweep",
    "make_row",
    "make_spec",
    "open_bars",
    "resolve_strategy",
    "run_jobs",
    "run_spec",
    "stored_run_ids",
    "strategy_label",
    "sweep",
    "write_row",
]
