"""The numba decorators of the kernels: compiled on first call, cached on disk, no GIL.

`kernel` marks a stage function: inlined into its caller at numba's IR level, so the whole
bar compiles as one function (a call per stage and bar would cost more than the stage), and
without reference counting (`_nrt=False`: a kernel never allocates; numba would otherwise
count a reference, atomically, for every array a stage is handed, on every bar).
`stage` marks a loop over bars (no allocation, no reference counting, called once per run
or per table growth); `grow` an allocation inlined into the `entry`, the function called
from Python that allocates the tables and drives the loop.

numba keys a cached function on its own file's time stamp only, so an edited stage file
would leave the fold that inlines it stale. The kernels are therefore cached in a folder
named by a digest of every source of this package: any change compiles afresh.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numba
from numba import njit

# batch.py holds no kernel: editing it must not recompile them
_SOURCES = sorted(p for p in Path(__file__).parent.glob("*.py") if p.name != "batch.py")
DIGEST = hashlib.sha256(b"".join(p.read_bytes() for p in _SOURCES)).hexdigest()[:16]
_BASE = os.environ.get("NUMBA_CACHE_DIR") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "mmsim", "numba"
)
CACHE_DIR = os.path.join(_BASE, f"fast-{DIGEST}")


def _cached(**options):
    def decorate(function):
        # numba picks a cache folder when the dispatcher is made: point it at ours meanwhile
        previous = numba.config.CACHE_DIR
        numba.config.CACHE_DIR = CACHE_DIR
        try:
            return njit(cache=True, nogil=True, error_model="numpy", **options)(function)
        finally:
            numba.config.CACHE_DIR = previous

    return decorate


kernel = _cached(inline="always", _nrt=False)
stage = _cached(_nrt=False)
grow = _cached(inline="always")
entry = _cached()
