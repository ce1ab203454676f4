"""The numba decorators of the kernels: compiled on first call, cached on disk, no GIL.

`kernel` marks a stage function: inlined into its caller at numba's IR level, so the whole
bar compiles as one function (a call per stage and bar would cost more than the stage), and
without reference counting (`_nrt=False`: a kernel never allocates; numba would otherwise
count a reference, atomically, for every array a stage is handed, on every bar).
`stage` marks a loop over bars (no allocation, no reference counting, called once per run
or per table growth); `grow` an allocation inlined into the `entry`, the function called
from Python that allocates the tables and drives the loop.
"""

from __future__ import annotations

from numba import njit

kernel = njit(cache=True, nogil=True, inline="always", error_model="numpy", _nrt=False)
stage = njit(cache=True, nogil=True, error_model="numpy", _nrt=False)
grow = njit(cache=True, nogil=True, inline="always", error_model="numpy")
entry = njit(cache=True, nogil=True, error_model="numpy")
