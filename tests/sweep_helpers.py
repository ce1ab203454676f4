"""Strategy factories for sweep tests, importable by worker processes (tests/ is on sys.path)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import mmsim

GRID = {"half_spread_bps": [3.0, 8.0], "risk.max_leverage": [1.0, 3.0]}


def stall_once(*, marker: str, driver: int, stall: bool = False, **params) -> mmsim.Strategy:
    """fixed_spread; with stall=True, the first build in a worker process (not the driver, whose
    pid is `driver`) writes that worker's pid to `marker` and sleeps, waiting to be killed."""
    if stall and os.getpid() != driver and not os.path.exists(marker):
        tmp = f"{marker}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            f.write(str(os.getpid()))
        os.replace(tmp, marker)
        time.sleep(60)
    return mmsim.fixed_spread(**params)


def broken(*, half_spread_bps: float = 10.0, fail_above: float = 100.0) -> mmsim.Strategy:
    """fixed_spread whose quote function raises for half spreads above `fail_above` (a run error
    inside the fold, not at build time)."""
    inner = mmsim.fixed_spread(half_spread_bps=half_spread_bps)
    if half_spread_bps <= fail_above:
        return inner

    def update(state, inputs):
        raise ZeroDivisionError(f"broken strategy at {inputs.bar.ts}")

    return mmsim.Strategy("broken", inner.init, update, inner.params, inner.features)


def kill_when_marked(marker: Path, killed: list[int], allowed=None, timeout: float = 60.0):
    """Wait for a stalled worker to write its pid to `marker`, then SIGKILL it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if marker.exists():
            pid = int(marker.read_text())
            if allowed is None or pid in allowed():
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            return
        time.sleep(0.05)
