"""Where the reference engine's time goes, on real 1-minute bars, measured in one run.

Avellaneda-Stoikov + basic_risk on one symbol (the settings of bench_engines.py), CPU time
(best of --repeat) per symbol-bar for:
  iterate   iter_steps alone: the Step and Bar values the fold reads
  bare      the fold with no-op stages and no records: no fills, the account unchanged, no
            quotes, no risk rule (the cost of composing four stages over frozen values)
  floor     the same with one fixed bid and ask per bar, placed and recorded: what the design
            costs per bar before any stage does work
  fold      the fold of `step.update` alone (no records)
  records   the fold and the recorder (the reference engine minus validation and frames)
  backtest  backtest(..., engine="reference") end to end
and the peak memory per symbol-bar of a whole reference run and its summary (the resident
set's growth sampled in a fresh process, as bench_engines.py does), with what stays held after
each part: the prepared run (validated bars and features), the fold and its records, the frames.

    python benchmarks/bench_reference.py [--bars 50000] [--repeat 3] [--no-memory]
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import mmsim
from mmsim.core.engine import initial_state, make_step
from mmsim.core.orders import NO_QUOTES, Quotes
from mmsim.core.risk import NO_RISK
from mmsim.core.setup import prepare_run
from mmsim.results.records import Recorder
from mmsim.strategies.base import stateless

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_engines import MEMORY_CHILD, REAL, child, load  # noqa: E402

MEMORY_PARTS = """
import gc, os, sys
import polars as pl, mmsim
from mmsim.core.setup import prepare_run
from mmsim.results.records import Recorder
PAGE = os.sysconf("SC_PAGE_SIZE")
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE
bars = pl.read_parquet(sys.argv[1])
strategy = mmsim.avellaneda_stoikov(vol_window=60)
risk = mmsim.basic_risk(max_leverage=3.0, emergency_drawdown=0.2)
mmsim.backtest(bars.head(2000), strategy, risk=risk, engine="reference")  # warm
gc.collect()
base = last = rss()
held = []
def part():
    global last
    gc.collect()
    now = rss()
    held.append((now - last) / bars.height)
    last = now
setup = prepare_run(bars, strategy, risk=risk)
part()
rec = Recorder(setup.symbols, setup.venue.maintenance_margin_rate, setup.interval_us)
state = setup.state0
for step_bars in setup.steps():
    state, out = setup.step.update(state, step_bars)
    rec.add(state, out)
part()
frames = rec.frames(setup.frame["ts"].unique(maintain_order=True).dt.epoch("us").to_numpy())
part()
print(" ".join(f"{x:.0f}" for x in held))
"""


def cpu(fn, repeat: int) -> float:
    best = math.inf
    for _ in range(repeat):
        t = time.process_time()
        fn()
        best = min(best, time.process_time() - t)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-memory", action="store_true")
    args = parser.parse_args()
    bars = load(REAL, args.bars)
    n = bars.height
    strategy = mmsim.avellaneda_stoikov(vol_window=60, gamma=0.001, kappa=0.5)
    risk = mmsim.basic_risk(max_leverage=3.0, emergency_drawdown=0.2, stop_equity_fraction=0.5)
    setup = prepare_run(bars, strategy, risk=risk)
    symbols, venue = setup.symbols, setup.venue

    close = float(bars["close"][0])
    fixed = Quotes(bids=((close * 0.5, 0.001),), asks=((close * 2.0, 0.001),))

    def no_op_step(quotes):
        noop = stateless("noop", lambda inputs: quotes)
        step = make_step(
            symbols=symbols,
            strategies=(noop,) * len(symbols),
            risk=NO_RISK,
            venue=venue,
            specs=setup.specs,
            initial_cash=setup.initial_cash,
            interval_us=setup.interval_us,
            matching=lambda resting, market, bars, symbols, specs, venue: (),
            accounting=lambda account, fills, step, venue: (account, (), None),
        )
        return step, initial_state(setup.state0.account, (noop,) * len(symbols), NO_RISK)

    bare_step, bare_state0 = no_op_step(NO_QUOTES)
    floor_step, floor_state0 = no_op_step(fixed)

    def iterate():
        for _ in setup.steps():
            pass

    def fold_with(step, state0, record):
        rec = Recorder(symbols, venue.maintenance_margin_rate, setup.interval_us)
        state = state0
        update = step.update
        for bars_t in setup.steps():
            state, out = update(state, bars_t)
            if record:
                rec.add(state, out)

    figures = {
        "iterate": cpu(iterate, args.repeat),
        "bare": cpu(lambda: fold_with(bare_step, bare_state0, False), args.repeat),
        "floor": cpu(lambda: fold_with(floor_step, floor_state0, True), args.repeat),
        "fold": cpu(lambda: fold_with(setup.step, setup.state0, False), args.repeat),
        "records": cpu(lambda: fold_with(setup.step, setup.state0, True), args.repeat),
        "backtest": cpu(
            lambda: mmsim.backtest(bars, strategy, risk=risk, engine="reference"), args.repeat
        ),
    }
    result = mmsim.backtest(bars, strategy, risk=risk, engine="reference")
    print(
        f"{n:,} symbol-bars of BTCUSDT 1m, A-S + basic_risk, reference engine; "
        f"{result.fills.height:,} fills; CPU time, best of {args.repeat}; "
        f"load {os.getloadavg()[0]:.2f}"
    )
    for name, t in figures.items():
        print(
            f"  {name:>8}: {n / t:10,.0f} symbol-bars/s  {t / n * 1e6:6.2f} us/symbol-bar"
            f"  ({t / figures['backtest']:.2f}x backtest)"
        )
    if not args.no_memory:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            path = str(Path(tmp) / "bars.parquet")
            bars.write_parquet(path)
            memory = child(MEMORY_CHILD, path, "reference")
            command = [sys.executable, "-c", MEMORY_PARTS, path]
            out = subprocess.run(command, capture_output=True, text=True, check=True)
            prepared, fold, frames = out.stdout.split()
        print(f"  peak memory per symbol-bar (reference, whole run + summary): {memory:,.0f} bytes")
        print(
            f"  held per symbol-bar after each part: prepared bars and features {prepared} bytes,"
            f" the fold's records {fold}, the result frames {frames}"
        )


if __name__ == "__main__":
    main()
