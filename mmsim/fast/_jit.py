"""The numba decorators of the kernels: compiled on first call, cached on disk, no GIL.

`kernel` marks a stage function: inlined into its caller at numba's IR level, so the whole
step compiles as one function (a call per stage and bar would cost more than the stage).
`entry` marks a function called from Python (the fold).
"""

from __future__ import annotations

from numba import njit

kernel = njit(cache=True, nogil=True, inline="always", error_model="numpy")
entry = njit(cache=True, nogil=True, error_model="numpy")
