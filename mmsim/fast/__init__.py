"""The compiled fast path: numba kernels mirroring the reference engine stage for stage.

One module per stage, as in `mmsim.core`: matching, account, placement, risk, strategies, and
`engine` (the fold over bars × symbols numpy columns). `plan` decides, without importing numba,
whether a backtest's every stage has a kernel (`fast_plan`); `run` prepares the columns, calls
the kernel and builds the same frames as the reference fold. numba is imported only when a fast
run starts, so `import mmsim` stays as quick as without it.
"""

from mmsim.fast.plan import FastPlan, fast_plan

__all__ = ["FastPlan", "fast_plan"]
