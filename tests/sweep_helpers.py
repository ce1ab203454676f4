"""Strategy factories for sweep tests, importable by worker processes (tests/ is on sys.path)."""

from __future__ import annotations

import os
import time

import mmsim


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
