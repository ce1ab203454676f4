"""Executors for batches of runs: in process, a local process pool, a Dask cluster, or a caller's
own `concurrent.futures.Executor`, with the bars shipped to each worker once and crash recovery.

The bars travel once: in the pool's initializer, by `Client.scatter` (broadcast), or as a
Parquet path every worker reads itself. Work goes out in batches of run specs (one spec, or many
grid points that one worker runs together on the compiled path); a pool worker that dies fails
its batch, the pool is replaced and each run of the batch is retried up to `_MAX_ATTEMPTS` times.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import tempfile
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import polars as pl

from mmsim.research.options import RunOptions
from mmsim.research.progress import progress_bar
from mmsim.research.spec import RunSpec, strategy_label
from mmsim.research.worker import DataRef, install_data, run_batch, run_spec

# retries of a run whose worker process died (a pool crash fails every run in flight at once)
_MAX_ATTEMPTS = 3

Batch = tuple[RunSpec, ...]


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

    def __init__(self, options: RunOptions, bars: pl.DataFrame, fingerprint: str, path: str | None):
        self.kind = options.kind
        # points of a batch run from threads only in the driver; a worker process runs one
        self.threads = (options.workers or os.cpu_count() or 1) if self.kind == "inprocess" else 1
        self.bars, self.fingerprint, self.path = bars, fingerprint, path
        self.workers = options.workers
        self.client = None
        self.own_client = False
        self.generation = 0
        self.scratch = None
        if self.kind == "inprocess":
            self.executor: Executor = InlineExecutor()
            self.data: Any = bars
            self.slots = 1
        elif self.kind == "processes":
            self._start_pool()
        elif self.kind == "dask":
            self._start_dask(options.scheduler)
        else:
            self._adopt(options.executor)

    @property
    def parallelism(self) -> int:
        """How many batches run at once (half the slots kept in flight)."""
        return max(1, self.slots // 2)

    def _start_pool(self) -> None:
        import multiprocessing

        n = self.workers or os.cpu_count() or 1
        # spawn, not fork: forking a process that runs Polars' thread pool can deadlock
        ctx = multiprocessing.get_context("spawn")
        if self.path is not None:
            self.executor = ProcessPoolExecutor(n, mp_context=ctx)
        else:
            self.executor = ProcessPoolExecutor(
                n, mp_context=ctx, initializer=install_data, initargs=(self.fingerprint, self.bars)
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

    def _adopt(self, executor: Executor) -> None:
        """A caller's own Executor: the bars go as a Parquet path, read once per process."""
        path = self.path
        if path is None:
            self.scratch = tempfile.TemporaryDirectory(prefix="mmsim-sweep-")
            path = str(Path(self.scratch.name) / f"bars-{self.fingerprint}.parquet")
            self.bars.write_parquet(path)
        self.executor, self.data = executor, DataRef(self.fingerprint, path)
        self.slots = 2 * (getattr(executor, "_max_workers", None) or os.cpu_count() or 1)

    def submit(self, batch: Batch) -> tuple[Future, int]:
        if len(batch) == 1:
            return self.executor.submit(_one, self.data, batch[0]), self.generation
        return self.executor.submit(run_batch, self.data, batch, self.threads), self.generation

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
        if self.kind == "foreign":  # the caller owns the executor
            if self.scratch is not None:
                self.scratch.cleanup()
        elif self.kind == "dask":
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


def _one(data: Any, spec: RunSpec) -> list[dict[str, Any]]:
    return [run_spec(data, spec)]


def _lost(spec: RunSpec, exc: BaseException) -> dict[str, Any]:
    return {
        "run_id": spec.run_id,
        "status": "failed",
        "elapsed_s": 0.0,
        "error": f"{type(exc).__name__}: {exc} (worker lost)",
    }


class _Driver:
    """One `execute` call's state: the queue of batches, the batches in flight, retries."""

    def __init__(self, backend: _Backend, queue: deque[Batch], finish, limit_reached, bar):
        self.backend, self.queue, self.finish = backend, queue, finish
        self.limit_reached, self.bar = limit_reached, bar
        self.task = bar.add_task("sweep", total=sum(map(len, queue)), failed=0) if bar else None
        self.inflight: dict[Future, tuple[Batch, int]] = {}
        self.attempts: dict[str, int] = {}
        self.failed = self.breaks = 0

    def fill(self) -> None:
        """Submit batches until the backend's slots are full."""
        while self.queue and len(self.inflight) < self.backend.slots:
            batch = self.queue.popleft()
            try:
                future, generation = self.backend.submit(batch)
            except BrokenProcessPool:
                self.backend.recover(self.backend.generation)
                future, generation = self.backend.submit(batch)
            self.inflight[future] = (batch, generation)

    def collect(self) -> None:
        """Wait for at least one batch and record its runs (or requeue them after a crash)."""
        done, _ = wait(list(self.inflight), return_when=FIRST_COMPLETED)
        for future in done:
            batch, generation = self.inflight.pop(future)
            try:
                outcomes = future.result()
            except BaseException as exc:
                outcomes = self._failed(batch, generation, exc)
            for spec, outcome in zip(batch, outcomes, strict=True):
                if outcome is None:
                    continue  # requeued
                if self.limit_reached():
                    return
                self._record(spec, outcome)

    def _failed(self, batch: Batch, generation: int, exc: BaseException) -> list:
        """Outcomes of a batch whose future raised: None for each run requeued after a crash."""
        if isinstance(exc, KeyboardInterrupt):
            raise exc
        if not isinstance(exc, BrokenProcessPool):
            return [_lost(spec, exc) for spec in batch]
        if generation == self.backend.generation:
            self.breaks += 1
            if self.breaks > 2 * _MAX_ATTEMPTS:
                raise RuntimeError(
                    f"worker processes died {self.breaks} times in a row without finishing a "
                    "run (a script that starts a process pool needs `if __name__ == '__main__':`)"
                ) from exc
        self.backend.recover(generation)
        outcomes: list = []
        for spec in batch:
            self.attempts[spec.run_id] = self.attempts.get(spec.run_id, 0) + 1
            if self.attempts[spec.run_id] < _MAX_ATTEMPTS:
                self.queue.appendleft((spec,))  # retried alone: one poison run fails alone
                outcomes.append(None)
            else:
                outcomes.append(_lost(spec, exc))
        return outcomes

    def _record(self, spec: RunSpec, outcome: dict[str, Any]) -> None:
        self.finish(spec, outcome)
        self.breaks = 0
        self.failed += outcome["status"] != "ok"
        if self.bar is not None:
            self.bar.update(self.task, advance=1, failed=self.failed)

    def run(self) -> bool:
        """Run until the queue is empty or the limit is reached; True if work was left."""
        while (self.queue or self.inflight) and not self.limit_reached():
            self.fill()
            self.collect()
        return bool(self.queue or self.inflight)


MAX_BATCH = 64


def batch_specs(
    specs: Sequence[RunSpec], parallelism: int, max_runs: int | None = None
) -> list[Batch]:
    """Consecutive specs grouped into batches: one per reference-engine run; compiled-path runs
    in batches of up to MAX_BATCH, at least two batches per worker so the workers stay even,
    and none larger than `max_runs` (a batch past the limit would be computed for nothing)."""
    fast = [s for s in specs if s.engine != "reference"]
    size = max(1, min(MAX_BATCH, -(-len(fast) // (2 * parallelism))))
    if max_runs is not None:
        size = max(1, min(size, max_runs))
    batches: list[Batch] = []
    run: list[RunSpec] = []
    for spec in specs:
        if spec.engine == "reference":
            if run:
                batches.append(tuple(run))
                run = []
            batches.append((spec,))
            continue
        run.append(spec)
        if len(run) == size:
            batches.append(tuple(run))
            run = []
    if run:
        batches.append(tuple(run))
    return batches


def _picklable(obj: Any) -> bool:
    try:
        pickle.dumps(obj)
    except Exception:
        return False
    return True


def _backend(options: RunOptions, bars, fingerprint, path, first: RunSpec) -> _Backend:
    if options.kind == "processes" and not _picklable(first.strategy):
        raise ValueError(
            f"strategy {strategy_label(first.strategy)} cannot be sent to worker processes "
            "(define the factory at module level, or use executor='inprocess')"
        )
    return _Backend(options, bars, fingerprint, path)


def execute(
    specs: Sequence[RunSpec],
    bars: pl.DataFrame,
    *,
    fingerprint: str,
    path: str | None = None,
    options: RunOptions | None = None,
    max_runs: int | None = None,
    on_result: Callable[[RunSpec, dict[str, Any]], None] | None = None,
    stored: int = 0,
) -> dict[str, dict[str, Any]]:
    """Run specs through an executor, calling `on_result(spec, outcome)` as each completes.

    Returns {run_id: outcome}. Stops after `max_runs` completed runs, cancelling the rest.
    Runs on the compiled path go out in batches (`batch_specs`), the others one by one.
    """
    options = options or RunOptions()
    outcomes: dict[str, dict[str, Any]] = {}

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
    runnable = [s for s in specs if s.error is None]
    if not runnable or limit_reached():
        return outcomes
    backend = _backend(options, bars, fingerprint, path, runnable[0])
    grouped = batch_specs(runnable, backend.parallelism, max_runs)
    cancelled = True
    try:
        with progress_bar(options.progress, stored, label=options.progress_label) as bar:
            cancelled = _Driver(backend, deque(grouped), finish, limit_reached, bar).run()
    finally:
        backend.close(cancel=cancelled)
    return outcomes


__all__ = ["MAX_BATCH", "InlineExecutor", "batch_specs", "execute"]
